"""The local-folder backend: plain paths and ``file://`` URIs, with the same layout as ``s3://`` prefixes.

Writes go through a ``.``-named temp file and a rename; ``create_*`` hard-link it (one writer wins; without
links, a lock); ``replace_json`` compares sha256 under an ``fcntl.flock``: safe on one host, not over NFS.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from stat import S_ISREG
from typing import Any, ClassVar

from components._shared.errors import StorageError
from components._shared.storage import local_path
from components._shared.storage.base import (
    FILE_MODE,
    Backend,
    Entry,
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StoredFile,
    atomic_dest,
    file_digests,
    json_bytes,
    parse_json,
    safe_relpath,
    stored_bytes,
    temp_beside,
)

_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK})


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


def _copy_verified(src: Path, tmp: Path, dest: Path) -> tuple[int, str]:
    size, sha, _ = file_digests(src)
    shutil.copyfile(src, tmp)
    if file_digests(tmp)[:2] != (size, sha):
        raise StorageError(f"copy of {src} to {dest} failed verification (size/sha256 differ)")
    return size, sha


def _sha256_or_none(path: Path) -> str | None:
    try:
        return file_digests(path)[1]
    except FileNotFoundError:
        return None


class LocalBackend(Backend):
    """The ``Backend`` interface over the folder ``root`` names, created on the first write.

    Version tokens: ``stat`` gives modification time and size, ``get_json_etag`` the content's sha256.
    """

    scheme: ClassVar[str] = "file"
    endpoint = "local disk"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = local_path(root)
        self.uri = str(self.root)

    def __repr__(self) -> str:
        return f"LocalBackend({self.uri!r})"

    def _path(self, rel: str) -> Path:
        return self.root / safe_relpath(rel, what=self.uri)

    def uri_of(self, rel: str) -> str:
        return str(self._path(rel))

    def child(self, rel: str) -> LocalBackend:
        return LocalBackend(self._path(rel))

    def stat(self, rel: str) -> Entry:
        name = safe_relpath(rel, what=self.uri)
        path = self.root / name
        try:
            st = path.stat()  # one call: a file removed meanwhile (a racing prune) is simply not found
        except (FileNotFoundError, NotADirectoryError):
            st = None
        if st is None or not S_ISREG(st.st_mode):
            raise ObjectNotFoundError(f"{path}: file not found: check the path")
        # mtime and size change with every rename over the file
        return Entry(name, st.st_size, f"{st.st_mtime_ns:x}-{st.st_size:x}", str(path))

    def list_entries(self, rel_prefix: str = "") -> list[Entry]:
        """Every file under ``rel_prefix`` with size and version token, sorted; ``.``-names (temp files) left out."""
        if not self.root.is_dir():
            return []
        names = (
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        entries = []
        for name in sorted(names):
            if name.startswith(rel_prefix):
                with contextlib.suppress(ObjectNotFoundError):  # removed since the walk (a racing prune)
                    entries.append(self.stat(name))
        return entries

    def get_files(
        self, items: Sequence[tuple[Entry, Path]], *, desc: str = "download", progress: bool = True
    ) -> int:
        """Copy listed files one by one; returns the bytes written."""
        total = 0
        for entry, dest in items:
            src = self._path(entry.name)
            if not src.is_file():
                raise ObjectNotFoundError(f"{src}: file vanished after the listing")
            with atomic_dest(Path(dest)) as tmp:
                shutil.copyfile(src, tmp)
            total += Path(dest).stat().st_size
        return total

    def put_file(self, rel: str, path: Path) -> StoredFile:
        dest = self._path(rel)
        with atomic_dest(dest) as tmp:
            size, sha = _copy_verified(Path(path), tmp, dest)
        return StoredFile(uri=str(dest), size=size, sha256=sha)

    def put_json(self, rel: str, obj: Any) -> StoredFile:
        data = json_bytes(obj)
        dest = self._path(rel)
        with atomic_dest(dest) as tmp:
            tmp.write_bytes(data)
        return stored_bytes(str(dest), data)

    def delete(self, rel: str) -> None:
        self._path(rel).unlink(missing_ok=True)

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
        dest = self._path(rel)
        with temp_beside(dest) as tmp:
            size, sha = _copy_verified(Path(path), tmp, dest)
            self._create_from_temp(tmp, dest, sha)
        return StoredFile(uri=str(dest), size=size, sha256=sha, etag=sha)

    def create_json(self, rel: str, obj: Any) -> StoredFile:
        data = json_bytes(obj)
        dest = self._path(rel)
        stored = stored_bytes(str(dest), data, etag=hashlib.sha256(data).hexdigest())
        with temp_beside(dest) as tmp:
            tmp.write_bytes(data)
            self._create_from_temp(tmp, dest, stored.sha256)
        return stored

    def get_json_etag(self, rel: str) -> tuple[Any, str] | None:
        p = self._path(rel)
        if not p.is_file():
            return None
        data = p.read_bytes()
        return parse_json(data, str(p)), hashlib.sha256(data).hexdigest()

    def replace_json(self, rel: str, obj: Any, *, etag: str | None) -> StoredFile:
        data = json_bytes(obj)
        dest = self._path(rel)
        stored = stored_bytes(str(dest), data, etag=hashlib.sha256(data).hexdigest())
        with temp_beside(dest) as tmp:
            tmp.write_bytes(data)
            if etag is None:
                try:
                    self._create_from_temp(tmp, dest, None)
                except ObjectExistsError:
                    raise PreconditionFailedError(
                        f"{dest}: created by another writer since it was read"
                    ) from None
                return stored
            with _locked(dest):
                if _sha256_or_none(dest) != etag:
                    raise PreconditionFailedError(f"{dest}: changed by another writer since it was read")
                os.replace(tmp, dest)
        return stored
