"""The local-folder backend: plain paths (and ``file://`` URIs) with the same layout as ``s3://`` prefixes.

Every write goes to a temp file beside its target and is renamed over it, so a reader never sees a
partial file; copies are verified by size and sha256. Files whose name starts with ``.`` (temp and
lock files) are never listed.

Conditional writes give the guarantees of S3's: ``create_*`` hard-links the verified temp file to its
name (``link`` fails when the name exists, so of two writers exactly one wins; a file system without
hard links falls back to the lock below), and ``replace_json`` holds an ``fcntl.flock`` on
``.<name>.lock`` beside the file while it compares the content's sha256 (the local ETag) and renames.
The lock serialises writers on one host (and on file systems whose ``flock`` is shared, not NFS).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar

from components._shared.errors import StorageError
from components._shared.storage.base import (
    FILE_MODE,
    Entry,
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StoredFile,
    atomic_dest,
    file_digests,
    json_bytes,
    safe_relpath,
)

FILE_URI = "file://"
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK})


@contextlib.contextmanager
def _temp_beside(dest: Path) -> Iterator[Path]:
    """A temp file in ``dest``'s folder (readable like other outputs), removed when the block ends."""
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
def _locked(dest: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``.<name>.lock`` beside ``dest`` (kept: removing it would race)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(dest.parent / f".{dest.name}.lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _sha256_or_none(path: Path) -> str | None:
    try:
        return file_digests(path)[1]
    except FileNotFoundError:
        return None


class LocalBackend:
    """The ``Backend`` interface over the files under a local folder.

    Args:
        root: the folder (created on the first write).
    """

    scheme: ClassVar[str] = "file"
    endpoint = "local disk"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser()
        self.uri = str(self.root)

    @classmethod
    def from_uri(cls, uri: str | os.PathLike[str]) -> LocalBackend:
        """The folder ``uri`` names: a path, or ``file:///abs/path``."""
        text = os.fspath(uri)
        return cls(Path(text[len(FILE_URI) :] if text.startswith(FILE_URI) else text))

    def __repr__(self) -> str:
        return f"LocalBackend({self.uri!r})"

    def _path(self, rel: str) -> Path:
        return self.root / safe_relpath(rel, what=self.uri)

    def _entry(self, path: Path) -> Entry:
        st = path.stat()
        return Entry(
            name=path.relative_to(self.root).as_posix(),
            size=st.st_size,
            etag=f"{st.st_mtime_ns:x}-{st.st_size:x}",  # changes with every rename over the file
            uri=str(path),
        )

    def uri_of(self, rel: str) -> str:
        """The path of ``rel`` under the root."""
        return str(self._path(rel))

    def child(self, rel: str) -> LocalBackend:
        """The files under ``root/rel/``."""
        return LocalBackend(self._path(rel))

    def stat(self, rel: str) -> Entry:
        """Size and version token of one file; ``ObjectNotFoundError`` when it is missing."""
        path = self._path(rel)
        if not path.is_file():
            raise ObjectNotFoundError(f"{path}: file not found: check the path")
        return self._entry(path)

    def exists(self, rel: str) -> bool:
        """True when the file exists."""
        return self._path(rel).is_file()

    def list(self, rel_prefix: str = "") -> list[str]:
        """Names of every file under the root starting with ``rel_prefix`` (temp files left out), sorted."""
        if not self.root.is_dir():
            return []
        names = (
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        return sorted(n for n in names if n.startswith(rel_prefix))

    def list_entries(self, rel_prefix: str = "") -> list[Entry]:
        """Every file under ``rel_prefix`` with size and version token, sorted by name."""
        return [self._entry(self.root / n) for n in self.list(rel_prefix)]

    def get_file(self, rel: str, dest: Path) -> bool:
        """Copy one file to ``dest`` atomically; False when it does not exist."""
        src = self._path(rel)
        if not src.is_file():
            return False
        with atomic_dest(Path(dest)) as tmp:
            shutil.copyfile(src, tmp)
        return True

    def get_files(
        self, items: Sequence[tuple[Entry, Path]], *, desc: str = "download", progress: bool = True
    ) -> int:
        """Copy listed files one by one; returns the bytes written."""
        total = 0
        for entry, dest in items:
            if not self.get_file(entry.name, dest):
                raise ObjectNotFoundError(f"{self.uri_of(entry.name)}: file vanished after the listing")
            total += Path(dest).stat().st_size
        return total

    def get_json(self, rel: str) -> Any | None:
        """The parsed JSON file, or None when it does not exist."""
        p = self._path(rel)
        if not p.is_file():
            return None
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise StorageError(f"{p} is not valid JSON ({err})") from err

    def put_file(self, rel: str, path: Path) -> StoredFile:
        """Copy ``path`` to ``rel`` through a temp file; verify size and sha256."""
        dest = self._path(rel)
        size, sha, _ = file_digests(Path(path))
        with atomic_dest(dest) as tmp:
            shutil.copyfile(path, tmp)
            got_size, got_sha, _ = file_digests(tmp)
        if (got_size, got_sha) != (size, sha):
            dest.unlink(missing_ok=True)
            raise StorageError(f"copy of {path} to {dest} failed verification (size/sha256 differ)")
        return StoredFile(uri=str(dest), size=size, sha256=sha)

    def put_json(self, rel: str, obj: Any) -> StoredFile:
        """Write a small JSON document atomically."""
        data = json_bytes(obj)
        dest = self._path(rel)
        with atomic_dest(dest) as tmp:
            tmp.write_bytes(data)
        return StoredFile(uri=str(dest), size=len(data), sha256=hashlib.sha256(data).hexdigest())

    def delete(self, rel: str) -> None:
        """Remove one file (no error when it is already gone)."""
        self._path(rel).unlink(missing_ok=True)

    # ------------------------------------------------------------ conditional writes

    def _create_from_temp(self, tmp: Path, dest: Path, sha: str | None) -> None:
        """Give the verified ``tmp`` the name ``dest`` unless that name exists (holding ``sha``: done)."""
        try:
            try:
                os.link(tmp, dest)
                return
            except OSError as err:
                if isinstance(err, FileExistsError) or err.errno not in _NO_HARD_LINKS:
                    raise
            with _locked(dest):  # no hard links here: check and rename under the lock
                if dest.exists():
                    raise FileExistsError(errno.EEXIST, "exists", str(dest))
                os.replace(tmp, dest)
        except FileExistsError:
            if sha is not None and _sha256_or_none(dest) == sha:
                return
            raise ObjectExistsError(
                f"{dest}: exists already with other content (another writer won): nothing was changed"
            ) from None

    def create_file(self, rel: str, path: Path) -> StoredFile:
        """Copy ``path`` to ``rel`` only if no file has that name (verified temp file, then ``link``).

        Raises:
            ObjectExistsError: ``rel`` exists with other content.
        """
        dest = self._path(rel)
        size, sha, _ = file_digests(Path(path))
        with _temp_beside(dest) as tmp:
            shutil.copyfile(path, tmp)
            if file_digests(tmp)[:2] != (size, sha):
                raise StorageError(f"copy of {path} to {dest} failed verification (size/sha256 differ)")
            self._create_from_temp(tmp, dest, sha)
        return StoredFile(uri=str(dest), size=size, sha256=sha, etag=sha)

    def create_json(self, rel: str, obj: Any) -> StoredFile:
        """Write a small JSON document only if ``rel`` does not exist.

        Raises:
            ObjectExistsError: ``rel`` exists with other content.
        """
        data = json_bytes(obj)
        sha = hashlib.sha256(data).hexdigest()
        dest = self._path(rel)
        with _temp_beside(dest) as tmp:
            tmp.write_bytes(data)
            self._create_from_temp(tmp, dest, sha)
        return StoredFile(uri=str(dest), size=len(data), sha256=sha, etag=sha)

    def get_json_etag(self, rel: str) -> tuple[Any, str] | None:
        """The parsed JSON file and the sha256 of its bytes (the token ``replace_json`` checks)."""
        p = self._path(rel)
        try:
            data = p.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None
        try:
            return json.loads(data.decode("utf-8")), hashlib.sha256(data).hexdigest()
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise StorageError(f"{p} is not valid JSON ({err})") from err

    def replace_json(self, rel: str, obj: Any, *, etag: str | None) -> StoredFile:
        """Compare-and-swap: write ``rel`` only if its sha256 is still ``etag`` (None: only if absent).

        Raises:
            PreconditionFailedError: the file changed (or appeared) since it was read.
        """
        data = json_bytes(obj)
        sha = hashlib.sha256(data).hexdigest()
        dest = self._path(rel)
        with _temp_beside(dest) as tmp:
            tmp.write_bytes(data)
            if etag is None:
                try:
                    self._create_from_temp(tmp, dest, None)
                except ObjectExistsError:
                    raise PreconditionFailedError(
                        f"{dest}: created by another writer since it was read"
                    ) from None
                return StoredFile(uri=str(dest), size=len(data), sha256=sha, etag=sha)
            with _locked(dest):
                if _sha256_or_none(dest) != etag:
                    raise PreconditionFailedError(f"{dest}: changed by another writer since it was read")
                os.replace(tmp, dest)
        return StoredFile(uri=str(dest), size=len(data), sha256=sha, etag=sha)
