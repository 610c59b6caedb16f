"""Bring a Pascal VOC dataset into the pipeline from an ``s3://`` prefix or archive, or a local path.

Sources, limits, archive rules, the fingerprint and the errors: ``components/ingest/README.md``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import logging
import os
import re
import shutil
import signal
import stat
import tarfile
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

from components._shared.errors import ConfigError, DatasetError
from components._shared.fsio import guard_out_dir, link_or_copy, staged_dir, write_json_atomic
from components._shared.storage import (
    LOCAL,
    Backend,
    Entry,
    backend_for,
    file_digests,
    local_path,
    scheme_of,
    split_uri,
)
from components._shared.storage.limits import RetryPolicy, TransferLimits

log = logging.getLogger(__name__)

GiB = 1024**3
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
ZIP_SUFFIXES = (".zip",)
_SKIPPED_NAMES = re.compile(r"^(\._.*|\.DS_Store|Thumbs\.db)$")
_VOC_SEARCH_DEPTH = 4


@dataclass(frozen=True)
class IngestConfig:
    """Options of ``ingest``.

    Attributes:
        workers: parallel downloads (and hashing threads for local folders).
        max_bytes: refuse archives that expand beyond this, and prefixes larger than this (bytes).
        max_files: refuse archives and prefixes with more members than this.
        require_voc: raise ``DatasetError`` when no ``Annotations/`` folder is found.
        progress: show tqdm progress bars for downloads.
        overwrite: replace an ``out_dir`` holding files ingest did not write.
        connect_timeout_s, read_timeout_s, min_speed_bps, retry_budget_s: S3 limits of every call;
            None keeps the environment's value (``YOLO_KFP_S3_*``) or the documented default.
    """

    workers: int = 8
    max_bytes: int = 20 * GiB
    max_files: int = 200_000
    require_voc: bool = True
    progress: bool = True
    overwrite: bool = False
    connect_timeout_s: float | None = None
    read_timeout_s: float | None = None
    min_speed_bps: int | None = None
    retry_budget_s: float | None = None


@dataclass(frozen=True)
class IngestResult:
    """What ``ingest`` wrote; the same fields are in ``out_dir/ingest.json`` (README.md, "Output")."""

    source: str
    kind: str
    out_dir: Path
    voc_dirs: tuple[Path, ...]
    fingerprint: str
    short_fingerprint: str
    files: int
    bytes: int
    transferred_bytes: int
    seconds: float
    mb_per_s: float
    files_per_s: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (paths as strings)."""
        paths = {"out_dir": str(self.out_dir), "voc_dirs": [str(p) for p in self.voc_dirs]}
        return {**dataclasses.asdict(self), **paths}


def ingest(source: str, out_dir: Path, cfg: IngestConfig = IngestConfig()) -> IngestResult:
    """Fetch, link or extract a VOC dataset into ``out_dir`` (replaced in one rename), with ``ingest.json``.

    Raises:
        DatasetError: unsafe or oversized archive, empty source, no VOC tree.
        StorageError: the object store failed (one line naming the endpoint and the object).
        ConfigError: bad limits, or an ``out_dir`` that overlaps a local source or holds foreign files.
    """
    _check_config(cfg)
    source = str(source)
    out_dir = Path(out_dir).expanduser()
    _guard_output(source, out_dir, cfg)
    start = time.monotonic()
    with _sigterm_cleans_up(), staged_dir(out_dir) as stage:
        kind, fingerprint, transferred = _fetch(source, out_dir, stage, cfg)
        voc_rel = _normalise_voc_tree(stage, source, require=cfg.require_voc)
        files, nbytes = _tree_size(stage)
        seconds = max(time.monotonic() - start, 1e-9)
        result = IngestResult(
            source=source,
            kind=kind,
            out_dir=out_dir,
            voc_dirs=tuple(out_dir / r if r != "." else out_dir for r in voc_rel),
            fingerprint=fingerprint,
            short_fingerprint=fingerprint[:12],
            files=files,
            bytes=nbytes,
            transferred_bytes=transferred,
            seconds=round(seconds, 3),
            mb_per_s=round(nbytes / 1e6 / seconds, 2),
            files_per_s=round(files / seconds, 1),
        )
        write_json_atomic(stage / "ingest.json", {**result.to_dict(), "voc_dirs": voc_rel})
    log.info(
        "ingest: %d files, %.1f MB from %s in %.2fs (%.1f MB/s, %.0f files/s), fingerprint %s",
        files,
        nbytes / 1e6,
        source,
        seconds,
        result.mb_per_s,
        result.files_per_s,
        result.short_fingerprint,
    )
    return result


def _check_config(cfg: IngestConfig) -> None:
    if cfg.workers < 1:
        raise ConfigError(f"workers={cfg.workers}: must be >= 1")
    if cfg.max_bytes < 1 or cfg.max_files < 1:
        raise ConfigError(f"max_bytes={cfg.max_bytes}, max_files={cfg.max_files}: both must be >= 1")
    _remote_options(cfg)  # refuses bad timeouts, speeds and budgets before any work


def _remote_options(cfg: IngestConfig) -> dict[str, Any]:
    """``backend_for`` options: the workers, and the environment's S3 limits and retry policy overridden by
    ``cfg``; ``ConfigError`` for a value out of range."""
    if cfg.retry_budget_s is not None and cfg.retry_budget_s < 0:
        raise ConfigError(f"retry budget {cfg.retry_budget_s}s: must be >= 0")

    def override(base: Any, **values: Any) -> Any:
        return dataclasses.replace(base, **{k: v for k, v in values.items() if v is not None})

    limits = override(
        TransferLimits.from_env(),
        connect_timeout_s=cfg.connect_timeout_s,
        read_timeout_s=cfg.read_timeout_s,
        min_speed_bps=cfg.min_speed_bps,
    )
    retry = override(RetryPolicy.from_env(), deadline_s=cfg.retry_budget_s)
    return {"workers": cfg.workers, "limits": limits, "retry": retry}


def _guard_output(source: str, out_dir: Path, cfg: IngestConfig) -> None:
    """Refuse an ``out_dir`` that would destroy a local source or files ingest did not write."""
    local = local_path(source) if scheme_of(source) == LOCAL else None
    if local is not None and local.is_dir() and local.resolve() in out_dir.resolve().parents:
        raise ConfigError(
            f"--out {out_dir} lies inside the source folder {local}: choose an output outside it "
            "(nothing was changed)"
        )
    guard_out_dir(out_dir, [local], overwrite=cfg.overwrite)


@contextlib.contextmanager
def _sigterm_cleans_up() -> Iterator[None]:
    """Turn SIGTERM (a stopped pod) into ``SystemExit(143)``, which unwinds through ``staged_dir`` like
    Ctrl-C instead of leaving ``.partial`` folders. Does nothing outside the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not interrupt the clean-up
        log.error("ingest: terminated (SIGTERM): removing the partial output")
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _open_remote(uri: str, cfg: IngestConfig) -> Backend:
    """The backend of a remote URI, with this ingest's workers, limits and retry budget."""
    options = _remote_options(cfg)
    log.info("S3 limits: %s, retry budget %gs", options["limits"].describe(), options["retry"].deadline_s)
    return backend_for(uri, **options)


def _fetch(source: str, out_dir: Path, stage: Path, cfg: IngestConfig) -> tuple[str, str, int]:
    """Fill ``stage`` from the source; return ``(kind, fingerprint, bytes transferred)``."""
    scheme = scheme_of(source)
    if scheme != LOCAL:
        if archive_format(source):
            parent, name = split_uri(source)
            fp, n = _fetch_remote_archive(_open_remote(parent, cfg), name, out_dir, stage, cfg)
            return f"{scheme}-archive", fp, n
        fp, n = _fetch_remote_prefix(_open_remote(source, cfg), stage, cfg)
        return f"{scheme}-prefix", fp, n
    path = local_path(source)
    if path.is_dir():
        return "local-folder", _link_local_folder(path, stage, cfg), 0
    if path.is_file() and archive_format(path.name):
        extract_archive(path, stage, label=str(path), max_bytes=cfg.max_bytes, max_files=cfg.max_files)
        size, sha, _ = file_digests(path)
        return "local-archive", fingerprint_listing([(path.name, sha, size)]), 0
    if path.is_file():
        raise DatasetError(
            f"{source}: not a folder or a known archive ({', '.join(TAR_SUFFIXES + ZIP_SUFFIXES)})"
        )
    raise DatasetError(f"{source}: no such file or folder (give a local path or an s3://bucket/prefix/ URI)")


def fingerprint_listing(entries: Iterable[tuple[str, str, int]]) -> str:
    """sha256 over sorted ``(name, etag_or_hash, size)`` triples (the dataset fingerprint)."""
    h = hashlib.sha256(b"yolo-kfp-fingerprint-v1\n")
    for name, tag, size in sorted(entries):
        h.update(f"{name}\t{tag}\t{size}\n".encode())
    return h.hexdigest()


def _fetch_remote_prefix(backend: Backend, stage: Path, cfg: IngestConfig) -> tuple[str, int]:
    """Download every object under the backend's root into ``stage``; fingerprint the listing."""
    source = backend.uri
    log.info("listing %s on %s", source, backend.endpoint)
    objects = backend.list_entries()
    if not objects:
        raise DatasetError(
            f"{source}: no objects under this prefix (check the URI; listed on {backend.endpoint})"
        )
    items: list[tuple[Entry, Path]] = []
    budget = _Budget(source, cfg.max_bytes, cfg.max_files)
    entries = []
    for obj in objects:
        rel = _member_rel(obj.name, label=source, what="object key")
        entries.append((obj.name, obj.etag, obj.size))
        if rel is None:
            continue
        budget.charge(obj.name, obj.size)
        items.append((obj, stage.joinpath(*rel.parts)))
    _check_no_file_dir_clash(items, source)
    total = sum(o.size for o, _ in items)
    log.info("downloading %d objects (%.1f MB) with %d workers", len(items), total / 1e6, cfg.workers)
    backend.get_files(items, desc="ingest", progress=cfg.progress)
    return fingerprint_listing(entries), total


def _check_no_file_dir_clash(items: list[tuple[Entry, Path]], source: str) -> None:
    """Keys ``a`` and ``a/b`` cannot both become files; say so before downloading anything."""
    files = {p for _, p in items}
    for obj, p in items:
        for parent in p.parents:
            if parent in files:
                raise DatasetError(
                    f"{source}: object {obj.name!r} lies under another object's name {parent.name!r}"
                )


def _fetch_remote_archive(
    backend: Backend, name: str, out_dir: Path, stage: Path, cfg: IngestConfig
) -> tuple[str, int]:
    """Download the archive ``name`` beside ``out_dir``, extract it into ``stage``; fingerprint its ETag."""
    info = backend.stat(name)
    uri = info.uri
    if info.size > cfg.max_bytes:
        raise DatasetError(f"{uri}: archive is {info.size} bytes, over the limit max_bytes={cfg.max_bytes}")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".download", dir=out_dir.parent))
    try:
        local = tmp / name
        log.info("downloading %s (%.1f MB)", uri, info.size / 1e6)
        backend.get_files([(info, local)], desc="ingest", progress=cfg.progress)
        extract_archive(local, stage, label=uri, max_bytes=cfg.max_bytes, max_files=cfg.max_files)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return fingerprint_listing([(name, info.etag, info.size)]), info.size


def _link_local_folder(src: Path, stage: Path, cfg: IngestConfig) -> str:
    src_real = src.resolve()
    files = sorted(_walk_files(src_real))
    if not files:
        raise DatasetError(f"{src}: the folder holds no files")

    def one(rel: PurePosixPath) -> tuple[str, str, int]:
        path = src_real.joinpath(*rel.parts)
        dst = stage.joinpath(*rel.parts)
        dst.parent.mkdir(parents=True, exist_ok=True)
        link_or_copy(path.resolve(), dst)
        size, sha, _ = file_digests(path)
        return rel.as_posix(), sha, size

    log.info("linking %d files from %s", len(files), src)
    with ThreadPoolExecutor(max_workers=cfg.workers, thread_name_prefix="ingest-link") as pool:
        entries = list(pool.map(one, files))
    return fingerprint_listing(entries)


def _walk_files(root: Path) -> Iterator[PurePosixPath]:
    """Regular files under ``root``, relative (symlinked files followed, folders not); ``DatasetError`` for a
    symlink out of ``root``, which would hard-link any file the pod can read into the workspace."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__MACOSX"]
        for name in filenames:
            p = Path(dirpath) / name
            if _SKIPPED_NAMES.match(name) or not p.is_file():
                continue
            rel = PurePosixPath(p.relative_to(root).as_posix())
            if p.is_symlink() and not p.resolve().is_relative_to(root):
                raise DatasetError(
                    f"{root}: {rel} is a symlink to a file outside the source folder; ingest does not "
                    "follow links out of the tree (copy the file in, or remove the link)"
                )
            yield rel


def archive_format(name: str) -> str | None:
    """``"tar"``, ``"zip"`` or None, from the file name's suffix."""
    lower = name.lower()
    if lower.endswith(TAR_SUFFIXES):
        return "tar"
    if lower.endswith(ZIP_SUFFIXES):
        return "zip"
    return None


class _Budget:
    """Counts members and bytes; refuses the archive the moment a limit would be crossed."""

    def __init__(self, label: str, max_bytes: int, max_files: int) -> None:
        self.label, self.max_bytes, self.max_files = label, max_bytes, max_files
        self.bytes = self.files = 0

    def charge(self, member: str, size: int) -> None:
        self.files += 1
        self.bytes += max(0, size)
        if self.files > self.max_files:
            raise DatasetError(
                f"{self.label}: more than max_files={self.max_files} members (at {member!r}); "
                "refused as a possible archive bomb (raise the limit if the dataset is really that large)"
            )
        if self.bytes > self.max_bytes:
            raise DatasetError(
                f"{self.label}: expands beyond max_bytes={self.max_bytes} (at member {member!r}, "
                f"{self.bytes} bytes so far); refused as a possible archive bomb"
            )


def _member_rel(name: str, *, label: str, what: str = "member") -> PurePosixPath | None:
    """Validate an archive member / object key; None for entries that are skipped (root, macOS junk)."""
    if "\x00" in name:
        raise DatasetError(f"{label}: {what} {name!r} has a NUL byte in its name")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise DatasetError(f"{label}: {what} {name!r} has an absolute path; refused (nothing extracted)")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise DatasetError(f"{label}: {what} {name!r} contains '..' (path traversal); refused")
    if not parts or parts[0] == "__MACOSX" or _SKIPPED_NAMES.match(parts[-1]):
        return None
    return PurePosixPath(*parts)


def extract_archive(
    archive: Path, dest: Path, *, label: str, max_bytes: int, max_files: int
) -> tuple[int, int]:
    """Safely extract a tar or zip archive into the empty folder ``dest``; return ``(files, bytes)``.

    ``label`` (the archive's URI or path) names it in messages.

    Raises:
        DatasetError: unreadable archive, or a member that is unsafe or over the limits (named).
    """
    budget = _Budget(label, max_bytes, max_files)
    fmt = archive_format(archive.name)
    log.info("extracting %s", label)
    if fmt == "zip":
        _extract_zip(archive, dest, label, budget)
    elif fmt == "tar":
        _extract_tar(archive, dest, label, budget)
    else:
        raise DatasetError(f"{label}: unknown archive type (use {', '.join(TAR_SUFFIXES + ZIP_SUFFIXES)})")
    return budget.files, budget.bytes


def _target(dest: Path, rel: PurePosixPath, label: str) -> Path:
    """The output path of a member, checked to stay inside ``dest`` even through existing folders."""
    path = dest.joinpath(*rel.parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.parent.resolve().is_relative_to(dest.resolve()):
        raise DatasetError(f"{label}: member {rel.as_posix()!r} would be written outside the output folder")
    if path.is_symlink() or path.is_dir():
        raise DatasetError(f"{label}: member {rel.as_posix()!r} clashes with a folder of the same name")
    return path


def _write_member(stream: IO[bytes], path: Path, size: int, label: str, name: str) -> None:
    written = 0
    with open(path, "wb") as fh:
        while chunk := stream.read(1024 * 1024):
            written += len(chunk)
            if written > size:  # never trust a header: stop at the declared size
                raise DatasetError(f"{label}: member {name!r} is larger than its header says; refused")
            fh.write(chunk)


def _link_target(rel: PurePosixPath, linkname: str, *, hard: bool, label: str) -> PurePosixPath:
    """Resolve a link member's target inside the archive, or refuse it when it points outside."""
    kind = "hard link" if hard else "symlink"
    if linkname.startswith("/") or re.match(r"^[A-Za-z]:", linkname):
        raise DatasetError(
            f"{label}: member {rel.as_posix()!r} is a {kind} to {linkname!r}, outside the archive"
        )
    base = [] if hard else list(rel.parent.parts)  # tar hard links are relative to the archive root
    parts: list[str] = []
    for p in base + linkname.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if not parts:
                raise DatasetError(
                    f"{label}: member {rel.as_posix()!r} is a {kind} to {linkname!r}, outside the archive"
                )
            parts.pop()
        else:
            parts.append(p)
    if not parts:
        raise DatasetError(f"{label}: member {rel.as_posix()!r} is a {kind} to the archive root; refused")
    return PurePosixPath(*parts)


def _materialise_link(
    dest: Path, rel: PurePosixPath, target: PurePosixPath, label: str, budget: _Budget
) -> None:
    """Links inside the archive become copies of an already extracted file (no link is ever created)."""
    src = dest.joinpath(*target.parts)
    if src.is_symlink() or not src.is_file():
        raise DatasetError(
            f"{label}: member {rel.as_posix()!r} links to {target.as_posix()!r}, which is not a file "
            "extracted before it (links to folders or to later members are not supported)"
        )
    budget.charge(rel.as_posix(), src.stat().st_size)
    shutil.copyfile(src, _target(dest, rel, label))


def _extract_tar(archive: Path, dest: Path, label: str, budget: _Budget) -> None:
    try:
        with tarfile.open(archive, "r:*") as tf:
            for m in tf:
                _extract_tar_member(tf, m, dest, label, budget)
    except (tarfile.TarError, EOFError, OSError) as err:
        raise DatasetError(f"{label}: not a readable tar archive ({' '.join(str(err).split())})") from err


def _extract_tar_member(
    tf: tarfile.TarFile, m: tarfile.TarInfo, dest: Path, label: str, budget: _Budget
) -> None:
    rel = _member_rel(m.name, label=label)
    if m.ischr() or m.isblk() or m.isfifo():
        kind = "FIFO" if m.isfifo() else "device file"
        raise DatasetError(f"{label}: member {m.name!r} is a {kind}; refused")
    if rel is None:
        return
    if m.isdir():
        _target(dest, rel / "_", label).parent.mkdir(parents=True, exist_ok=True)
    elif m.issym() or m.islnk():
        target = _link_target(rel, m.linkname, hard=m.islnk(), label=label)
        _materialise_link(dest, rel, target, label, budget)
    elif m.isreg():
        budget.charge(m.name, m.size)
        stream = tf.extractfile(m)
        if stream is None:
            raise DatasetError(f"{label}: member {m.name!r} cannot be read")
        with stream:
            _write_member(stream, _target(dest, rel, label), m.size, label, m.name)
    else:
        raise DatasetError(f"{label}: member {m.name!r} has an unsupported type ({m.type!r}); refused")


def _extract_zip(archive: Path, dest: Path, label: str, budget: _Budget) -> None:
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            # The central directory is read up front: refuse a bomb before writing a byte.
            upfront = _Budget(label, budget.max_bytes, budget.max_files)
            for i in infos:
                if not i.is_dir():
                    upfront.charge(i.filename, i.file_size)
            for info in infos:
                _extract_zip_member(zf, info, dest, label, budget)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as err:
        raise DatasetError(f"{label}: not a readable zip archive ({' '.join(str(err).split())})") from err


def _extract_zip_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, dest: Path, label: str, budget: _Budget
) -> None:
    name = info.filename.replace("\\", "/")
    rel = _member_rel(name, label=label)
    mode = info.external_attr >> 16
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        raise DatasetError(f"{label}: member {name!r} is a device file or FIFO; refused")
    if rel is None:
        return
    if info.flag_bits & 0x1:
        raise DatasetError(f"{label}: member {name!r} is encrypted; give an unencrypted archive")
    if info.is_dir():
        _target(dest, rel / "_", label).parent.mkdir(parents=True, exist_ok=True)
    elif stat.S_ISLNK(mode):
        linkname = zf.read(info).decode("utf-8", errors="replace")
        _materialise_link(dest, rel, _link_target(rel, linkname, hard=False, label=label), label, budget)
    else:
        budget.charge(name, info.file_size)
        with zf.open(info) as stream:
            _write_member(stream, _target(dest, rel, label), info.file_size, label, name)


def _visible_children(folder: Path) -> list[Path]:
    return [c for c in folder.iterdir() if not c.name.startswith(".") and c.name != "__MACOSX"]


def _normalise_voc_tree(stage: Path, source: str, *, require: bool) -> list[str]:
    """Lift a single nested VOC root to the top; return the VOC roots relative to ``stage`` (``"."``)."""
    cur = stage
    while not (cur / "Annotations").is_dir():
        kids = _visible_children(cur)
        if len(kids) != 1 or not kids[0].is_dir() or kids[0].is_symlink():
            break
        cur = kids[0]
    if cur != stage and (cur / "Annotations").is_dir():
        _hoist(cur, stage)
    roots = _find_voc_roots(stage)
    if not roots and require:
        raise DatasetError(
            f"{source}: no Annotations/ folder found (expected a Pascal VOC tree: Annotations/*.xml, JPEGImages/*)"
        )
    for r in roots:
        if not (stage / r / "JPEGImages").is_dir():
            log.warning("%s: VOC root %s has Annotations/ but no JPEGImages/", source, r)
    return roots


def _hoist(voc_root: Path, stage: Path) -> None:
    top = stage / voc_root.relative_to(stage).parts[0]
    tmp = stage / f".hoist-{os.getpid()}"
    os.rename(voc_root, tmp)
    if top.exists():  # the rest of the chain (only empty, hidden or __MACOSX entries)
        shutil.rmtree(top)
    for child in tmp.iterdir():
        target = stage / child.name
        if target.exists():  # only hidden / __MACOSX leftovers can be in the way
            shutil.rmtree(target) if target.is_dir() else target.unlink()
        os.rename(child, target)
    tmp.rmdir()


def _find_voc_roots(stage: Path) -> list[str]:
    roots: list[str] = []
    frontier = [stage]
    for _ in range(_VOC_SEARCH_DEPTH + 1):
        nxt = []
        for folder in frontier:
            if (folder / "Annotations").is_dir():
                roots.append(folder.relative_to(stage).as_posix() or ".")
            else:
                nxt += [c for c in _visible_children(folder) if c.is_dir() and not c.is_symlink()]
        frontier = nxt
    return sorted(roots)


def _tree_size(root: Path) -> tuple[int, int]:
    files = nbytes = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            files += 1
            nbytes += os.lstat(os.path.join(dirpath, name)).st_size
    return files, nbytes
