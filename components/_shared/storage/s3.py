"""The ``s3://`` backend: MinIO client, bounded retries, verified transfers.

Configuration comes only from the environment (on the cluster: a Kubernetes Secret mounted with
``kfp-kubernetes`` ``use_secret_as_env``; never pipeline parameters):

    MINIO_ENDPOINT     host:port (an ``http://`` / ``https://`` prefix is accepted and sets the default
                       of MINIO_SECURE)
    MINIO_ACCESS_KEY   access key; MINIO_SECRET_KEY its secret (both or neither: anonymous access)
    MINIO_SECURE       true (default) / false
    MINIO_REGION       optional; saves one GetBucketLocation request per bucket

Every call is bounded (``components/_shared/storage/limits.py`` has the table of defaults and the
``YOLO_KFP_S3_*`` / ``YOLO_KFP_STORAGE_*`` variables that override them): a connect timeout, a
time-to-first-byte (read) timeout, a minimum transfer speed watched on the socket, a number of
attempts and a retry budget after which no retry starts. Connection refused, timeouts, stalls, HTTP
5xx and throttling (SlowDown) are retried; wrong credentials, access denied, a missing bucket or
object are not, and each has its own one-line ``StorageError`` subclass naming the endpoint and the
object. The secret key is kept out of every message, log line and ``repr``.

``S3Backend`` is the ``s3://`` entry of the scheme registry (``components._shared.storage``): the
``Backend`` interface over the objects under one ``s3://bucket/prefix/``; ``Storage`` is the client
under it, also used directly where a caller needs bucket-level calls (tests, set-up).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import random
import re
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from components._shared.errors import ConfigError, StorageError
from components._shared.storage.base import (
    CHUNK,
    FILE_MODE,
    Entry,
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StoredFile,
    file_digests,
    json_bytes,
    safe_relpath,
)
from components._shared.storage.base import content_type as _content_type
from components._shared.storage.limits import (
    DEFAULT_RETRY_BUDGET_S,
    ENV_CONNECT_TIMEOUT,
    ENV_READ_TIMEOUT,
    ENV_RETRY_BUDGET,
    TransferCancelled,
    TransferLimits,
    TransferStalled,
    bounded_pool_manager,
    cancel_scope,
    cancelled,
    env_seconds,
)

log = logging.getLogger(__name__)

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)

_CREDENTIAL_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "InvalidSecurity"}
)
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "SlowDownRead",
        "SlowDownWrite",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "RequestTimeout",
        "InternalError",
        "ServiceUnavailable",
        "XMinioServerNotInitialized",
    }
)
_PLAIN_MD5 = re.compile(r"^[0-9a-f]{32}$")
# Server-side encrypted objects have ETags that are not the MD5 of their content: compare sizes only.
_SSE_HEADERS = ("x-amz-server-side-encryption", "x-amz-server-side-encryption-customer-algorithm")


def _etag_is_md5(etag: str, headers: Any) -> bool:
    """True when ``etag`` can be compared with a local MD5 (single part, no server-side encryption)."""
    return bool(_PLAIN_MD5.match(etag or "")) and not any(headers and headers.get(h) for h in _SSE_HEADERS)


class CredentialsError(StorageError):
    """The endpoint rejected the access key or the signature (wrong MINIO_ACCESS_KEY / MINIO_SECRET_KEY)."""


class AccessDeniedError(StorageError):
    """The credentials are valid but have no permission for the bucket or object."""


class BucketNotFoundError(StorageError):
    """The bucket named in the URI does not exist."""


class EndpointUnavailableError(StorageError):
    """Transient failures (refused, timeouts, 5xx, throttling) persisted through every retry."""


# ---------------------------------------------------------------- URIs and settings


def is_s3_uri(value: str | os.PathLike[str]) -> bool:
    """True for ``s3://...`` strings (anything else is a local path)."""
    return isinstance(value, str) and value.startswith("s3://")


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into ``(bucket, key)``; the key may be empty (the whole bucket).

    Raises:
        ConfigError: the string is not an ``s3://bucket[/key]`` URI, or it carries credentials.
    """
    if not is_s3_uri(uri):
        raise ConfigError(f"{uri!r} is not an S3 URI: expected s3://bucket/key")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket or "/" in bucket:
        raise ConfigError(f"{uri!r} has no bucket name: expected s3://bucket/key")
    if "@" in bucket:  # s3://user:password@bucket/...: show the host part only
        raise ConfigError(
            f"'s3://***@{bucket.rpartition('@')[2]}/{key}' carries credentials: S3 credentials come only "
            "from MINIO_ACCESS_KEY / MINIO_SECRET_KEY (on the cluster, the Kubernetes Secret)"
        )
    return bucket, key


def _env_flag(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={value!r} is not a boolean: use true or false")


@dataclass(frozen=True)
class StorageSettings:
    """Connection settings of the MinIO/S3 endpoint; the secret never appears in ``repr``."""

    endpoint: str
    access_key: str | None = None
    secret_key: str | None = field(default=None, repr=False)
    secure: bool = True
    region: str | None = None

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> StorageSettings:
        """Read ``MINIO_*`` from the environment.

        Raises:
            ConfigError: MINIO_ENDPOINT is missing or carries credentials, or only one of the two keys is set.
        """
        env = dict(os.environ if environ is None else environ)
        endpoint = env.get("MINIO_ENDPOINT", "").strip()
        if not endpoint:
            raise ConfigError(
                "MINIO_ENDPOINT is not set: export MINIO_ENDPOINT=host:port and MINIO_ACCESS_KEY/"
                "MINIO_SECRET_KEY (on the cluster they come from the Kubernetes Secret)"
            )
        scheme, sep, authority = endpoint.rpartition("://")
        _, at, host = authority.partition("/")[0].rpartition("@")
        if at:  # a password here would reach every message that names the endpoint
            shown = f"{scheme}{sep}***@{host}"
            raise ConfigError(
                f"MINIO_ENDPOINT={shown!r} carries credentials: set it to host:port only and put them in "
                "MINIO_ACCESS_KEY / MINIO_SECRET_KEY"
            )
        secure_default = True
        for scheme, default in (("https://", True), ("http://", False)):
            if endpoint.startswith(scheme):
                endpoint, secure_default = endpoint[len(scheme) :], default
        endpoint = endpoint.rstrip("/")
        if "/" in endpoint:
            raise ConfigError(f"MINIO_ENDPOINT={endpoint!r} has a path: use host:port only")
        secure_raw = env.get("MINIO_SECURE", "").strip()
        secure = _env_flag("MINIO_SECURE", secure_raw) if secure_raw else secure_default
        access, secret = env.get("MINIO_ACCESS_KEY") or None, env.get("MINIO_SECRET_KEY") or None
        if bool(access) != bool(secret):
            missing = "MINIO_SECRET_KEY" if access else "MINIO_ACCESS_KEY"
            raise ConfigError(
                f"{missing} is not set: set both MINIO_ACCESS_KEY and MINIO_SECRET_KEY, or neither"
            )
        region = env.get("MINIO_REGION", "").strip() or None
        return cls(endpoint=endpoint, access_key=access, secret_key=secret, secure=secure, region=region)

    @property
    def url(self) -> str:
        """``http(s)://host:port`` of the endpoint (no credentials)."""
        return f"{'https' if self.secure else 'http'}://{self.endpoint}"


def storage_configured(environ: dict[str, str] | None = None) -> bool:
    """True when ``MINIO_ENDPOINT`` is set (the local run then reads/publishes through S3)."""
    env = os.environ if environ is None else environ
    return bool(env.get("MINIO_ENDPOINT", "").strip())


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential back-off: ``attempts`` tries, delays ``base * 2**n`` (capped, jittered).

    ``deadline_s`` is the retry budget: no retry starts when its back-off would end later than this
    after the call began (the attempt in flight is bounded by the ``TransferLimits`` of the client).
    """

    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 4.0
    deadline_s: float = DEFAULT_RETRY_BUDGET_S

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> RetryPolicy:
        """Defaults, overridden by ``YOLO_KFP_STORAGE_ATTEMPTS`` / ``_BACKOFF_S`` and ``YOLO_KFP_S3_RETRY_BUDGET``."""
        env = os.environ if environ is None else environ
        try:
            attempts = int(env.get("YOLO_KFP_STORAGE_ATTEMPTS", cls.attempts))
            base = float(env.get("YOLO_KFP_STORAGE_BACKOFF_S", cls.base_delay_s))
        except ValueError as err:
            raise ConfigError(f"YOLO_KFP_STORAGE_ATTEMPTS/_BACKOFF_S must be numbers ({err})") from err
        if attempts < 1 or base < 0:
            raise ConfigError("YOLO_KFP_STORAGE_ATTEMPTS must be >= 1 and YOLO_KFP_STORAGE_BACKOFF_S >= 0")
        budget = env_seconds(env, ENV_RETRY_BUDGET, DEFAULT_RETRY_BUDGET_S, allow_zero=True)
        return cls(attempts=attempts, base_delay_s=base, deadline_s=budget)

    def delay(self, failed_attempts: int) -> float:
        """Back-off before the next try after ``failed_attempts`` failures (jittered, at most max_delay_s)."""
        nominal = min(self.max_delay_s, self.base_delay_s * 2 ** (failed_attempts - 1))
        return nominal * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not crypto

    def worst_case_sleep_s(self) -> float:
        """Upper bound of the total back-off of one call (what a dead endpoint costs at most in sleeps)."""
        total = sum(min(self.max_delay_s, self.base_delay_s * 2 ** (n - 1)) for n in range(1, self.attempts))
        return min(total, self.deadline_s)


# ---------------------------------------------------------------- objects and hashing


@dataclass(frozen=True)
class ObjectInfo:
    """One listed object: bucket, key, size in bytes and ETag (quotes stripped)."""

    bucket: str
    key: str
    size: int
    etag: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def _clean_etag(etag: str | None) -> str:
    return (etag or "").strip().strip('"')


def _cause(err: BaseException, kind: type[E]) -> E | None:
    """``err`` or the first exception of type ``kind`` it wraps (urllib3 wraps socket errors in its own)."""
    seen: set[int] = set()
    todo: list[BaseException] = [err]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, kind):
            return e
        todo += [
            a for a in (*getattr(e, "args", ()), e.__cause__, e.__context__) if isinstance(a, BaseException)
        ]
    return None


def _short(err: BaseException) -> str:
    """A one-line reason without object reprs (``<urllib3.connection... at 0x..>``)."""
    text = re.sub(r"<[^>]*>:?\s*", "", str(err)) or err.__class__.__name__
    return " ".join(text.split())[:300]


# ---------------------------------------------------------------- the client


class Storage:
    """The MinIO client with retries and verified transfers; thread-safe (downloads run in a pool).

    Args:
        settings: connection settings; ``StorageSettings.from_env()`` when omitted.
        retry: back-off policy; ``RetryPolicy.from_env()`` when omitted.
        workers: parallel transfers in ``download_objects``.
        limits: timeouts and minimum speed of every request; ``TransferLimits.from_env()`` when omitted.
        connect_timeout_s: overrides ``limits.connect_timeout_s``.
        read_timeout_s: overrides ``limits.read_timeout_s``.
    """

    def __init__(
        self,
        settings: StorageSettings | None = None,
        *,
        retry: RetryPolicy | None = None,
        workers: int = 8,
        limits: TransferLimits | None = None,
        connect_timeout_s: float | None = None,
        read_timeout_s: float | None = None,
    ) -> None:
        import dataclasses

        import certifi
        from minio import Minio

        self.settings = settings or StorageSettings.from_env()
        self.retry = retry or RetryPolicy.from_env()
        self.workers = max(1, int(workers))
        limits = limits or TransferLimits.from_env()
        overrides = {"connect_timeout_s": connect_timeout_s, "read_timeout_s": read_timeout_s}
        self.limits = dataclasses.replace(limits, **{k: v for k, v in overrides.items() if v is not None})
        # urllib3's own retries are off: this class owns the retry budget, so a dead endpoint ends in
        # bounded time with one message instead of minutes of hidden retries; the pool's connections
        # watch every request's progress (limits.py), so a trickling endpoint cannot hang a call either.
        http = bounded_pool_manager(
            self.limits,
            maxsize=max(10, self.workers),
            ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        )
        s = self.settings
        try:
            self._client = Minio(
                s.endpoint,
                access_key=s.access_key,
                secret_key=s.secret_key,
                secure=s.secure,
                region=s.region,
                http_client=http,
            )
        except ValueError as err:
            raise ConfigError(f"MINIO_ENDPOINT={s.endpoint!r} is not usable: {_short(err)}") from err

    @classmethod
    def from_env(cls, **kwargs: Any) -> Storage:
        """A client configured from ``MINIO_*`` (see the module docstring)."""
        return cls(StorageSettings.from_env(), **kwargs)

    def __repr__(self) -> str:
        return f"Storage(endpoint={self.settings.url!r}, workers={self.workers})"

    @property
    def endpoint(self) -> str:
        """The endpoint URL used in messages (never with credentials)."""
        return self.settings.url

    # ------------------------------------------------------------ retries and error mapping

    def _call(self, op: str, bucket: str, key: str | None, fn: Callable[[], T]) -> T:
        """Run ``fn`` with bounded retries on transient failures; map the rest to one-line errors."""
        what = f"s3://{bucket}/{key}" if key is not None else f"s3://{bucket}"
        start = time.monotonic()
        failed = 0
        while True:
            try:
                return fn()
            except Exception as err:
                if cancelled() or _cause(err, TransferCancelled):
                    raise StorageError(f"{self.endpoint}: {op} {what}: cancelled") from err
                reason = self._transient_reason(err)
                if reason is None:
                    raise self._permanent_error(err, op, bucket, what) from err
                failed += 1
                elapsed = time.monotonic() - start
                delay = self.retry.delay(failed)
                if failed >= self.retry.attempts or elapsed + delay > self.retry.deadline_s:
                    raise EndpointUnavailableError(
                        f"{self.endpoint}: {op} {what} failed after {failed} attempt(s) in {elapsed:.1f}s: "
                        f"{reason} (is the endpoint up, and are MINIO_ENDPOINT/MINIO_SECURE right?)"
                    ) from None
                log.warning(
                    "%s: %s %s: %s; retry %d/%d in %.1fs",
                    self.endpoint,
                    op,
                    what,
                    reason,
                    failed,
                    self.retry.attempts - 1,
                    delay,
                )
                time.sleep(delay)

    def _transient_reason(self, err: BaseException) -> str | None:
        """A short reason when ``err`` is worth retrying, else None."""
        import urllib3.exceptions as u3
        from minio.error import InvalidResponseError, S3Error, ServerError

        stall = _cause(err, TransferStalled)
        if stall is not None:
            return str(stall)
        if isinstance(err, u3.ConnectTimeoutError) and not isinstance(err, u3.NewConnectionError):
            return f"no connection within {self.limits.connect_timeout_s:g}s ({ENV_CONNECT_TIMEOUT})"
        if isinstance(err, u3.ReadTimeoutError) or _cause(err, TimeoutError):
            return (
                f"no answer within the read timeout of {self.limits.read_timeout_s:g}s ({ENV_READ_TIMEOUT})"
            )
        if isinstance(err, S3Error):
            status = getattr(err.response, "status", 0) or 0
            if err.code in _TRANSIENT_CODES or status >= 500 or status == 429:
                return f"{err.code} (HTTP {status})"
            return None
        if isinstance(err, ServerError):
            return f"HTTP {err.status_code}" if err.status_code >= 500 or err.status_code == 429 else None
        if isinstance(err, InvalidResponseError):
            code = int(getattr(err, "_code", 0) or 0)
            return f"HTTP {code}" if code >= 500 or code == 429 else None
        if isinstance(err, u3.SSLError):
            return None
        if isinstance(err, u3.NewConnectionError):
            return f"cannot connect ({_short(err).split(': ')[-1]})"
        if isinstance(err, u3.HTTPError | ConnectionError | TimeoutError):
            return _short(err)
        return None

    def _permanent_error(self, err: Exception, op: str, bucket: str, what: str) -> Exception:
        from http.client import HTTPException
        from xml.etree.ElementTree import ParseError

        import urllib3.exceptions as u3
        from minio.error import InvalidResponseError, MinioException, S3Error, ServerError

        ep = self.endpoint
        if isinstance(err, S3Error):
            code = err.code or "Error"
            if code in _CREDENTIAL_CODES:
                return CredentialsError(
                    f"{ep}: credentials rejected ({code}) for {what}: check MINIO_ACCESS_KEY and MINIO_SECRET_KEY"
                )
            if code == "AccessDenied":
                return AccessDeniedError(
                    f"{ep}: access denied to {what}: the MINIO_ACCESS_KEY user lacks permission "
                    "(or the credentials are wrong); check its policy for this bucket"
                )
            if code == "NoSuchBucket":
                return BucketNotFoundError(
                    f"{ep}: bucket '{bucket}' does not exist ({op} {what}): create it or fix the URI"
                )
            if code in ("NoSuchKey", "NoSuchObject"):
                return ObjectNotFoundError(f"{ep}: object {what} not found: check the URI")
            return StorageError(f"{ep}: {op} {what} failed: {code}: {_short(Exception(err.message or ''))}")
        if isinstance(err, u3.SSLError):
            return StorageError(
                f"{ep}: TLS failed for {what} ({_short(err)}): set MINIO_SECURE=false for a plain-HTTP endpoint"
            )
        if isinstance(err, ServerError | InvalidResponseError):
            return StorageError(f"{ep}: {op} {what} failed: {_short(err)}")
        if isinstance(err, ValueError) and "XML" in str(err):  # minio found no S3 XML in the reply
            return StorageError(f"{ep}: {op} {what} failed: not an S3 answer ({_short(err)})")
        if isinstance(err, ValueError):  # minio's argument checks (bad bucket or object name)
            return ConfigError(f"{what}: {_short(err)}")
        if isinstance(err, StorageError | ConfigError):
            return err
        if isinstance(err, OSError):
            return StorageError(f"{op} {what}: local file error: {_short(err)}")
        if isinstance(err, MinioException | u3.HTTPError | HTTPException | ParseError | UnicodeError):
            # A reply that is not S3 (an HTML page, truncated XML, a proxy's error): one line, not a traceback.
            return StorageError(f"{ep}: {op} {what} failed: not an S3 answer ({_short(err)})")
        return err

    # ------------------------------------------------------------ buckets and listings

    def ensure_bucket(self, bucket: str) -> None:
        """Create ``bucket`` when it does not exist (set-up and tests; stages never create buckets)."""

        def create() -> None:
            if not self._client.bucket_exists(bucket):
                self._client.make_bucket(bucket)

        self._call("create bucket", bucket, None, create)

    def list_objects(self, bucket: str, prefix: str = "") -> list[ObjectInfo]:
        """Every object under ``prefix`` (recursive; folder markers left out), sorted by key.

        A missing bucket raises ``BucketNotFoundError``; an empty listing is returned as ``[]``.
        """

        def listing() -> list[ObjectInfo]:
            out = []
            for obj in self._client.list_objects(bucket, prefix=prefix or None, recursive=True):
                if obj.is_dir or obj.object_name.endswith("/"):
                    continue
                out.append(ObjectInfo(bucket, obj.object_name, int(obj.size or 0), _clean_etag(obj.etag)))
            return sorted(out, key=lambda o: o.key)

        return self._call("list", bucket, prefix, listing)

    def stat_object(self, bucket: str, key: str) -> ObjectInfo:
        """Size and ETag of one object; ``ObjectNotFoundError`` when it is missing."""

        def stat() -> ObjectInfo:
            st = self._client.stat_object(bucket, key)
            return ObjectInfo(bucket, key, int(st.size or 0), _clean_etag(st.etag))

        return self._call("stat", bucket, key, stat)

    def object_exists(self, bucket: str, key: str) -> bool:
        """True when the object exists (a missing bucket still raises ``BucketNotFoundError``)."""
        try:
            self.stat_object(bucket, key)
        except ObjectNotFoundError:
            return False
        return True

    def remove_object(self, bucket: str, key: str) -> None:
        """Delete one object (no error when it is already gone)."""
        self._call("delete", bucket, key, lambda: self._client.remove_object(bucket, key))

    # ------------------------------------------------------------ downloads

    def download_object(
        self, obj: ObjectInfo, dest: Path, *, on_bytes: Callable[[int], None] | None = None
    ) -> int:
        """Download one object to ``dest`` atomically; verify size (and MD5 for single-part ETags).

        Returns:
            The number of bytes written.
        """
        dest = Path(dest)

        def download() -> int:
            dest.parent.mkdir(parents=True, exist_ok=True)  # inside the call: a local error is one line too
            return self._stream_to(obj, dest, on_bytes)

        return self._call("download", obj.bucket, obj.key, download)

    def _stream_to(self, obj: ObjectInfo, dest: Path, on_bytes: Callable[[int], None] | None) -> int:
        """Stream into a temp file beside ``dest``; verify it, then rename it over ``dest``."""
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        md5 = hashlib.md5(usedforsecurity=False)
        size = 0
        try:
            with os.fdopen(fd, "wb") as fh:
                resp = self._client.get_object(obj.bucket, obj.key)
                check_md5 = _etag_is_md5(obj.etag, resp.headers)
                try:
                    for chunk in resp.stream(CHUNK):
                        fh.write(chunk)
                        md5.update(chunk)
                        size += len(chunk)
                        if on_bytes:
                            on_bytes(len(chunk))
                finally:
                    resp.close()
                    resp.release_conn()
            self._verify_download(obj, size, md5.hexdigest() if check_md5 else None)
            os.chmod(tmp, FILE_MODE)
            os.replace(tmp, dest)
        except BaseException:
            if on_bytes and size:
                on_bytes(-size)  # a retried download counts its bytes once
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise
        return size

    def _verify_download(self, obj: ObjectInfo, size: int, md5: str | None) -> None:
        if size != obj.size or (md5 is not None and md5 != obj.etag):
            raise StorageError(
                f"{self.endpoint}: download of {obj.uri} is corrupt: got {size} bytes md5 {md5}, "
                f"expected {obj.size} bytes ETag {obj.etag} (the object changed during the download?)"
            )

    def download_objects(
        self, items: Sequence[tuple[ObjectInfo, Path]], *, desc: str = "download", progress: bool = True
    ) -> int:
        """Download many objects in parallel (``self.workers`` threads) with a tqdm byte counter.

        When one download fails (or the caller is interrupted: KeyboardInterrupt, SystemExit from a
        SIGTERM handler) the others stop at their next socket read and this returns only once every
        worker has ended, so the caller can remove the destination folder knowing nothing writes to it.

        Returns:
            Total bytes written.
        """
        from tqdm import tqdm

        total = sum(o.size for o, _ in items)
        lock = threading.Lock()
        stop = threading.Event()

        def one(obj: ObjectInfo, dest: Path, count: Callable[[int], None]) -> int:
            if stop.is_set():
                raise StorageError(f"{self.endpoint}: download {obj.uri}: cancelled")
            with cancel_scope(stop):
                return self.download_object(obj, dest, on_bytes=count)

        with tqdm(
            total=total, unit="B", unit_scale=True, desc=desc, disable=not progress, mininterval=1.0
        ) as bar:

            def count(n: int) -> None:
                with lock:
                    bar.update(n)

            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="s3-get") as pool:
                futures = [pool.submit(one, o, d, count) for o, d in items]
                try:
                    return sum(f.result() for f in futures)
                except BaseException:
                    stop.set()
                    for f in futures:
                        f.cancel()
                    raise

    # ------------------------------------------------------------ uploads and JSON

    def upload_file(
        self, path: Path, bucket: str, key: str, *, content_type: str | None = None
    ) -> StoredFile:
        """Upload a file and verify it: size by ``stat``, MD5 against a single-part ETag; sha256 recorded.

        The sha256 is also stored as object metadata (``x-amz-meta-sha256``) for later checks.
        """
        path = Path(path)
        size, sha, md5 = file_digests(path)
        ctype = content_type or _content_type(path.name)

        def put() -> str:
            self._client.fput_object(bucket, key, str(path), content_type=ctype, metadata={"sha256": sha})
            st = self._client.stat_object(bucket, key)
            etag = _clean_etag(st.etag)
            if int(st.size or 0) != size or (_etag_is_md5(etag, st.metadata) and etag != md5):
                raise StorageError(
                    f"{self.endpoint}: upload of {path} to s3://{bucket}/{key} failed verification: "
                    f"stored {st.size} bytes ETag {etag}, local {size} bytes md5 {md5}"
                )
            return etag

        etag = self._call("upload", bucket, key, put)
        return StoredFile(uri=f"s3://{bucket}/{key}", size=size, sha256=sha, etag=etag)

    def put_bytes(self, data: bytes, bucket: str, key: str, *, content_type: str) -> StoredFile:
        """Upload a small in-memory object (single PUT) and verify its ETag."""
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        sha = hashlib.sha256(data).hexdigest()

        def put() -> str:
            res = self._client.put_object(
                bucket, key, io.BytesIO(data), len(data), content_type=content_type, metadata={"sha256": sha}
            )
            etag = _clean_etag(res.etag)
            if _etag_is_md5(etag, getattr(res, "http_headers", None)) and etag != md5:
                raise StorageError(
                    f"{self.endpoint}: upload of s3://{bucket}/{key} failed verification (ETag)"
                )
            return etag

        etag = self._call("upload", bucket, key, put)
        return StoredFile(uri=f"s3://{bucket}/{key}", size=len(data), sha256=sha, etag=etag)

    def put_json(self, obj: Any, bucket: str, key: str) -> StoredFile:
        """Write a small JSON document (indented, sorted keys)."""
        return self.put_bytes(json_bytes(obj), bucket, key, content_type="application/json")

    def get_bytes(self, bucket: str, key: str) -> bytes:
        """Read a small object into memory; ``ObjectNotFoundError`` when missing."""

        def get() -> bytes:
            resp = self._client.get_object(bucket, key)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()

        return self._call("read", bucket, key, get)

    def get_json(self, bucket: str, key: str) -> Any:
        """Read and parse a JSON object; ``ObjectNotFoundError`` when missing, ``StorageError`` when invalid."""
        data = self.get_bytes(bucket, key)
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise StorageError(f"{self.endpoint}: s3://{bucket}/{key} is not valid JSON ({err})") from err


# ---------------------------------------------------------------- the backend: objects under s3://bucket/prefix/


class S3Backend:
    """The ``Backend`` interface over the objects under ``s3://bucket/prefix/``.

    Args:
        storage: the client (``Storage.from_env()`` in ``from_uri`` unless given).
        bucket: the bucket.
        prefix: the key prefix of the root (a trailing ``/`` is added).
    """

    scheme: ClassVar[str] = "s3"

    def __init__(self, storage: Storage, bucket: str, prefix: str) -> None:
        self.storage, self.bucket = storage, bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.uri = f"s3://{bucket}/{self.prefix}"

    @classmethod
    def from_uri(cls, uri: str, *, storage: Storage | None = None, workers: int | None = None) -> S3Backend:
        """The objects under ``uri`` (``s3://bucket[/prefix]``), through ``storage`` or a client from ``MINIO_*``.

        Args:
            uri: ``s3://bucket[/prefix]``.
            storage: an explicit client (tests, set-up); default ``Storage.from_env()``.
            workers: parallel transfers of the default client (``get_files``).
        """
        bucket, key = parse_s3_uri(uri)
        if storage is None:
            storage = Storage.from_env(**({"workers": workers} if workers else {}))
        return cls(storage, bucket, key)

    def __repr__(self) -> str:
        return f"S3Backend({self.uri!r})"

    @property
    def endpoint(self) -> str:
        """The endpoint URL (no credentials)."""
        return self.storage.endpoint

    def _key(self, rel: str) -> str:
        return self.prefix + safe_relpath(rel, what=self.uri)

    def _entry(self, info: ObjectInfo) -> Entry:
        return Entry(name=info.key[len(self.prefix) :], size=info.size, etag=info.etag, uri=info.uri)

    def uri_of(self, rel: str) -> str:
        """``s3://bucket/prefix/rel``."""
        return f"s3://{self.bucket}/{self._key(rel)}"

    def child(self, rel: str) -> S3Backend:
        """The objects under ``prefix/rel/``."""
        return S3Backend(self.storage, self.bucket, self._key(rel))

    def stat(self, rel: str) -> Entry:
        """Size and ETag of one object; ``ObjectNotFoundError`` when it is missing."""
        return self._entry(self.storage.stat_object(self.bucket, self._key(rel)))

    def exists(self, rel: str) -> bool:
        """True when the object exists (a missing bucket still raises ``BucketNotFoundError``)."""
        return self.storage.object_exists(self.bucket, self._key(rel))

    def list(self, rel_prefix: str = "") -> list[str]:
        """Names of every object under ``rel_prefix``, sorted."""
        return [e.name for e in self.list_entries(rel_prefix)]

    def list_entries(self, rel_prefix: str = "") -> list[Entry]:
        """Every object under ``rel_prefix`` with size and ETag, sorted by name."""
        return [self._entry(o) for o in self.storage.list_objects(self.bucket, self.prefix + rel_prefix)]

    def get_file(self, rel: str, dest: Path) -> bool:
        """Download one object to ``dest`` (verified, atomic); False when it does not exist."""
        try:
            info = self.storage.stat_object(self.bucket, self._key(rel))
        except ObjectNotFoundError:
            return False
        self.storage.download_object(info, dest)
        return True

    def get_files(
        self, items: Sequence[tuple[Entry, Path]], *, desc: str = "download", progress: bool = True
    ) -> int:
        """Download listed objects in parallel (``storage.workers`` threads); each checked against its listing."""
        objs = [(ObjectInfo(self.bucket, self.prefix + e.name, e.size, e.etag), dest) for e, dest in items]
        return self.storage.download_objects(objs, desc=desc, progress=progress)

    def get_json(self, rel: str) -> Any | None:
        """The parsed JSON object, or None when it does not exist."""
        try:
            return self.storage.get_json(self.bucket, self._key(rel))
        except ObjectNotFoundError:
            return None

    def put_file(self, rel: str, path: Path) -> StoredFile:
        """Upload and verify (size, MD5 of single-part ETags; sha256 recorded)."""
        return self.storage.upload_file(path, self.bucket, self._key(rel))

    def put_json(self, rel: str, obj: Any) -> StoredFile:
        """Write a small JSON document."""
        return self.storage.put_json(obj, self.bucket, self._key(rel))

    def delete(self, rel: str) -> None:
        """Remove one object (no error when it is already gone)."""
        self.storage.remove_object(self.bucket, self._key(rel))

    # ------------------------------------------------------------ conditional writes (S3 If-None-Match / If-Match)

    def create_file(self, rel: str, path: Path) -> StoredFile:
        """Upload ``path`` as ``rel`` only if no object has that name (``If-None-Match: *``), verified.

        Raises:
            ObjectExistsError: the object exists with other content (another writer won).
        """
        path = Path(path)
        size, sha, md5 = file_digests(path)
        etag = self._create(rel, path, size=size, md5=md5, content_type=_content_type(path.name))
        return StoredFile(uri=self.uri_of(rel), size=size, sha256=sha, etag=etag)

    def create_json(self, rel: str, obj: Any) -> StoredFile:
        """Write a small JSON document only if ``rel`` does not exist (``If-None-Match: *``).

        Raises:
            ObjectExistsError: the object exists with other content (another writer won).
        """
        data = json_bytes(obj)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        etag = self._create(rel, data, size=len(data), md5=md5, content_type="application/json")
        return StoredFile(
            uri=self.uri_of(rel), size=len(data), sha256=hashlib.sha256(data).hexdigest(), etag=etag
        )

    def _create(self, rel: str, source: bytes | Path, *, size: int, md5: str, content_type: str) -> str:
        key = self._key(rel)
        try:
            return _conditional_put(
                self.storage, self.bucket, key, source, md5=md5, content_type=content_type, if_match=None
            )
        except PreconditionFailedError:
            # The same bytes already there count as written: a retried PUT whose first try landed.
            try:
                existing = self.storage.stat_object(self.bucket, key)
            except ObjectNotFoundError:
                existing = None
            if existing is not None and existing.size == size and existing.etag == md5:
                return existing.etag
            raise ObjectExistsError(
                f"{self.endpoint}: {self.uri_of(rel)} exists already with other content "
                "(another writer won): nothing was changed"
            ) from None

    def get_json_etag(self, rel: str) -> tuple[Any, str] | None:
        """The parsed JSON object and its ETag (what ``replace_json`` checks); None when it does not exist."""
        key = self._key(rel)

        def get() -> tuple[bytes, str]:
            resp = self.storage._client.get_object(self.bucket, key)
            try:
                return resp.read(), _clean_etag(resp.headers.get("ETag"))
            finally:
                resp.close()
                resp.release_conn()

        try:
            data, etag = self.storage._call("read", self.bucket, key, get)
        except ObjectNotFoundError:
            return None
        try:
            return json.loads(data.decode("utf-8")), etag
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise StorageError(f"{self.endpoint}: {self.uri_of(rel)} is not valid JSON ({err})") from err

    def replace_json(self, rel: str, obj: Any, *, etag: str | None) -> StoredFile:
        """Compare-and-swap: write ``rel`` only if its ETag is still ``etag`` (``If-Match``; None: absent).

        Raises:
            PreconditionFailedError: another writer changed (or created) the object since it was read.
        """
        data = json_bytes(obj)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        new = _conditional_put(
            self.storage,
            self.bucket,
            self._key(rel),
            data,
            md5=md5,
            content_type="application/json",
            if_match=etag or None,
        )
        return StoredFile(
            uri=self.uri_of(rel), size=len(data), sha256=hashlib.sha256(data).hexdigest(), etag=new
        )


# ---------------------------------------------------------------- conditional PUT (presigned URL + urllib3)

_PRESIGN_TTL_S = 15 * 60
_CONFLICT_ATTEMPTS = 4  # HTTP 409 ConditionalRequestConflict: another conditional write to the key in flight
_HTTP_POOLS: Any = None
_HTTP_LOCK = threading.Lock()


class _ConditionalConflict(StorageError):
    """HTTP 409 ConditionalRequestConflict: retried after a short pause, outside the transient retries."""


def _conditional_http(storage: Storage) -> Any:
    """The urllib3 pool for conditional PUTs of ``storage``: the client's limits, TLS settings, no hidden retries.

    Built like the client's own pool (``bounded_pool_manager(storage.limits)``: connect and
    first-byte timeouts, minimum progress), once per client.
    """
    import weakref

    import certifi

    global _HTTP_POOLS
    with _HTTP_LOCK:
        if _HTTP_POOLS is None:
            _HTTP_POOLS = weakref.WeakKeyDictionary()
        pool = _HTTP_POOLS.get(storage)
        if pool is None:
            pool = bounded_pool_manager(
                storage.limits,
                maxsize=max(10, storage.workers),
                ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
            )
            _HTTP_POOLS[storage] = pool
    return pool


def _conditional_put(
    storage: Storage,
    bucket: str,
    key: str,
    source: bytes | Path,
    *,
    md5: str,
    content_type: str,
    if_match: str | None,
) -> str:
    """One PUT with ``If-None-Match: *`` (``if_match`` None) or ``If-Match: "<etag>"``; returns the new ETag.

    minio's ``put_object`` turns unknown headers into ``x-amz-meta-*``, so the request goes to a
    presigned URL (it signs only the host header) and carries the condition and ``Content-MD5`` as
    plain headers. Transient failures are retried within the client's budget (``Storage._call``).

    Raises:
        PreconditionFailedError: HTTP 412 (or 404 for ``If-Match``: the object is gone), or 409
            conflicts that persisted.
    """
    import base64
    from datetime import timedelta

    from minio.error import S3Error, ServerError

    what = f"s3://{bucket}/{key}"
    size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
    headers = {
        "Content-Length": str(size),
        "Content-Type": content_type,
        "Content-MD5": base64.b64encode(bytes.fromhex(md5)).decode("ascii"),
        **({"If-Match": f'"{if_match}"'} if if_match else {"If-None-Match": "*"}),
    }

    def put_once() -> str:
        url = storage._client.get_presigned_url("PUT", bucket, key, expires=timedelta(seconds=_PRESIGN_TTL_S))
        with contextlib.ExitStack() as stack:
            body = source if isinstance(source, bytes) else stack.enter_context(open(source, "rb"))
            resp = _conditional_http(storage).request("PUT", url, body=body, headers=headers, retries=False)
        status = resp.status
        if status in (200, 201, 204):
            etag = _clean_etag(resp.headers.get("ETag"))
            if _etag_is_md5(etag, resp.headers) and etag != md5:
                raise StorageError(f"{storage.endpoint}: upload of {what} failed verification (ETag {etag})")
            return etag
        if status >= 500 or status == 429:
            raise ServerError(f"HTTP {status} for conditional PUT of {what}", status)
        try:
            err = S3Error.fromxml(resp)
        except Exception:  # noqa: BLE001 - a body that is not S3 XML: report the status
            raise StorageError(f"{storage.endpoint}: PUT {what} failed: HTTP {status}") from None
        cond = f"If-Match {if_match}" if if_match else "If-None-Match *"
        if status == 409 and err.code == "ConditionalRequestConflict":
            raise _ConditionalConflict(f"{storage.endpoint}: {what}: concurrent conditional write ({cond})")
        if status == 412 or (status == 404 and if_match and err.code in ("NoSuchKey", "NoSuchObject")):
            raise PreconditionFailedError(
                f"{storage.endpoint}: {what}: precondition {cond} failed (another writer changed it)"
            )
        raise err

    for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
        try:
            return storage._call("conditional upload", bucket, key, put_once)
        except _ConditionalConflict as err:
            if attempt == _CONFLICT_ATTEMPTS:
                raise PreconditionFailedError(f"{err}: still conflicting after {attempt} attempts") from None
            time.sleep(0.05 * attempt * (0.5 + random.random() / 2))  # noqa: S311 - jitter, not crypto
    raise AssertionError("unreachable")
