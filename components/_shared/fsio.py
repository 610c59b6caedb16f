"""Atomic file-system writes and output-folder guards: nothing half-written shows under its final name."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from components._shared.errors import ConfigError, StorageError

OUTPUT_MARKER = ".yolo-kfp-output.json"  # the files a stage wrote into its output folder
# A write refused for lack of room: a full disk, an exhausted quota, a file over the size limit.
NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def temp_beside(path: Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A new temp file name in ``path``'s folder for the block to write and rename; removed if the block fails."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; other pods' users must read it
        yield Path(tmp)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with temp_beside(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented, key-sorted JSON atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


@contextlib.contextmanager
def staged_dir(out_dir: Path) -> Iterator[Path]:
    """Yield a temp folder beside ``out_dir`` that replaces it in one rename on success (removed on error)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; the next task may run as another user
    try:
        yield tmp
        files = sorted(files_under(tmp))
        write_json_atomic(tmp / OUTPUT_MARKER, {"files": [f for f in files if f != OUTPUT_MARKER]})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out_dir)


def files_under(root: Path) -> list[str]:
    """Relative POSIX paths of everything below ``root`` but folders (one ``scandir`` per folder)."""
    found = []
    for folder, _subdirs, names in os.walk(root):
        rel = os.path.relpath(folder, root)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        found.extend(prefix + name for name in names)
    return found


def link_or_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Hard-link ``src`` to ``dst``; copy only when a link is impossible (other file system)."""
    try:
        os.link(src, dst)
    except OSError:
        # a copy that fails half-way (a full disk) must not leave a truncated file under its final name
        with temp_beside(Path(dst), ".partial") as tmp:
            shutil.copy2(src, tmp)
            os.replace(tmp, dst)


@contextlib.contextmanager
def no_room_as_storage_error(where: Path, outcome: str) -> Iterator[None]:
    """Turn a write refused for lack of room (``NO_ROOM``) under ``where`` into one ``StorageError`` line."""
    try:
        yield
    except OSError as err:
        if err.errno not in NO_ROOM:
            raise
        path = err.filename2 or err.filename  # a copy names its source first, the file it wrote second
        writing = f" writing {path}" if path else ""
        raise StorageError(
            f"{where}: {err.strerror}{writing}: {outcome}; free space on the file system of {where} "
            "(or choose another --out) and run again"
        ) from err


def overlap(out: Path, inp: Path) -> str | None:
    """How ``out`` overlaps ``inp``: ``is``, ``contains``, ``lies inside``, or None."""
    if out == inp:
        return "is"
    if out in inp.parents:
        return "contains"
    if inp in out.parents:
        return "lies inside"
    return None


def foreign_files(out_dir: Path) -> list[str]:
    """Files in ``out_dir`` that no stage recorded as its own output (sorted, relative)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    marker = out_dir / OUTPUT_MARKER
    own: set[str] = set()
    if marker.is_file():
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            own = {str(f) for f in json.loads(marker.read_text(encoding="utf-8")).get("files", [])}
    return sorted(f for f in files_under(out_dir) if f != OUTPUT_MARKER and f not in own)


def guard_out_dir(
    out_dir: Path, inputs: Sequence[Path | None], *, overwrite: bool = False, flag: str = "--out"
) -> None:
    """ConfigError for an ``out_dir`` that overlaps an input, is a file, or holds files no stage wrote.

    ``overwrite`` allows the last; ``flag`` names the option in messages.
    """
    out = Path(out_dir).expanduser().resolve()
    for inp in inputs:
        if inp is None:
            continue
        where = overlap(out, Path(inp).expanduser().resolve())
        if where:
            raise ConfigError(
                f"{flag} {out_dir} {where} the input {inp}: the stage replaces its output folder, "
                "so it must be a folder of its own (nothing was changed)"
            )
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{flag} {out_dir} is a file, not a folder")
    foreign = foreign_files(out)
    if foreign and not overwrite:
        raise ConfigError(
            f"{flag} {out_dir} holds {len(foreign)} file(s) this stage did not write (e.g. {foreign[0]}); "
            "choose an empty folder or pass --overwrite to replace them"
        )
