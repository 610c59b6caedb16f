"""Pascal VOC trees -> one YOLO-format dataset folder (images, labels, classes.txt, report.json).

The box convention, every skip reason and the worker pool (whose result does not depend on the worker
count): README.md.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import logging
import math
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, TypeVar
from xml.etree import ElementTree as ET
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET
from tqdm import tqdm

from components._shared.dataset import IMAGE_SUFFIXES, TRAINER_MIN_SIDE, jpeg_lacks_end_marker
from components._shared.errors import ConfigError, DatasetError, StorageError
from components._shared.fsio import guard_out_dir, link_or_copy, staged_dir, write_json_atomic
from components.convert.imagesize import probe

log = logging.getLogger(__name__)

# File skip reason: a control character (newline, tab, ...) in the XML's or the image's file name would
# corrupt the line-per-image lists (train.txt) downstream.
CONTROL_CHAR = "control_char_in_name"

# Parsing is CPU-bound: threads were slower than one process (GIL); a process pool breaks even at
# 250-500 files on 2 cores (measurements in README.md).
_PROCESS_POOL_MIN_FILES = 500
# Work goes to the pool in lists of files (one round trip each): about 8 per worker, at most this many
# files, so that the main process is not the bottleneck and the last list does not run alone for long.
_CHUNK_MAX = 512
_COORDS = ("xmin", "ymin", "xmax", "ymax")
# A file name is at most 255 bytes (NAME_MAX); output stems are shortened to leave room for the suffix.
_NAME_MAX = 255
# EXIF orientations that swap width and height (transpose, rotate 90, transverse, rotate 270)
_SWAPS_SIDES = frozenset({5, 6, 7, 8})
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class ConvertConfig:
    """Options of ``convert_voc``.

    Attributes:
        classes: class order; ``None`` means the sorted names of the objects that are written.
        include_difficult: keep objects marked ``difficult=1`` (left out by default).
        strict: an object whose class is not in ``classes`` is an error instead of a skip.
        workers: parser processes; ``None`` = one per usable CPU; ``0``/``1`` or < 500 XML files: in-process.
        overwrite: replace an ``--out`` folder holding files this stage did not write (never an input).
    """

    classes: tuple[str, ...] | None = None
    include_difficult: bool = False
    strict: bool = False
    workers: int | None = None
    overwrite: bool = False


@dataclass(frozen=True)
class ConvertResult:
    """What ``convert_voc`` wrote; the same numbers are in ``out_dir/report.json``."""

    out_dir: Path
    images: int
    background_images: int
    objects_in: int
    objects_written: int
    skipped: dict[str, int]
    files_skipped: dict[str, str]
    classes: tuple[str, ...]
    per_class: dict[str, int]
    clipped: int
    renamed: dict[str, str]
    size_from_image: int
    size_mismatch: tuple[str, ...]
    xml_files: int
    images_without_xml: int
    seconds: float
    files_per_second: float
    class_spellings: dict[str, dict[str, int]] = field(default_factory=dict)
    exif_rotated: int = 0
    repaired: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (paths as strings, tuples as lists)."""
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        d["classes"] = list(self.classes)
        d["size_mismatch"] = list(self.size_mismatch)
        return d


# The records below cross process boundaries by the ten thousand, so what crosses is plain tuples of
# str/bool (several times cheaper to pickle than dataclasses of Path objects, or named tuples).

# One <object>: (name, difficult, coords, reason, clipped). coords is "x_c y_c w h" (normalised, six
# decimals), or None when the box is dropped for the geometric ``reason``.
_Object = tuple[str, bool, "str | None", "str | None", bool]
# What a worker sends back per XML: (index of the image in ``_Job.images`` or -1, file-level skip
# reason, objects, size_from_image, size_mismatch, exif_rotated, repair reason).
_Outcome = tuple[int, "str | None", tuple[_Object, ...], bool, bool, bool, "str | None"]
# One output pair: (source image path, file name under images/, file name under labels/, label bytes,
# repair reason: write a re-encoded copy instead of a link when set).
_Write = tuple[str, str, str, bytes, "str | None"]


class _Job(NamedTuple):
    xml: str  # path of the XML file (as ``str(tree / "Annotations" / name)``)
    tree: int  # position of its VOC folder in ``voc_dirs``
    images: tuple[str, ...]  # paths of the image files with the XML's stem, sorted
    clash: bool = False  # another XML of this tree has the same stem (b.xml + b.XML): both are skipped


class _Parsed(NamedTuple):
    xml: str
    tree: int
    image: str | None = None
    reason: str | None = None  # file-level skip reason
    objects: tuple[_Object, ...] = ()
    size_from_image: bool = False
    size_mismatch: bool = False
    exif_rotated: bool = False  # boxes moved from the stored frame to the upright one the trainer sees
    repair: str | None = None  # why the image is written as a re-encoded copy


@dataclass
class _Tally:
    skipped: Counter[str] = field(default_factory=Counter)
    per_class: Counter[str] = field(default_factory=Counter)
    objects_in: int = 0
    written: int = 0
    clipped: int = 0
    background: int = 0
    exif_rotated: int = 0
    repaired: Counter[str] = field(default_factory=Counter)


def parse_classes(value: str) -> tuple[str, ...]:
    """Class names (tidied by ``class_name``) from ``a,b,c`` or a file of one name per line (``#`` ignored).

    Raises:
        ConfigError: an empty list, a name given twice (in any case), or a path to a missing file.
    """
    path = Path(value).expanduser()
    if not path.is_file() and ("/" in value or os.sep in value or value.strip().lower().endswith(".txt")):
        raise ConfigError(
            f"--classes {value}: file not found (a class list file has one name per line; "
            "give names as a,b,c)"
        )
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        names = [class_name(ln) for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    else:
        names = [class_name(n) for n in value.split(",") if n.strip()]
    if not names:
        raise ConfigError(
            f"--classes {value!r}: no class names (give a,b,c or a file with one name per line)"
        )
    dupes = sorted(n for n, c in Counter(names).items() if c > 1)
    if dupes:
        raise ConfigError(f"--classes {value!r}: {', '.join(dupes)} given more than once")
    folded: dict[str, list[str]] = {}
    for n in names:
        folded.setdefault(n.casefold(), []).append(n)
    clashes = [" and ".join(group) for group in folded.values() if len(group) > 1]
    if clashes:
        raise ConfigError(
            f"--classes {value!r}: {'; '.join(clashes)} differ only in case, and class names are matched "
            "regardless of case; keep one spelling"
        )
    return tuple(names)


def class_name(raw: str) -> str:
    """A class name as one trimmed line (a newline in ``<name>`` would split a line of classes.txt)."""
    return " ".join(raw.split())


def convert_voc(voc_dirs: Sequence[Path], out_dir: Path, cfg: ConvertConfig) -> ConvertResult:
    """Convert Pascal VOC trees into one YOLO dataset folder; return the counts written to ``report.json``.

    Raises:
        DatasetError: a folder is missing, nothing usable was found, or ``strict`` met an unknown class.
        ConfigError: a folder given twice, or an ``out_dir`` that overlaps a tree or holds foreign files.
    """
    start = time.perf_counter()
    guard_out_dir(Path(out_dir), list(voc_dirs), overwrite=cfg.overwrite, flag="--out")
    if cfg.workers is not None and cfg.workers < 0:
        raise ConfigError(f"workers={cfg.workers}: must be 0 or more (0 or 1 parse in-process)")
    trees = _check_trees(voc_dirs)
    jobs, orphans = _collect_jobs(trees)
    log.debug(
        "convert: %d XML files in %d tree(s), classes=%s, include_difficult=%s, strict=%s",
        len(jobs),
        len(trees),
        ",".join(cfg.classes) if cfg.classes else "auto",
        cfg.include_difficult,
        cfg.strict,
    )
    with _pool(len(jobs), cfg.workers) as (pool, workers):
        parsed = _parse_all(jobs, pool, workers)
        usable = _require_usable(parsed, trees)
        canon, spellings = _canonical_names(usable, cfg.classes)
        classes = cfg.classes or _found_classes(usable, cfg.include_difficult, canon)
        if cfg.strict and cfg.classes:
            _check_strict(usable, cfg.classes, canon)
        names = _output_names(usable, trees)
        tally, writes = _plan_dataset(usable, names, classes, cfg.include_difficult, canon)
        if cfg.classes and not tally.written and tally.skipped["unknown_class"]:
            _refuse_unmatched_classes(cfg.classes, usable, canon)
        with _disk_errors(out_dir), staged_dir(out_dir) as tmp:
            _write_dataset(tmp, writes, classes, pool, workers)
            seconds = time.perf_counter() - start
            result = ConvertResult(
                out_dir=Path(out_dir),
                images=len(usable),
                background_images=tally.background,
                objects_in=tally.objects_in,
                objects_written=tally.written,
                skipped=dict(sorted(tally.skipped.items())),
                files_skipped={p.xml: p.reason for p in parsed if p.reason is not None},
                classes=tuple(classes),
                per_class={c: tally.per_class[c] for c in classes},
                clipped=tally.clipped,
                renamed={p.xml: names[p.xml] for p in usable if names[p.xml] != _xml_stem(p.xml)},
                size_from_image=sum(p.size_from_image for p in usable),
                size_mismatch=tuple(p.xml for p in usable if p.size_mismatch),
                xml_files=len(jobs),
                images_without_xml=orphans,
                seconds=round(seconds, 3),
                files_per_second=round(len(jobs) / seconds, 1) if seconds > 0 else 0.0,
                class_spellings=spellings,
                exif_rotated=tally.exif_rotated,
                repaired=dict(sorted(tally.repaired.items())),
            )
            (tmp / "report.md").write_text(render_markdown(result), encoding="utf-8")
            write_json_atomic(tmp / "report.json", result.to_dict())  # last: its presence means complete
    _log_summary(result)
    return result


def render_markdown(result: ConvertResult, max_files: int = 50) -> str:
    """The report as Markdown (for the KFP UI): totals, objects per class, skip reasons, skipped files."""
    rows = [
        ("images", result.images),
        ("background images", result.background_images),
        ("objects in / written", f"{result.objects_in} / {result.objects_written}"),
        ("boxes clipped to the image", result.clipped),
        ("XML files / skipped", f"{result.xml_files} / {len(result.files_skipped)}"),
        ("images without XML", result.images_without_xml),
        ("EXIF-rotated images (boxes moved to the upright frame)", result.exif_rotated),
        ("images repaired into a copy", ", ".join(f"{r} {n}" for r, n in result.repaired.items()) or 0),
        ("files per second", result.files_per_second),
    ]
    out = ["# convert report", "", "| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), ""]
    out += ["## Objects per class", "", "| class | objects |", "|---|---|"]
    out += [f"| {c} | {n} |" for c, n in result.per_class.items()] + [""]
    if result.class_spellings:
        out += ["## Class spellings merged", "", "| class | other spellings (objects) |", "|---|---|"]
        for c, other in result.class_spellings.items():
            merged = ", ".join(f"{_printable(s)!s} ({n})" for s, n in other.items())
            out.append(f"| {c} | {merged} |")
        out.append("")
    if result.skipped:
        out += ["## Objects skipped", "", "| reason | objects |", "|---|---|"]
        out += [f"| {r} | {n} |" for r, n in result.skipped.items()] + [""]
    if result.files_skipped:
        out += ["## Files skipped", "", "| file | reason |", "|---|---|"]
        items = list(result.files_skipped.items())
        out += [f"| {_printable(Path(f).name)} | {r} |" for f, r in items[:max_files]]
        if len(items) > max_files:
            out.append(f"| ... {len(items) - max_files} more (see report.json) | |")
        out.append("")
    return "\n".join(out)


def _check_trees(voc_dirs: Sequence[Path]) -> list[Path]:
    if not voc_dirs:
        raise DatasetError("no VOC folder given (pass --source DIR with Annotations/ and JPEGImages/)")
    trees = [Path(d).expanduser() for d in voc_dirs]
    for tree in trees:
        if not tree.is_dir():
            raise DatasetError(f"{tree}: VOC folder not found")
        for sub in ("Annotations", "JPEGImages"):
            if not (tree / sub).is_dir():
                raise DatasetError(f"{tree}: no {sub}/ folder (a VOC tree has Annotations/ and JPEGImages/)")
    resolved = [t.resolve() for t in trees]
    dupes = sorted({str(t) for t in resolved if resolved.count(t) > 1})
    if dupes:
        raise ConfigError(f"{', '.join(dupes)}: VOC folder given more than once")
    return trees


def _require_usable(parsed: Sequence[_Parsed], trees: Sequence[Path]) -> list[_Parsed]:
    """The files that can be converted; one-line DatasetError with the reasons when there are none."""
    usable = [p for p in parsed if p.reason is None]
    if not usable:
        reasons = Counter(p.reason for p in parsed)
        detail = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) or "no Annotations/*.xml files"
        raise DatasetError(
            f"{', '.join(map(str, trees))}: no usable annotation/image pair ({detail}); "
            "each Annotations/<stem>.xml needs a readable JPEGImages/<stem>.<jpg|png|...>"
        )
    return usable


def _plan_dataset(
    usable: Sequence[_Parsed],
    names: dict[str, str],
    classes: Sequence[str],
    include_difficult: bool,
    canon: dict[str, str],
) -> tuple[_Tally, list[_Write]]:
    """Each usable file's label bytes and output names, and the counts (``canon``: ``_canonical_names``)."""
    tally = _Tally()
    ids = {c: i for i, c in enumerate(classes)}
    index = {raw: ids[c] for raw, c in canon.items() if c in ids}
    writes = []
    for p in usable:
        assert p.image is not None  # usable files always have one
        lines = _label_lines(p.objects, index, classes, include_difficult, tally)
        tally.exif_rotated += p.exif_rotated
        if p.repair:
            tally.repaired[p.repair] += 1
        name = names[p.xml]
        suffix = _split_name(os.path.basename(p.image))[1].lower()
        label = "".join(f"{ln}\n" for ln in lines).encode("utf-8")
        writes.append((p.image, f"{name}{suffix}", f"{name}.txt", label, p.repair))
    return tally, writes


def _canonical_names(
    parsed: Iterable[_Parsed], given: Sequence[str] | None
) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """``(raw name -> class name, {class name: {other spelling: objects}})``: names equal up to case are
    one class, spelled as ``given`` or most objects spell it (rule in README.md)."""
    counts: Counter[str] = Counter(name for p in parsed for name, *_ in p.objects if name)
    by_key: dict[str, Counter[str]] = {}
    for raw, n in counts.items():
        by_key.setdefault(class_name(raw).casefold(), Counter())[raw] += n
    listed = {c.casefold(): c for c in given or ()}
    canon: dict[str, str] = {}
    spellings: dict[str, dict[str, int]] = {}
    for key, raws in by_key.items():
        tidy: Counter[str] = Counter()
        for raw, n in raws.items():
            tidy[class_name(raw)] += n
        chosen = listed.get(key) or min(tidy, key=lambda t: (-tidy[t], t))
        canon.update(dict.fromkeys(raws, chosen))
        other = {raw: n for raw, n in sorted(raws.items()) if raw != chosen}
        if other:
            spellings[chosen] = other
    return canon, dict(sorted(spellings.items()))


def _refuse_unmatched_classes(given: Sequence[str], parsed: Iterable[_Parsed], canon: dict[str, str]) -> None:
    """``--classes`` named only classes no object has: one line naming the classes that were found."""
    found = sorted({canon[name] for p in parsed for name, *_ in p.objects if name})
    shown = ", ".join(found[:30]) + (f" and {len(found) - 30} more" if len(found) > 30 else "")
    raise DatasetError(
        f"--classes {', '.join(given)}: no object has any of these classes (classes found: {shown}); "
        "fix the spelling or leave --classes out to use the classes found"
    )


@contextlib.contextmanager
def _disk_errors(out_dir: Path) -> Iterator[None]:
    """A failed write (full disk, quota, read-only folder) as one ``StorageError`` line."""
    try:
        yield
    except OSError as err:
        raise StorageError(
            f"{out_dir}: cannot write the converted dataset ({err.strerror or err.__class__.__name__}); "
            "free some space or choose another --out (nothing was written)"
        ) from err


def _write_dataset(
    tmp: Path, writes: list[_Write], classes: Sequence[str], pool: ProcessPoolExecutor | None, workers: int
) -> None:
    """Link the images, write labels and classes.txt; in the pool, as ~2 files per image are most of the
    system time of a conversion."""
    (tmp / "images").mkdir()
    (tmp / "labels").mkdir()
    for _ in _map_chunks(functools.partial(_write_chunk, str(tmp)), writes, pool, workers):
        pass
    (tmp / "classes.txt").write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")


def _write_chunk(tmp: str, writes: Sequence[_Write]) -> int:
    """Hard-link (else copy) each image to ``tmp/images`` and write its label file to ``tmp/labels``."""
    images, labels = os.path.join(tmp, "images", ""), os.path.join(tmp, "labels", "")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
    for image, image_name, label_name, label, repair in writes:
        if repair:
            _write_repaired(image, images + image_name)
        else:
            link_or_copy(image, images + image_name)
        fd = os.open(labels + label_name, flags, 0o666)  # unbuffered; the umask applies, as for open()
        try:
            data = memoryview(label)
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)
    return len(writes)


def _write_repaired(image: str, dst: str) -> None:
    """Write a re-encoded, upright copy of a JPEG the trainer would restore, as Ultralytics would restore it
    (``check_image``: EXIF orientation applied, quality 100, no chroma subsampling), but never in place."""
    from PIL import Image, ImageOps

    with Image.open(image) as im:
        upright = ImageOps.exif_transpose(im)
        upright.save(dst, "JPEG", subsampling=0, quality=100)


def _collect_jobs(trees: Sequence[Path]) -> tuple[list[_Job], int]:
    """One job per XML (sorted per tree, trees in order) and the count of unannotated images; ``scandir``
    gives the file type with the listing, so regular files cost no ``stat``."""
    jobs: list[_Job] = []
    orphans = 0
    for i, tree in enumerate(trees):
        by_stem: dict[str, list[str]] = {}
        with os.scandir(tree / "JPEGImages") as entries:
            for e in entries:
                stem, suffix = _split_name(e.name)
                if suffix.lower() in IMAGE_SUFFIXES and _is_file(e):
                    by_stem.setdefault(stem, []).append(e.path)
        with os.scandir(tree / "Annotations") as entries:
            xmls = sorted(
                (e.path, stem)
                for e in entries
                for stem, suffix in (_split_name(e.name),)
                if suffix.lower() == ".xml" and _is_file(e)
            )
        per_stem = Counter(stem for _, stem in xmls)  # b.xml and b.XML both claim image b
        jobs.extend(
            _Job(xml, i, tuple(sorted(by_stem.get(stem, ()))), per_stem[stem] > 1) for xml, stem in xmls
        )
        annotated = {stem for _, stem in xmls}
        orphans += sum(1 for stem in by_stem if stem not in annotated)
    return jobs, orphans


def _split_name(name: str) -> tuple[str, str]:
    """``(stem, suffix)`` of a file name, exactly as ``pathlib.PurePath.stem`` and ``.suffix`` split it."""
    i = name.rfind(".")
    return (name[:i], name[i:]) if 0 < i < len(name) - 1 else (name, "")


def _xml_stem(xml: str) -> str:
    return _split_name(os.path.basename(xml))[0]


def _is_file(entry: os.DirEntry[str]) -> bool:
    """``Path.is_file()`` for a directory entry: False for dangling links and link loops."""
    try:
        return entry.is_file()
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP):
            return False
        raise


@contextlib.contextmanager
def _pool(files: int, workers: int | None) -> Iterator[tuple[ProcessPoolExecutor | None, int]]:
    """A process pool and its size, or ``(None, 1)`` for in-process work (small trees, ``workers`` <= 1)."""
    n = workers if workers is not None else len(os.sched_getaffinity(0))
    if n <= 1 or files < _PROCESS_POOL_MIN_FILES:
        yield None, 1
        return
    with ProcessPoolExecutor(max_workers=n) as pool:
        yield pool, n


def _map_chunks(
    fn: Callable[[Sequence[_T]], _R], items: Sequence[_T], pool: ProcessPoolExecutor | None, workers: int
) -> Iterator[_R]:
    """``fn`` over consecutive slices of ``items``, in the pool when there is one; results in order."""
    size = max(1, min(_CHUNK_MAX, -(-len(items) // (workers * 8))))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    return pool.map(fn, chunks) if pool is not None else map(fn, chunks)


def _parse_all(jobs: list[_Job], pool: ProcessPoolExecutor | None, workers: int) -> list[_Parsed]:
    """Parse every job, in the pool when there is one; the output keeps the jobs' order."""
    outcomes: list[_Outcome] = []
    with tqdm(total=len(jobs), desc="convert", unit="file", disable=None, leave=False) as bar:
        for part in _map_chunks(_parse_chunk, jobs, pool, workers):
            outcomes.extend(part)
            bar.update(len(part))
    return [
        _Parsed(job.xml, job.tree, job.images[i] if i >= 0 else None, *rest)
        for job, (i, *rest) in zip(jobs, outcomes, strict=True)
    ]


def _parse_chunk(jobs: Sequence[_Job]) -> list[_Outcome]:
    return [_parse_file(j) for j in jobs]


_CONTROL_CHAR = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _has_control_char(name: str) -> bool:
    """True for C0/C1 control characters and line separators (a newline would split a list file's line)."""
    return _CONTROL_CHAR.search(name) is not None


def _printable(name: str) -> str:
    """A file name for the Markdown report: control characters shown escaped."""
    return repr(name)[1:-1] if _has_control_char(name) else name


def _skip(i: int, reason: str) -> _Outcome:
    return i, reason, (), False, False, False, None


def _parse_file(job: _Job) -> _Outcome:
    """Parse one XML and check its image; never raises for bad input (it returns a skip reason)."""
    if _has_control_char(os.path.basename(job.xml)):
        return _skip(-1, CONTROL_CHAR)
    if job.clash:
        return _skip(-1, "same_stem_xml")
    try:
        root = _parse_xml(_read_file(job.xml))
    except (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        return _skip(-1, "unsafe_xml")
    except (ParseError, ValueError, LookupError):  # LookupError: an encoding Python does not know
        return _skip(-1, "malformed_xml")
    except OSError:
        return _skip(-1, "unreadable_xml")
    if root.tag.lower() != "annotation":
        return _skip(-1, "not_voc_xml")
    i = _pick_image(job, root)
    if i < 0:
        return _skip(-1, "missing_image")
    if _has_control_char(os.path.basename(job.images[i])):
        return _skip(-1, CONTROL_CHAR)
    real, reason, orientation, repair = _inspect_image(job.images[i])
    if real is None:
        return _skip(i, reason or "unreadable_image")
    declared = _declared_size(root)
    width, height = declared or real
    upright = (real[1], real[0]) if orientation in _SWAPS_SIDES else real
    # EXIF rule: boxes are in the stored frame unless <size> declares the upright frame (sides swapped);
    # either way the label is written in the upright frame, the one Ultralytics decodes (cv2 applies it)
    rotate = orientation if orientation > 1 and not (declared == upright != real) else 1
    objects = tuple([_parse_object(obj, width, height, rotate) for obj in root.findall("object")])
    mismatch = declared is not None and declared not in (real, upright)
    return i, None, objects, declared is None, mismatch, rotate > 1, repair


def _read_file(path: str) -> bytes:
    """The whole file (``os.read`` directly: a buffered file object costs more than reading a small XML)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        parts = []
        while part := os.read(fd, 1 << 16):
            parts.append(part)
    finally:
        os.close(fd)
    return b"".join(parts)


def _parse_xml(data: bytes) -> Element:
    """The document's root element, never expanding entities or fetching anything.

    Entities and external references need a DTD (``<!``). Expat reads only UTF-8, UTF-16 (a zero byte in
    every ASCII character) or 8-bit encodings where ``<`` and ``!`` are ASCII, so bytes without ``<!`` and
    without a zero byte hold no DTD and the faster C parser is safe. Everything else, and whatever the C
    parser rejects, goes through defusedxml (``unsafe_xml``), so a bad file meets the same error as before.
    """
    if b"<!" not in data and b"\x00" not in data:
        with contextlib.suppress(Exception):
            return ET.fromstring(data)
    return SafeET.fromstring(data)


def _pick_image(job: _Job, root: Element) -> int:
    """Index of the image with the XML's stem (when several share it, the one ``<filename>`` names, else
    the first), or -1 when there is none."""
    if not job.images:
        return -1
    filename = (root.findtext("filename") or "").strip()
    for i, img in enumerate(job.images):
        if os.path.basename(img) == filename:
            return i
    return 0


def _inspect_image(image: str) -> tuple[tuple[int, int] | None, str | None, int, str | None]:
    """``(stored size or None, skip reason, EXIF orientation (1: upright), repair reason)`` of an image.

    Mirrors Ultralytics' ``check_image`` (``ultralytics/data/utils.py``, 8.4): it drops an unverifiable
    image or a side below 10 px, and re-saves in place a JPEG without EOI marker, which is decoded here:
    skipped when truncated, else given a repaired copy (``_write_repaired``).
    """
    (size, lacks_eoi), orientation = probe(image), 1
    if size is None:
        size, reason, orientation = _pil_size(image)
        if size is None:
            return None, reason, 1, None
        try:
            lacks_eoi = jpeg_lacks_end_marker(image)
        except OSError:
            return None, "unreadable_image", 1, None
    if min(size) < TRAINER_MIN_SIDE:
        return None, "image_too_small", 1, None
    if lacks_eoi is None:  # not a JPEG
        return (
            (size, None, orientation, None)
            if _pil_reads(image, decode=False)
            else (None, "unreadable_image", 1, None)
        )
    if lacks_eoi:
        if not _pil_reads(image, decode=True):
            return None, "truncated_image", 1, None
        return size, None, orientation, "jpeg_without_end_marker"
    return size, None, orientation, None


def _pil_size(image: str) -> tuple[tuple[int, int] | None, str | None, int]:
    """Width, height and EXIF orientation by PIL (header only), or a skip reason."""
    from PIL import Image  # imported here: only the parsing workers need it

    try:
        if os.stat(image).st_size == 0:
            return None, "empty_image", 1
        with Image.open(image) as im:
            w, h = im.size
            orientation = im.getexif().get(274, 1)
    except Exception:  # PIL raises many types for garbage bytes; all mean "cannot use this file"
        return None, "unreadable_image", 1
    if w <= 0 or h <= 0:
        return None, "unreadable_image", 1
    return (w, h), None, orientation if orientation in range(1, 9) else 1


def _pil_reads(image: str, *, decode: bool) -> bool:
    """PIL reads ``image`` as the trainer does: ``verify`` (PNG chunk checksums), or with ``decode`` the whole
    scan (it raises on a truncated one, as in the trainer's restore attempt)."""
    from PIL import Image

    try:
        with Image.open(image) as im:
            im.load() if decode else im.verify()
    except Exception:  # any PIL failure means the trainer drops the image
        return False
    return True


def _path_text(elem: Element, tag: str, sub: str) -> str | None:
    """``elem.findtext(f"{tag}/{sub}")`` without ElementPath: the first ``sub`` of any ``tag`` child."""
    for child in elem:
        if child.tag == tag:
            text = child.findtext(sub)
            if text is not None:
                return text
    return None


def _path_texts(elem: Element, tag: str, subs: Sequence[str]) -> list[str | None]:
    """``[elem.findtext(f"{tag}/{sub}") for sub in subs]``, looking in the first ``tag`` child first."""
    first = elem.find(tag)
    if first is None:
        return [None] * len(subs)
    texts = [first.findtext(sub) for sub in subs]
    if None in texts:  # another <tag> may have it (rare): the exact ElementPath answer
        texts = [_path_text(elem, tag, sub) for sub in subs]
    return texts


def _declared_size(root: Element) -> tuple[int, int] | None:
    """``<size>`` width and height when present, numeric and positive; else None (read the image)."""
    w_text, h_text = _path_texts(root, "size", ("width", "height"))
    try:
        w = float((w_text or "").strip())
        h = float((h_text or "").strip())
    except ValueError:
        return None
    if not (math.isfinite(w) and math.isfinite(h)) or w < 1 or h < 1:
        return None
    return int(w), int(h)


def _parse_object(obj: Element, width: int, height: int, orientation: int = 1) -> _Object:
    """Read ``object/name``, ``/difficult`` and ``/bndbox`` (never ``part`` children). The hot loop:
    comparisons replace ``min``/``max`` (same results, ``-0.0`` included). EXIF ``orientation`` 2-8 moves
    the box from the stored frame to the upright one before clipping."""
    name = sys.intern((obj.findtext("name") or "").strip())  # one copy per name crosses to the main process
    difficult = (obj.findtext("difficult") or "0").strip().lower() in ("1", "true", "yes")
    box = obj.find("bndbox")
    texts = (
        None
        if box is None
        else [box.findtext("xmin"), box.findtext("ymin"), box.findtext("xmax"), box.findtext("ymax")]
    )
    if texts is None or None in texts:
        texts = _path_texts(obj, "bndbox", _COORDS)  # rare: no box, or a value only in a later <bndbox>
    try:
        xmin, ymin, xmax, ymax = [float((t or "").strip()) for t in texts]
    except ValueError:
        return name, difficult, None, "bad_coordinates", False
    if not (math.isfinite(xmin) and math.isfinite(ymin) and math.isfinite(xmax) and math.isfinite(ymax)):
        return name, difficult, None, "bad_coordinates", False
    if xmin > xmax or ymin > ymax:
        return name, difficult, None, "inverted_box", False
    if xmin == xmax or ymin == ymax:
        return name, difficult, None, "empty_box", False
    if orientation > 1:
        xmin, ymin, xmax, ymax, width, height = _orient_box(
            xmin, ymin, xmax, ymax, width, height, orientation
        )
    # clip to [0, W] x [0, H]: min(max(v, 0.0), W)
    x0 = xmin if 0.0 <= xmin <= width else (0.0 if xmin < 0.0 else width)
    y0 = ymin if 0.0 <= ymin <= height else (0.0 if ymin < 0.0 else height)
    x1 = xmax if 0.0 <= xmax <= width else (0.0 if xmax < 0.0 else width)
    y1 = ymax if 0.0 <= ymax <= height else (0.0 if ymax < 0.0 else height)
    if x1 <= x0 or y1 <= y0:
        return name, difficult, None, "outside_image", False
    xc, yc = _unit(((x0 + x1) / 2 - 1) / width), _unit(((y0 + y1) / 2 - 1) / height)
    w, h = _unit((x1 - x0) / width), _unit((y1 - y0) / height)
    if round(w, 6) == 0 or round(h, 6) == 0:  # would be written as a zero-size box
        return name, difficult, None, "empty_box", False
    clipped = x0 != xmin or y0 != ymin or x1 != xmax or y1 != ymax
    return name, difficult, f"{xc:.6f} {yc:.6f} {w:.6f} {h:.6f}", None, clipped


def _orient_box(
    xmin: float, ymin: float, xmax: float, ymax: float, w: int, h: int, orientation: int
) -> tuple[float, float, float, float, int, int]:
    """A VOC box (1-based pixels) of the stored ``w`` x ``h`` frame in the frame PIL's ``exif_transpose``
    and cv2 show for EXIF ``orientation``, with that frame's width and height."""
    fx0, fx1, fy0, fy1 = w + 1 - xmax, w + 1 - xmin, h + 1 - ymax, h + 1 - ymin  # mirrored sides
    return {
        2: (fx0, ymin, fx1, ymax, w, h),  # mirrored left-right
        3: (fx0, fy0, fx1, fy1, w, h),  # rotated 180
        4: (xmin, fy0, xmax, fy1, w, h),  # mirrored top-bottom
        5: (ymin, xmin, ymax, xmax, h, w),  # transposed
        6: (fy0, xmin, fy1, xmax, h, w),  # rotated 90 clockwise
        7: (fy0, fx0, fy1, fx1, h, w),  # transversed
        8: (ymin, fx0, ymax, fx1, h, w),  # rotated 90 counter-clockwise
    }[orientation]


def _unit(v: float) -> float:
    """``min(max(v, 0.0), 1.0)``."""
    return v if 0.0 <= v <= 1.0 else (0.0 if v < 0.0 else 1.0)


def _found_classes(
    parsed: Iterable[_Parsed], include_difficult: bool, canon: dict[str, str]
) -> tuple[str, ...]:
    """Sorted class names of the objects that will be written (so no class is empty by construction)."""
    names = {
        canon[name]
        for p in parsed
        for name, difficult, coords, _, _ in p.objects
        if name and coords is not None and (include_difficult or not difficult)
    }
    return tuple(sorted(names))


def _check_strict(parsed: Iterable[_Parsed], classes: Sequence[str], canon: dict[str, str]) -> None:
    """Raise on the first named object (any object, difficult or not) whose class is not listed."""
    known = set(classes)
    for p in parsed:
        for name, *_ in p.objects:
            if name and canon[name] not in known:  # nameless objects are skipped as missing_name
                raise DatasetError(
                    f"{p.xml}: unknown class {name!r} (known: {', '.join(classes)}); "
                    "add it to --classes or drop --strict to skip such objects"
                )


def _output_names(parsed: Sequence[_Parsed], trees: Sequence[Path]) -> dict[str, str]:
    """Output stem per XML: the stem, or ``<tree>__<stem>`` when several trees have it (README.md); a name
    still taken then gets ``__2``, ``__3``... in sorted order."""
    labels = [t.resolve().name or "voc" for t in trees]
    labels = [f"{lb}-{i + 1}" if labels.count(lb) > 1 else lb for i, lb in enumerate(labels)]
    own = [_xml_stem(p.xml) for p in parsed]
    stems = Counter(own)
    names: dict[str, str] = {}
    taken: set[str] = set()
    for p, stem in zip(parsed, own, strict=True):
        room = _NAME_MAX - max(len(_split_name(os.path.basename(p.image or ""))[1]), len(".txt"))
        base = stem if stems[stem] == 1 else f"{labels[p.tree]}__{stem}"
        name, n = _fit_name(base, room), 1
        while name in taken:
            n += 1
            name = _fit_name(f"{base}__{n}", room)
        taken.add(name)
        names[p.xml] = name
    return names


def _fit_name(name: str, room: int) -> str:
    """``name`` when it fits in ``room`` UTF-8 bytes; else its start and ``~`` plus 16 hex digits of its
    sha256, which keeps distinct long names distinct (the tree prefix can push a stem past NAME_MAX)."""
    raw = name.encode("utf-8")
    if len(raw) <= room:
        return name
    digest = hashlib.sha256(raw).hexdigest()[:16]
    return f"{raw[: room - 17].decode('utf-8', 'ignore')}~{digest}"


def _label_lines(
    objects: Sequence[_Object],
    index: dict[str, int],
    classes: Sequence[str],
    include_difficult: bool,
    tally: _Tally,
) -> list[str]:
    """YOLO lines of one image; each object is written or counted under one skip reason. ``index`` maps
    every spelling of a class to its id."""
    lines: list[str] = []
    seen: set[str] = set()
    tally.objects_in += len(objects)
    for name, difficult, coords, box_reason, clipped in objects:
        # one reason per object, first match wins; unknown_class comes last so that auto classes
        # (built from the objects that pass every other check) never report it
        if not name:
            reason: str | None = "missing_name"
        elif difficult and not include_difficult:
            reason = "difficult"
        elif box_reason is not None:
            reason = box_reason
        elif name not in index:
            reason = "unknown_class"
        else:
            reason = None
        if reason is not None or coords is None:
            tally.skipped[reason or "invalid_box"] += 1
            continue
        line = f"{index[name]} {coords}"
        if line in seen:  # e.g. one box labelled Star and star: merged, it would be trained on twice
            tally.skipped["duplicate_object"] += 1
            continue
        seen.add(line)
        tally.written += 1
        tally.per_class[classes[index[name]]] += 1
        tally.clipped += clipped
        lines.append(line)
    tally.background += not lines
    return lines


def _log_summary(r: ConvertResult) -> None:
    skipped = ", ".join(f"{k}={v}" for k, v in r.skipped.items()) or "none"
    log.info(
        "convert: %d images (%d background), %d/%d objects written, skipped objects: %s; "
        "%d files skipped; %d classes; %.2f s (%.0f files/s) -> %s",
        r.images,
        r.background_images,
        r.objects_written,
        r.objects_in,
        skipped,
        len(r.files_skipped),
        len(r.classes),
        r.seconds,
        r.files_per_second,
        r.out_dir,
    )
