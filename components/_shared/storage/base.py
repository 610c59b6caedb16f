"""What every storage backend shares: the ``Backend`` interface, its value types and file helpers.

A backend is a folder-like place holding objects by relative, ``/``-separated name: an ``s3://``
prefix, a local folder. It is opened for a URI by ``components._shared.storage.backend_for`` and
every name given to it is checked by ``safe_relpath`` (no absolute names, no ``..``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, Protocol

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


class PreconditionFailedError(StorageError):
    """A conditional write lost: the object changed since it was read (compare-and-swap) or exists already."""


class ObjectExistsError(PreconditionFailedError):
    """A create-only write found the object already there, with other content (another writer won)."""


@dataclass(frozen=True)
class Entry:
    """One object of a backend.

    Attributes:
        name: its name relative to the backend's root (``a/b.json``).
        size: bytes.
        etag: a token that changes whenever the object is rewritten (S3: the ETag, quotes stripped;
            local: modification time and size). Compare-and-swap uses the token of ``get_json_etag``
            (S3: the same ETag; local: the content's sha256).
        uri: its full URI (for messages and reports).
    """

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


class Backend(Protocol):
    """The operations ingest, weights, checkpoints and publish need, on objects under one root URI.

    Writes are atomic per object (a reader sees the old or the new content, never a partial one) and
    verified (size and checksum). Reading a missing object: ``stat`` raises ``ObjectNotFoundError``,
    ``get_file`` returns False and ``get_json`` None.

    Conditional writes (what makes publishing safe with concurrent writers):
        ``create_file`` / ``create_json`` write only when the object does not exist yet (S3
            ``If-None-Match: *``; local: hard link of a verified temp file, which fails when the name
            exists). Another writer's object raises ``ObjectExistsError``; an object already holding
            exactly these bytes counts as written (a retried request whose first try landed).
        ``get_json_etag`` reads a small JSON document with its version token, and ``replace_json``
            writes it only when that token still holds (S3 ``If-Match``; local: an ``fcntl`` lock
            file and a sha256 compare, then rename); ``etag=None`` means "create if absent". A lost
            race raises ``PreconditionFailedError``: read again and retry.

    Attributes:
        scheme: the URI scheme this backend serves (``s3``, ``file``).
        uri: the root, as given (``s3://bucket/prefix/``, ``/abs/folder``).
        endpoint: where the objects live, for messages (``http://minio:9000``, ``local disk``).
    """

    scheme: ClassVar[str]
    uri: str
    endpoint: str

    def uri_of(self, rel: str) -> str:
        """The full URI of ``rel`` under the root."""
        ...

    def child(self, rel: str) -> Backend:
        """A backend rooted at ``rel`` under this one."""
        ...

    def stat(self, rel: str) -> Entry:
        """Size and version token of one object; ``ObjectNotFoundError`` when it is missing."""
        ...

    def exists(self, rel: str) -> bool:
        """True when the object exists."""
        ...

    def list(self, rel_prefix: str = "") -> list[str]:
        """Names of every object under ``rel_prefix`` (recursive), sorted."""
        ...

    def list_entries(self, rel_prefix: str = "") -> list[Entry]:
        """Every object under ``rel_prefix`` (recursive) with size and version token, sorted by name."""
        ...

    def get_file(self, rel: str, dest: Path) -> bool:
        """Download one object to ``dest`` atomically; False when it does not exist."""
        ...

    def get_files(
        self, items: Sequence[tuple[Entry, Path]], *, desc: str = "download", progress: bool = True
    ) -> int:
        """Download many listed objects (in parallel where the backend can); returns the bytes written."""
        ...

    def get_json(self, rel: str) -> Any | None:
        """Read and parse a small JSON object; None when it does not exist."""
        ...

    def put_file(self, rel: str, path: Path) -> StoredFile:
        """Upload a file as ``rel`` and verify it."""
        ...

    def put_json(self, rel: str, obj: Any) -> StoredFile:
        """Write a small JSON document (indented, sorted keys)."""
        ...

    def delete(self, rel: str) -> None:
        """Remove one object (no error when it is already gone)."""
        ...

    def create_file(self, rel: str, path: Path) -> StoredFile:
        """Upload a file as ``rel`` only if no object has that name; ``ObjectExistsError`` otherwise."""
        ...

    def create_json(self, rel: str, obj: Any) -> StoredFile:
        """Write a small JSON document only if ``rel`` does not exist; ``ObjectExistsError`` otherwise."""
        ...

    def get_json_etag(self, rel: str) -> tuple[Any, str] | None:
        """A small JSON document and the version token ``replace_json`` checks; None when missing."""
        ...

    def replace_json(self, rel: str, obj: Any, *, etag: str | None) -> StoredFile:
        """Compare-and-swap: write only if ``rel`` still has ``etag`` (None: only if it is absent).

        Raises:
            PreconditionFailedError: another writer changed (or created) it since it was read.
        """
        ...


# ---------------------------------------------------------------- helpers shared by the backends


def safe_relpath(rel: str, *, what: str) -> str:
    """Check a relative object name: no absolute path, no ``..``, no empty parts; returns it normalised.

    Raises:
        StorageError: the name could escape its folder.
    """
    parts = rel.replace("\\", "/").split("/")
    if rel.startswith(("/", "\\")) or any(p in ("", ".", "..") for p in parts) or "\x00" in rel:
        raise StorageError(f"{what}: unsafe object name {rel!r} (absolute, empty part or '..')")
    return "/".join(parts)


def json_bytes(obj: Any) -> bytes:
    """The stored form of a JSON document: indented, sorted keys, trailing newline."""
    return (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


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
def atomic_dest(dest: Path) -> Iterator[Path]:
    """Yield a temp path beside ``dest``; rename it over ``dest`` on success, remove it on error."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
