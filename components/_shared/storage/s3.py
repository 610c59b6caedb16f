"""The ``s3://`` backend (MinIO or any S3, ``MINIO_*``): bounded retried calls, one-line errors without secrets."""

from __future__ import annotations

import base64
import copy
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from xml.etree.ElementTree import ParseError

import urllib3.exceptions as u3
from minio import Minio
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from tqdm import tqdm

from components._shared.errors import ConfigError, StorageError
from components._shared.storage import scheme_of
from components._shared.storage.base import (
    CHUNK,
    AccessDeniedError,
    Backend,
    BucketNotFoundError,
    CredentialsError,
    EndpointUnavailableError,
    Entry,
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StoredFile,
    atomic_dest,
    content_type,
    file_digests,
    json_bytes,
    parse_json,
    safe_relpath,
    stored_bytes,
)
from components._shared.storage.limits import (
    ENV_CONNECT_TIMEOUT,
    ENV_READ_TIMEOUT,
    RetryPolicy,
    TransferCancelled,
    TransferLimits,
    TransferStalled,
    bounded_pool_manager,
    cancel_scope,
    cancelled,
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
        "ConditionalRequestConflict",  # HTTP 409: another conditional write to the key is in flight
    }
)
_PLAIN_MD5 = re.compile(r"^[0-9a-f]{32}$")
# Server-side encrypted objects have ETags that are not the MD5 of their content: compare sizes only.
_SSE_HEADERS = ("x-amz-server-side-encryption", "x-amz-server-side-encryption-customer-algorithm")


def _etag_is_md5(etag: str, headers: Any) -> bool:
    """True when ``etag`` can be compared with a local MD5 (single part, no server-side encryption)."""
    return bool(_PLAIN_MD5.match(etag or "")) and not any(headers and headers.get(h) for h in _SSE_HEADERS)


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


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)`` (key may be empty); ConfigError for another form or credentials."""
    if not isinstance(uri, str) or scheme_of(uri) != "s3":
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
        """Read MINIO_ENDPOINT, MINIO_ACCESS_KEY, MINIO_SECRET_KEY, MINIO_SECURE and MINIO_REGION.

        Raises ConfigError when MINIO_ENDPOINT is missing or has credentials, or only one key is set.
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


class S3Backend(Backend):
    """The ``Backend`` interface over the objects under ``s3://bucket/prefix/``; thread-safe.

    ``settings``, ``retry`` and ``limits`` default to their ``from_env()``; ``workers`` download in parallel.
    """

    scheme: ClassVar[str] = "s3"

    def __init__(
        self,
        uri: str,
        *,
        settings: StorageSettings | None = None,
        retry: RetryPolicy | None = None,
        limits: TransferLimits | None = None,
        workers: int = 8,
    ) -> None:
        self._root(*parse_s3_uri(uri))
        self.settings = s = settings or StorageSettings.from_env()
        self.retry = retry or RetryPolicy.from_env()
        self.limits = limits or TransferLimits.from_env()
        self.workers = max(1, int(workers))
        http = bounded_pool_manager(self.limits, maxsize=max(10, self.workers))
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

    def _root(self, bucket: str, prefix: str) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.uri = f"s3://{bucket}/{self.prefix}"

    def __repr__(self) -> str:
        return f"S3Backend({self.uri!r}, endpoint={self.endpoint!r})"

    @property
    def endpoint(self) -> str:
        """The endpoint URL (no credentials)."""
        return self.settings.url

    def _key(self, rel: str) -> str:
        return self.prefix + safe_relpath(rel, what=self.uri)

    def _entry(self, key: str, size: int | None, etag: str | None) -> Entry:
        uri = f"s3://{self.bucket}/{key}"
        return Entry(name=key[len(self.prefix) :], size=int(size or 0), etag=_clean_etag(etag), uri=uri)

    def uri_of(self, rel: str) -> str:
        return f"s3://{self.bucket}/{self._key(rel)}"

    def child(self, rel: str) -> S3Backend:
        """The objects under ``prefix/rel/``, through the same client."""
        sub = copy.copy(self)
        sub._root(self.bucket, self._key(rel))
        return sub

    def _call(self, op: str, key: str | None, fn: Callable[[], T]) -> T:
        """Run ``fn`` with bounded retries on transient failures; map the rest to one-line errors."""
        what = f"s3://{self.bucket}/{key}" if key is not None else f"s3://{self.bucket}"
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
                    raise self._permanent_error(err, op, what) from err
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

    def _permanent_error(self, err: Exception, op: str, what: str) -> Exception:
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
                    f"{ep}: bucket '{self.bucket}' does not exist ({op} {what}): create it or fix the URI"
                )
            if code in ("NoSuchKey", "NoSuchObject"):
                return ObjectNotFoundError(f"{ep}: object {what} not found: check the URI")
            if code == "PreconditionFailed":  # HTTP 412 to If-None-Match / If-Match
                return PreconditionFailedError(
                    f"{ep}: {op} {what}: precondition failed (another writer changed or created it)"
                )
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

    def ensure_bucket(self) -> None:
        """Create the bucket when it does not exist (set-up and tests; stages never create buckets)."""

        def create() -> None:
            if not self._client.bucket_exists(self.bucket):
                self._client.make_bucket(self.bucket)

        self._call("create bucket", None, create)

    def stat(self, rel: str) -> Entry:
        key = self._key(rel)
        st = self._call("stat", key, lambda: self._client.stat_object(self.bucket, key))
        return self._entry(key, st.size, st.etag)

    def list_entries(self, rel_prefix: str = "") -> list[Entry]:
        """Folder markers are left out; a missing bucket raises ``BucketNotFoundError``."""
        prefix = self.prefix + rel_prefix

        def listing() -> list[Entry]:
            found = self._client.list_objects(self.bucket, prefix=prefix or None, recursive=True)
            entries = [
                self._entry(o.object_name, o.size, o.etag)
                for o in found
                if not (o.is_dir or o.object_name.endswith("/"))
            ]
            return sorted(entries, key=lambda e: e.name)

        return self._call("list", prefix, listing)

    def _download(self, entry: Entry, dest: Path, on_bytes: Callable[[int], None] | None = None) -> int:
        """Stream one object into a temp file beside ``dest``, check size (and MD5 of a single-part ETag), rename."""
        key = self.prefix + entry.name

        def download() -> int:
            md5, size = hashlib.md5(usedforsecurity=False), 0
            try:
                with atomic_dest(dest) as tmp, open(tmp, "wb") as fh:
                    resp = self._client.get_object(self.bucket, key)
                    check_md5 = _etag_is_md5(entry.etag, resp.headers)
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
                    got = md5.hexdigest() if check_md5 else None
                    if size != entry.size or (got is not None and got != entry.etag):
                        raise StorageError(
                            f"{self.endpoint}: download of {entry.uri} is corrupt: got {size} bytes md5 {got}, "
                            f"expected {entry.size} bytes ETag {entry.etag} (the object changed during the download?)"
                        )
            except BaseException:
                if on_bytes and size:
                    on_bytes(-size)  # a retried download counts its bytes once
                raise
            return size

        return self._call("download", key, download)

    def get_files(
        self, items: Sequence[tuple[Entry, Path]], *, desc: str = "download", progress: bool = True
    ) -> int:
        """Download listed objects with ``workers`` threads and a tqdm byte counter; returns the bytes written.

        When one fails (or the caller is interrupted) the others stop at their next socket read, and this
        returns only once every worker has ended: nothing writes to the destination afterwards.
        """
        lock = threading.Lock()
        stop = threading.Event()

        def one(entry: Entry, dest: Path, count: Callable[[int], None]) -> int:
            if stop.is_set():
                raise StorageError(f"{self.endpoint}: download {entry.uri}: cancelled")
            with cancel_scope(stop):
                return self._download(entry, Path(dest), on_bytes=count)

        total = sum(e.size for e, _ in items)
        with tqdm(
            total=total, unit="B", unit_scale=True, desc=desc, disable=not progress, mininterval=1.0
        ) as bar:

            def count(n: int) -> None:
                with lock:
                    bar.update(n)

            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="s3-get") as pool:
                futures = [pool.submit(one, e, d, count) for e, d in items]
                try:
                    return sum(f.result() for f in futures)
                except BaseException:
                    stop.set()
                    for f in futures:
                        f.cancel()
                    raise

    def get_json_etag(self, rel: str) -> tuple[Any, str] | None:
        key = self._key(rel)

        def get() -> tuple[bytes, str]:
            resp = self._client.get_object(self.bucket, key)
            try:
                return resp.read(), _clean_etag(resp.headers.get("ETag"))
            finally:
                resp.close()
                resp.release_conn()

        try:
            data, etag = self._call("read", key, get)
        except ObjectNotFoundError:
            return None
        return parse_json(data, f"{self.endpoint}: {self.uri_of(rel)}"), etag

    def put_file(self, rel: str, path: Path) -> StoredFile:
        """Upload (multipart when large); verify the size and a single-part ETag's MD5; store the sha256 as ``x-amz-meta-sha256``."""
        key, path = self._key(rel), Path(path)
        size, sha, md5 = file_digests(path)

        def put() -> str:
            self._client.fput_object(
                self.bucket, key, str(path), content_type=content_type(key), metadata={"sha256": sha}
            )
            st = self._client.stat_object(self.bucket, key)
            etag = _clean_etag(st.etag)
            if int(st.size or 0) != size or (_etag_is_md5(etag, st.metadata) and etag != md5):
                raise StorageError(
                    f"{self.endpoint}: upload of {path} to s3://{self.bucket}/{key} failed verification: "
                    f"stored {st.size} bytes ETag {etag}, local {size} bytes md5 {md5}"
                )
            return etag

        return StoredFile(uri=self.uri_of(rel), size=size, sha256=sha, etag=self._call("upload", key, put))

    def _put_bytes(self, op: str, rel: str, data: bytes, condition: dict[str, str]) -> StoredFile:
        """One verified PUT of ``data`` with the ``If-None-Match`` / ``If-Match`` headers in ``condition``.

        ``Minio._put_object``: the public ``put_object`` renames unknown headers to ``x-amz-meta-*``
        (``normalize_headers`` in ``minio/helpers.py``); a refused condition is ``S3Error`` PreconditionFailed.
        """
        key = self._key(rel)
        md5 = hashlib.md5(data, usedforsecurity=False)
        headers = {
            "Content-Type": content_type(key),
            "Content-MD5": base64.b64encode(md5.digest()).decode("ascii"),
            "x-amz-meta-sha256": hashlib.sha256(data).hexdigest(),
            **condition,
        }

        def put() -> str:
            res = self._client._put_object(self.bucket, key, data, headers=dict(headers))
            etag = _clean_etag(res.etag)
            if _etag_is_md5(etag, res.http_headers) and etag != md5.hexdigest():
                raise StorageError(
                    f"{self.endpoint}: upload of {self.uri_of(rel)} failed verification (ETag {etag})"
                )
            return etag

        return stored_bytes(self.uri_of(rel), data, self._call(op, key, put))

    def put_json(self, rel: str, obj: Any) -> StoredFile:
        return self._put_bytes("upload", rel, json_bytes(obj), {})

    def delete(self, rel: str) -> None:
        key = self._key(rel)
        self._call("delete", key, lambda: self._client.remove_object(self.bucket, key))

    def create_file(self, rel: str, path: Path) -> StoredFile:
        """One ``If-None-Match: *`` PUT of the whole file, held in memory (``_put_bytes``)."""
        return self._create(rel, Path(path).read_bytes())

    def create_json(self, rel: str, obj: Any) -> StoredFile:
        return self._create(rel, json_bytes(obj))

    def _create(self, rel: str, data: bytes) -> StoredFile:
        try:
            return self._put_bytes("create-only upload", rel, data, {"If-None-Match": "*"})
        except PreconditionFailedError:
            # The same bytes already there count as written: a retried PUT whose first try landed.
            try:
                existing = self.stat(rel)
            except ObjectNotFoundError:
                existing = None
            md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
            if existing is not None and (existing.size, existing.etag) == (len(data), md5):
                return stored_bytes(existing.uri, data, existing.etag)
            raise ObjectExistsError(
                f"{self.endpoint}: {self.uri_of(rel)} exists already with other content "
                "(another writer won): nothing was changed"
            ) from None

    def replace_json(self, rel: str, obj: Any, *, etag: str | None) -> StoredFile:
        condition = {"If-Match": f'"{etag}"'} if etag else {"If-None-Match": "*"}
        try:
            return self._put_bytes("compare-and-swap", rel, json_bytes(obj), condition)
        except ObjectNotFoundError:  # If-Match on an object that is gone
            raise PreconditionFailedError(
                f"{self.endpoint}: compare-and-swap {self.uri_of(rel)}: gone since it was read (another writer?)"
            ) from None
