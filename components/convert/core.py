"""Pascal VOC trees -> one YOLO-format dataset folder (images, labels, classes.txt, report.json).

Box convention (the Ultralytics VOC recipe): x_c = ((xmin + xmax) / 2 - 1) / W,
y_c = ((ymin + ymax) / 2 - 1) / H, w = (xmax - xmin) / W, h = (ymax - ymin) / H, six decimals,
final values clamped to [0, 1]. Boxes are first clipped to [0, W] x [0, H]; a box that lies inside
the image is therefore never changed. See README.md for every skip reason.

Parsing runs in worker processes for large trees (``ConvertConfig.workers``); the result does not depend
on the worker count: files are handled in sorted order and collected in that order.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET
from tqdm import tqdm

from components._shared.dataset import IMAGE_SUFFIXES
from components._shared.errors import ConfigError, DatasetError
from components._shared.fsio import link_or_copy, staged_dir, write_json_atomic

log = logging.getLogger(__name__)

# Parsing is CPU-bound: threads were slower than one process (GIL); a process pool breaks even at
# 250-500 files on 2 cores (measurements in README.md).
_PROCESS_POOL_MIN_FILES = 500
_COORDS = ("xmin", "ymin", "xmax", "ymax")


@dataclass(frozen=True)
class ConvertConfig:
    """Options of ``convert_voc``.

    Attributes:
        classes: class order; ``None`` means the sorted names of the objects that are written.
        include_difficult: keep objects marked ``difficult=1`` (left out by default).
        strict: an object whose class is not in ``classes`` is an error instead of a skip.
        workers: parser processes; ``None`` = one per usable CPU, ``0``/``1`` = in-process. Trees of
            fewer than 500 XML files are always parsed in-process (a pool does not pay off there).
    """

    classes: tuple[str, ...] | None = None
    include_difficult: bool = False
    strict: bool = False
    workers: int | None = None


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

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (paths as strings, tuples as lists)."""
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        d["classes"] = list(self.classes)
        d["size_mismatch"] = list(self.size_mismatch)
        return d


@dataclass(frozen=True)
class _Object:
    name: str
    difficult: bool
    box: tuple[float, float, float, float] | None  # normalised x_c, y_c, w, h; None when dropped
    reason: str | None  # geometric skip reason when ``box`` is None
    clipped: bool = False


@dataclass(frozen=True)
class _Job:
    xml: Path
    tree: int  # position of its VOC folder in ``voc_dirs``
    images: tuple[Path, ...]  # image files with the XML's stem, sorted


@dataclass(frozen=True)
class _Parsed:
    xml: Path
    tree: int
    image: Path | None = None
    reason: str | None = None  # file-level skip reason
    objects: tuple[_Object, ...] = ()
    size_from_image: bool = False
    size_mismatch: bool = False


@dataclass
class _Tally:
    skipped: Counter[str] = field(default_factory=Counter)
    per_class: Counter[str] = field(default_factory=Counter)
    objects_in: int = 0
    written: int = 0
    clipped: int = 0
    background: int = 0


def parse_classes(value: str) -> tuple[str, ...]:
    """Read a class list from ``a,b,c`` or from a file with one name per line.

    Args:
        value: comma-separated names, or the path of a text file (blank lines and ``#`` lines ignored).

    Returns:
        The names, stripped, in the given order.

    Raises:
        ConfigError: the list is empty or names a class twice.
    """
    path = Path(value).expanduser()
    if path.is_file():
        lines = path.read_text(encoding="utf-8").splitlines()
        names = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    else:
        names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise ConfigError(
            f"--classes {value!r}: no class names (give a,b,c or a file with one name per line)"
        )
    dupes = sorted(n for n, c in Counter(names).items() if c > 1)
    if dupes:
        raise ConfigError(f"--classes {value!r}: {', '.join(dupes)} given more than once")
    return tuple(names)


def convert_voc(voc_dirs: Sequence[Path], out_dir: Path, cfg: ConvertConfig) -> ConvertResult:
    """Convert one or more Pascal VOC trees into one YOLO dataset folder.

    Args:
        voc_dirs: VOC roots, each with ``Annotations/*.xml`` and ``JPEGImages/*``.
        out_dir: output folder; replaced in one rename when the conversion is complete.
        cfg: conversion options.

    Returns:
        Counts of what was written and skipped (also written to ``out_dir/report.json``).

    Raises:
        DatasetError: a folder is missing, nothing usable was found, or ``strict`` met an unknown class.
        ConfigError: the same folder was given twice.
    """
    start = time.perf_counter()
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
    parsed = _parse_all(jobs, cfg.workers)
    usable = _require_usable(parsed, trees)
    classes = cfg.classes or _found_classes(usable, cfg.include_difficult)
    if cfg.strict and cfg.classes:
        _check_strict(usable, cfg.classes)
    names = _output_names(usable, trees)

    with staged_dir(out_dir) as tmp:
        tally = _write_dataset(tmp, usable, names, classes, cfg.include_difficult)
        seconds = time.perf_counter() - start
        result = ConvertResult(
            out_dir=Path(out_dir),
            images=len(usable),
            background_images=tally.background,
            objects_in=tally.objects_in,
            objects_written=tally.written,
            skipped=dict(sorted(tally.skipped.items())),
            files_skipped={str(p.xml): p.reason for p in parsed if p.reason is not None},
            classes=tuple(classes),
            per_class={c: tally.per_class[c] for c in classes},
            clipped=tally.clipped,
            renamed={str(p.xml): names[p.xml] for p in usable if names[p.xml] != p.xml.stem},
            size_from_image=sum(p.size_from_image for p in usable),
            size_mismatch=tuple(str(p.xml) for p in usable if p.size_mismatch),
            xml_files=len(jobs),
            images_without_xml=orphans,
            seconds=round(seconds, 3),
            files_per_second=round(len(jobs) / seconds, 1) if seconds > 0 else 0.0,
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
        ("files per second", result.files_per_second),
    ]
    out = ["# convert report", "", "| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), ""]
    out += ["## Objects per class", "", "| class | objects |", "|---|---|"]
    out += [f"| {c} | {n} |" for c, n in result.per_class.items()] + [""]
    if result.skipped:
        out += ["## Objects skipped", "", "| reason | objects |", "|---|---|"]
        out += [f"| {r} | {n} |" for r, n in result.skipped.items()] + [""]
    if result.files_skipped:
        out += ["## Files skipped", "", "| file | reason |", "|---|---|"]
        items = list(result.files_skipped.items())
        out += [f"| {Path(f).name} | {r} |" for f, r in items[:max_files]]
        if len(items) > max_files:
            out.append(f"| ... {len(items) - max_files} more (see report.json) | |")
        out.append("")
    return "\n".join(out)


def _check_trees(voc_dirs: Sequence[Path]) -> list[Path]:
    if not voc_dirs:
        raise DatasetError("no VOC folder given (pass --voc DIR with Annotations/ and JPEGImages/)")
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


def _write_dataset(
    tmp: Path,
    usable: Sequence[_Parsed],
    names: dict[Path, str],
    classes: Sequence[str],
    include_difficult: bool,
) -> _Tally:
    """Link the images and write labels and classes.txt into the staging folder (renamed as a whole)."""
    tally = _Tally()
    (tmp / "images").mkdir()
    (tmp / "labels").mkdir()
    for p in usable:
        assert p.image is not None  # usable files always have one
        lines = _label_lines(p.objects, classes, include_difficult, tally)
        name = names[p.xml]
        link_or_copy(p.image, tmp / "images" / f"{name}{p.image.suffix.lower()}")
        (tmp / "labels" / f"{name}.txt").write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
    (tmp / "classes.txt").write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")
    return tally


def _collect_jobs(trees: Sequence[Path]) -> tuple[list[_Job], int]:
    """One job per XML (sorted per tree, trees in the given order) and the count of unannotated images."""
    jobs: list[_Job] = []
    orphans = 0
    for i, tree in enumerate(trees):
        by_stem: dict[str, list[Path]] = {}
        for img in (tree / "JPEGImages").iterdir():
            if img.suffix.lower() in IMAGE_SUFFIXES and img.is_file():
                by_stem.setdefault(img.stem, []).append(img)
        xmls = sorted(
            x for x in (tree / "Annotations").iterdir() if x.suffix.lower() == ".xml" and x.is_file()
        )
        jobs.extend(_Job(xml=x, tree=i, images=tuple(sorted(by_stem.get(x.stem, ())))) for x in xmls)
        annotated = {x.stem for x in xmls}
        orphans += sum(1 for stem in by_stem if stem not in annotated)
    return jobs, orphans


def _parse_all(jobs: list[_Job], workers: int | None) -> list[_Parsed]:
    """Parse every job, in a process pool for large trees; the output keeps the jobs' order."""
    n = workers if workers is not None else len(os.sched_getaffinity(0))
    progress = {"total": len(jobs), "desc": "convert", "unit": "file", "disable": None, "leave": False}
    if n <= 1 or len(jobs) < _PROCESS_POOL_MIN_FILES:
        return [_parse_file(j) for j in tqdm(jobs, **progress)]
    with ProcessPoolExecutor(max_workers=n) as pool:
        chunk = max(1, min(64, len(jobs) // (n * 4)))
        return list(tqdm(pool.map(_parse_file, jobs, chunksize=chunk), **progress))


def _parse_file(job: _Job) -> _Parsed:
    """Parse one XML and check its image; never raises for bad input (it returns a skip reason)."""
    try:
        data = job.xml.read_bytes()
        root = SafeET.fromstring(data)
    except (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
        return _Parsed(job.xml, job.tree, reason="unsafe_xml")
    except (ParseError, ValueError):
        return _Parsed(job.xml, job.tree, reason="malformed_xml")
    except OSError:
        return _Parsed(job.xml, job.tree, reason="unreadable_xml")
    if root.tag.lower() != "annotation":
        return _Parsed(job.xml, job.tree, reason="not_voc_xml")
    image = _pick_image(job, root)
    if image is None:
        return _Parsed(job.xml, job.tree, reason="missing_image")
    real, reason = _image_size(image)
    if real is None:
        return _Parsed(job.xml, job.tree, image=image, reason=reason)
    declared = _declared_size(root)
    width, height = declared or real
    objects = tuple(_parse_object(obj, width, height) for obj in root.findall("object"))
    return _Parsed(
        job.xml,
        job.tree,
        image=image,
        objects=objects,
        size_from_image=declared is None,
        size_mismatch=declared is not None and declared != real,
    )


def _pick_image(job: _Job, root: Element) -> Path | None:
    """The image with the XML's stem; when several share it, the one ``<filename>`` names, else the first."""
    if not job.images:
        return None
    filename = (root.findtext("filename") or "").strip()
    for img in job.images:
        if img.name == filename:
            return img
    return job.images[0]


def _image_size(image: Path) -> tuple[tuple[int, int] | None, str | None]:
    """Width and height from the image header (no decoding), or a skip reason."""
    from PIL import Image  # imported here: only the parsing workers need it

    try:
        if image.stat().st_size == 0:
            return None, "empty_image"
        with Image.open(image) as im:
            w, h = im.size
    except Exception:  # PIL raises many types for garbage bytes; all mean "cannot use this file"
        return None, "unreadable_image"
    if w <= 0 or h <= 0:
        return None, "unreadable_image"
    return (w, h), None


def _declared_size(root: Element) -> tuple[int, int] | None:
    """``<size>`` width and height when present, numeric and positive; else None (read the image)."""
    try:
        w = float((root.findtext("size/width") or "").strip())
        h = float((root.findtext("size/height") or "").strip())
    except ValueError:
        return None
    if not (math.isfinite(w) and math.isfinite(h)) or w < 1 or h < 1:
        return None
    return int(w), int(h)


def _parse_object(obj: Element, width: int, height: int) -> _Object:
    """Read ``object/name``, ``object/difficult`` and ``object/bndbox`` (never ``part`` children)."""
    name = (obj.findtext("name") or "").strip()
    difficult = (obj.findtext("difficult") or "0").strip().lower() in ("1", "true", "yes")
    try:
        xmin, ymin, xmax, ymax = (float((obj.findtext(f"bndbox/{k}") or "").strip()) for k in _COORDS)
    except ValueError:
        return _Object(name, difficult, None, "bad_coordinates")
    if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
        return _Object(name, difficult, None, "bad_coordinates")
    if xmin > xmax or ymin > ymax:
        return _Object(name, difficult, None, "inverted_box")
    if xmin == xmax or ymin == ymax:
        return _Object(name, difficult, None, "empty_box")
    box = (min(max(xmin, 0.0), width), min(max(ymin, 0.0), height))
    box += (min(max(xmax, 0.0), width), min(max(ymax, 0.0), height))
    if box[2] <= box[0] or box[3] <= box[1]:
        return _Object(name, difficult, None, "outside_image")
    x0, y0, x1, y1 = box
    xc, yc = _unit(((x0 + x1) / 2 - 1) / width), _unit(((y0 + y1) / 2 - 1) / height)
    w, h = _unit((x1 - x0) / width), _unit((y1 - y0) / height)
    if round(w, 6) == 0 or round(h, 6) == 0:  # would be written as a zero-size box
        return _Object(name, difficult, None, "empty_box")
    return _Object(name, difficult, (xc, yc, w, h), None, clipped=box != (xmin, ymin, xmax, ymax))


def _unit(v: float) -> float:
    return min(max(v, 0.0), 1.0)


def _found_classes(parsed: Iterable[_Parsed], include_difficult: bool) -> tuple[str, ...]:
    """Sorted names of the objects that will be written (so no class is empty by construction)."""
    names = {
        o.name
        for p in parsed
        for o in p.objects
        if o.name and o.box is not None and (include_difficult or not o.difficult)
    }
    return tuple(sorted(names))


def _check_strict(parsed: Iterable[_Parsed], classes: Sequence[str]) -> None:
    """Raise on the first named object (any object, difficult or not) whose class is not listed."""
    known = set(classes)
    for p in parsed:
        for o in p.objects:
            if o.name and o.name not in known:  # nameless objects are skipped as missing_name
                raise DatasetError(
                    f"{p.xml}: unknown class {o.name!r} (known: {', '.join(classes)}); "
                    "add it to --classes or drop --strict to skip such objects"
                )


def _output_names(parsed: Sequence[_Parsed], trees: Sequence[Path]) -> dict[Path, str]:
    """Output stem per XML: the stem itself, or ``<tree>__<stem>`` for stems found in several trees.

    ``<tree>`` is the tree folder's name (``<name>-<n>`` with its 1-based ``--voc`` position when two
    trees share a name). A name still taken after that gets ``__2``, ``__3``... in sorted order.
    """
    labels = [t.resolve().name or "voc" for t in trees]
    labels = [f"{lb}-{i + 1}" if labels.count(lb) > 1 else lb for i, lb in enumerate(labels)]
    stems = Counter(p.xml.stem for p in parsed)
    names: dict[Path, str] = {}
    taken: set[str] = set()
    for p in parsed:
        name = p.xml.stem if stems[p.xml.stem] == 1 else f"{labels[p.tree]}__{p.xml.stem}"
        base, n = name, 1
        while name in taken:
            n += 1
            name = f"{base}__{n}"
        taken.add(name)
        names[p.xml] = name
    return names


def _label_lines(
    objects: Sequence[_Object], classes: Sequence[str], include_difficult: bool, tally: _Tally
) -> list[str]:
    """YOLO lines of one image; every object is either written or counted under one skip reason."""
    index = {c: i for i, c in enumerate(classes)}
    lines = []
    for o in objects:
        tally.objects_in += 1
        # one reason per object, first match wins; unknown_class comes last so that auto classes
        # (built from the objects that pass every other check) never report it
        if not o.name:
            reason: str | None = "missing_name"
        elif o.difficult and not include_difficult:
            reason = "difficult"
        elif o.reason is not None:
            reason = o.reason
        elif o.name not in index:
            reason = "unknown_class"
        else:
            reason = None
        if reason is not None or o.box is None:
            tally.skipped[reason or "invalid_box"] += 1
            continue
        tally.written += 1
        tally.per_class[o.name] += 1
        tally.clipped += o.clipped
        lines.append(f"{index[o.name]} " + " ".join(f"{v:.6f}" for v in o.box))
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
