"""The storage ``Backend`` interface (objects by ``/``-separated name under one root), its errors, helpers."""

from __future__ import annotations

import abc
import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from components._shared.errors import StorageError

CHUNK = 1024 * 1024


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask() is process-wide, so probing it while download threads create files
# would race. mkstemp makes 0600 files; the next pipeline task may run as another user and must read them.
FILE_MODE = 0o666 & ~_read_umask()


class ObjectNotFoundError(StorageError):
    """The object named in the URI does not exist."""


class BucketNotFoundError(StorageError):
    """The bucket named in the URI does not exist."""


class CredentialsError(StorageError):
    """The endpoint rejected the access key or the signature (wrong MINIO_ACCESS_KEY / MINIO_SECRET_KEY)."""


class AccessDeniedError(StorageError):
    """The credentials are valid but have no permission for the bucket or object."""


class EndpointUnavailableError(StorageError):
    """Transient failures (refused, timeouts, stalls, 5xx, throttling) persisted through every retry."""


class PreconditionFailedError(StorageError):
    """A conditional write lost: the object changed since it was read (compare-and-swap) or exists already."""


class ObjectExistsError(PreconditionFailedError):
    """A create-only write found the object already there, with other content (another writer won)."""


@dataclass(frozen=True)
class Entry:
    """One object; ``etag`` changes whenever it is rewritten (S3: the ETag unquoted; local: mtime and size)."""

    name: str
    size: int
    etag: str
    uri: str


@dataclass(frozen=True)
class StoredFile:
    """A verified upload: where it went, its size, sha256 and (for S3) ETag."""

    uri: str
    size: int
    sha256: str
    etag: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"uri": self.uri, "size": self.size, "sha256": self.sha256, "etag": self.etag}


class Backend(abc.ABC):
    """The operations ingest, weights, checkpoints and publish need, on objects under one root URI.

    Writes are atomic per object and verified (size and checksum). Conditional writes make publishing safe
    with concurrent writers: ``create_*`` write only a free name (S3 ``If-None-Match: *``; local: a hard
    link) and raise ``ObjectExistsError`` for another writer's object (the same bytes count as written: a
    retry whose first try landed); ``replace_json`` writes only while ``get_json_etag``'s token holds (S3
    ``If-Match``; local: ``fcntl`` lock and sha256) and raises ``PreconditionFailedError`` otherwise.
    """

    scheme: ClassVar[str]
    uri: str
    endpoint: str  # where the objects live, for messages: ``http://minio:9000``, ``local disk``

    @abc.abstractmethod
    def uri_of(self, rel: str) -> str:
        """The full URI of ``rel`` under the root."""

    @abc.abstractmethod
    def child(self, rel: str) -> Backend:
        """A backend rooted at ``rel`` under this one."""

    @abc.abstractmethod
    def stat(self, rel: str) -> Entry:
        """Size and version token of one object; ``ObjectNotFoundError`` when it is missing."""

    def exists(self, rel: str) -> bool:
        """True when the object exists."""
        try:
            self.stat(rel)
        except ObjectNotFoundError:
            return False
        return True

    def list(self, rel_prefix: str = "") -> list[str]:
        """Names of every object under ``rel_prefix`` (recursive), sorted."""
        return [e.name for e in self.list_entries(rel_prefix)]

    @abc.abstractmethod
    def list_entries(self, rel_prefix: str = "") -> list[Entry]:
        """Every object under ``rel_prefix`` (recursive) with size and version token, sorted by name."""

    def get_file(self, rel: str, dest: Path) -> bool:
        """Download one object to ``dest`` atomically; False when it does not exist."""
        try:
            entry = self.stat(rel)
        except ObjectNotFoundError:
            return False
        self.get_files([(entry, Path(dest))], progress=False)
        return True

    @abc.abstractmethod
    def get_files(
        self, items: Sequence[tuple[Entry, Path]], *, desc: str = "download", progress: bool = True
    ) -> int:
        """Download listed objects (in parallel where the backend can), each checked against its entry; returns the bytes written."""

    def get_json(self, rel: str) -> Any | None:
        """Read and parse a small JSON object; None when it does not exist."""
        found = self.get_json_etag(rel)
        return found[0] if found else None

    @abc.abstractmethod
    def put_file(self, rel: str, path: Path) -> StoredFile:
        """Upload a file as ``rel`` and verify it."""

    @abc.abstractmethod
    def put_json(self, rel: str, obj: Any) -> StoredFile:
        """Write a small JSON document (indented, sorted keys)."""

    @abc.abstractmethod
    def delete(self, rel: str) -> None:
        """Remove one object (no error when it is already gone)."""

    @abc.abstractmethod
    def create_file(self, rel: str, path: Path) -> StoredFile:
        """Upload a file as ``rel`` only if no object has that name; ``ObjectExistsError`` otherwise."""

    @abc.abstractmethod
    def create_json(self, rel: str, obj: Any) -> StoredFile:
        """Write a small JSON document only if ``rel`` does not exist; ``ObjectExistsError`` otherwise."""

    @abc.abstractmethod
    def get_json_etag(self, rel: str) -> tuple[Any, str] | None:
        """A small JSON document and the version token ``replace_json`` checks; None when missing."""

    @abc.abstractmethod
    def replace_json(self, rel: str, obj: Any, *, etag: str | None) -> StoredFile:
        """Compare-and-swap: write only if ``rel`` still has ``etag`` (None: absent); else PreconditionFailedError."""


def safe_relpath(rel: str, *, what: str) -> str:
    """``rel`` normalised; StorageError when it could escape its folder (absolute, ``..``, empty part)."""
    parts = rel.replace("\\", "/").split("/")
    if rel.startswith(("/", "\\")) or any(p in ("", ".", "..") for p in parts) or "\x00" in rel:
        raise StorageError(f"{what}: unsafe object name {rel!r} (absolute, empty part or '..')")
    return "/".join(parts)


def json_bytes(obj: Any) -> bytes:
    """The stored form of a JSON document: indented, sorted keys, trailing newline."""
    return (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


def parse_json(data: bytes, where: str) -> Any:
    """Parse a stored JSON document; ``StorageError`` naming ``where`` when it is not valid JSON."""
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StorageError(f"{where} is not valid JSON ({err})") from err


def stored_bytes(uri: str, data: bytes, etag: str | None = None) -> StoredFile:
    """The ``StoredFile`` of ``data`` written to ``uri``."""
    return StoredFile(uri=uri, size=len(data), sha256=hashlib.sha256(data).hexdigest(), etag=etag)


def file_digests(path: Path) -> tuple[int, str, str]:
    """``(size, sha256, md5)`` of a file, read once."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            sha.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest(), md5.hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file."""
    return file_digests(path)[1]


def content_type(name: str) -> str:
    """The MIME type stored with an object, from its suffix."""
    suffix = PurePosixPath(name).suffix.lower()
    return {
        ".json": "application/json",
        ".html": "text/html; charset=utf-8",
        ".md": "text/markdown; charset=utf-8",
        ".png": "image/png",
        ".txt": "text/plain; charset=utf-8",
        ".csv": "text/csv; charset=utf-8",
        ".yaml": "application/yaml",
    }.get(suffix, "application/octet-stream")


@contextlib.contextmanager
def temp_beside(dest: Path) -> Iterator[Path]:
    """A temp file in ``dest``'s folder, readable like other outputs; removed when the block ends unless renamed."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        os.chmod(tmp, FILE_MODE)
        yield Path(tmp)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_dest(dest: Path) -> Iterator[Path]:
    """Yield a temp path beside ``dest``; rename it over ``dest`` on success, remove it on error."""
    with temp_beside(dest) as tmp:
        yield tmp
        os.replace(tmp, dest)
