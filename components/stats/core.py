"""Dataset statistics and warnings for a split dataset, from every label file and image header read once.

What each number means: ``README.md``; the training plan is the ``plan`` stage's.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components._shared.dataset import (
    JPEG_END,
    JPEG_START,
    TRAINER_MIN_SIDE,
    DatasetSpec,
    label_path,
    load_dataset,
    read_label_file,
)
from components._shared.errors import ConfigError
from components._shared.fsio import guard_out_dir, staged_dir, write_json_atomic, write_text_atomic

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

SIZE_THRESHOLDS = (32, 96)  # COCO: small below 32x32 px of area, large from 96x96, at the training size
SMALL_AREA, LARGE_AREA = SIZE_THRESHOLDS[0] ** 2, SIZE_THRESHOLDS[1] ** 2
IMBALANCE_RATIO = 10.0  # max/min instances per class above this: warn
_QUICK_BYTES = 16 * 1024  # head and tail read for the duplicate pre-key
_LIST_LIMIT = 200  # longest lists (duplicates, problems) kept in stats.json
# stats.json ``problems`` key (also the warning's code) -> what its warning says about the items listed
PROBLEMS = {
    "overlap": "image(s) listed in more than one split",
    "missing_images": "image(s) missing",
    "unreadable_images": "image(s) unreadable",
    "label_errors": "malformed label line(s)",
    "too_small_images": f"image(s) with a side below {TRAINER_MIN_SIDE} px (the trainer drops them)",
    "jpeg_without_end_marker": "JPEG(s) without end marker (the trainer re-saves or drops them)",
}


@dataclass(frozen=True)
class StatsConfig:
    """Options of ``dataset_stats``.

    Attributes:
        imgsz: training image size (longest side after letterbox) for the small/medium/large counts.
        overwrite: replace an ``out_dir`` that holds files this stage did not write.
    """

    imgsz: int = 640
    overwrite: bool = False


@dataclass(frozen=True)
class StatsResult:
    """What ``dataset_stats`` wrote; every number is also in ``out_dir/stats.json``."""

    out_dir: Path
    stats_json: Path
    report_html: Path
    images: int
    instances: int
    classes: int
    background_images: int
    split_images: dict[str, int]
    duplicate_pairs: int
    warnings: tuple[str, ...]
    seconds: float
    images_per_second: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (paths as strings, tuples as lists)."""
        d = asdict(self)
        d.update(
            out_dir=str(self.out_dir), stats_json=str(self.stats_json), report_html=str(self.report_html)
        )
        d["warnings"] = list(self.warnings)
        return d

    def summary(self) -> dict[str, float]:
        """Scalars for the run page (KFP ``Metrics``)."""
        values = {
            "images": self.images,
            "instances": self.instances,
            "classes": self.classes,
            "background_images": self.background_images,
            "duplicate_pairs": self.duplicate_pairs,
            "warnings": len(self.warnings),
        }
        values |= {f"{split}_images": n for split, n in self.split_images.items()}
        return {k: float(v) for k, v in values.items()}


@dataclass
class _Scan:
    """Everything read from disk, one row per unique image and one per box."""

    rel: list[str] = field(default_factory=list)  # image path relative to the dataset root
    width: list[float] = field(default_factory=list)  # nan when the image could not be read
    height: list[float] = field(default_factory=list)
    quick: list[tuple[int, int] | None] = field(default_factory=list)  # duplicate pre-key
    paths: list[str] = field(default_factory=list)
    box_img: list[int] = field(default_factory=list)
    box_cls: list[int] = field(default_factory=list)
    box_xywh: list[float] = field(default_factory=list)  # flat cx, cy, w, h
    problems: dict[str, list[str]] = field(default_factory=lambda: {code: [] for code in PROBLEMS})


def _read_header(path: str) -> tuple[int, int, tuple[int, int], bool]:
    """Header size, duplicate pre-key (size, CRC of head and tail) and JPEG-without-EOI flag, in one open."""
    from PIL import Image

    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = tail = fh.read(_QUICK_BYTES)
        crc = zlib.crc32(head)
        if size > 2 * _QUICK_BYTES:
            fh.seek(size - _QUICK_BYTES)
        if size > _QUICK_BYTES:
            tail = fh.read(_QUICK_BYTES)
            crc = zlib.crc32(tail, crc)
        fh.seek(0)
        with Image.open(fh) as im:
            w, h = im.size
    no_eoi = head.startswith(JPEG_START) and not tail.endswith(JPEG_END)
    return w, h, (size, crc), no_eoi


def _scan_image(scan: _Scan, image: str, rel: str, n_classes: int) -> None:
    """Append one image row: header size, duplicate pre-key, boxes (problems recorded, never raised)."""
    i = len(scan.rel)
    scan.rel.append(rel)
    scan.paths.append(image)
    w: float
    h: float
    key: tuple[int, int] | None
    try:
        w, h, key, no_eoi = _read_header(image)
        # images Ultralytics' check_image drops (too small) or re-saves / drops (JPEG without EOI)
        if min(w, h) < TRAINER_MIN_SIDE:
            scan.problems["too_small_images"].append(rel)
        if no_eoi:
            scan.problems["jpeg_without_end_marker"].append(rel)
    except FileNotFoundError:
        w, h, key = math.nan, math.nan, None
        scan.problems["missing_images"].append(rel)
    except (OSError, ValueError, SyntaxError) as err:  # PIL's errors for broken headers
        w, h, key = math.nan, math.nan, None
        scan.problems["unreadable_images"].append(f"{rel} ({err.__class__.__name__})")
    scan.width.append(w)
    scan.height.append(h)
    scan.quick.append(key)
    label = label_path(image)
    boxes, errors = read_label_file(label, n_classes) or ([], [])
    for c, *xywh in boxes:
        scan.box_img.append(i)
        scan.box_cls.append(c)
        scan.box_xywh += xywh
    scan.problems["label_errors"] += [f"{label.name}: {e}" for e in errors]


@contextlib.contextmanager
def _no_pixel_limit() -> Iterator[None]:
    """Lift PIL's decompression-bomb limit: only headers are read, and big aerial images are legitimate."""
    from PIL import Image

    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _scan(spec: DatasetSpec) -> tuple[_Scan, dict[str, list[int]]]:
    """Read every image header and label file once; return the scan and each split's image rows."""
    scan = _Scan()
    index: dict[str, int] = {}
    members: dict[str, list[int]] = {}
    root = os.fspath(spec.root) + os.sep
    with _no_pixel_limit():
        for split in spec.splits:
            rows = members.setdefault(split, [])
            for image in map(os.fspath, spec.images(split)):
                if image not in index:
                    index[image] = len(scan.rel)
                    rel = image[len(root) :] if image.startswith(root) else os.path.relpath(image, root)
                    _scan_image(scan, image, rel, len(spec.names))
                rows.append(index[image])
    return scan, {s: sorted(set(rows)) for s, rows in members.items()}


def find_duplicates(paths: Sequence[str | Path], quick: Sequence[tuple[int, int] | None]) -> list[list[int]]:
    """Groups (sorted row lists) of files with identical content: equal pre-keys, then equal SHA-256."""
    by_key: dict[tuple[int, int], list[int]] = {}
    for i, key in enumerate(quick):
        if key is not None:
            by_key.setdefault(key, []).append(i)
    groups = []
    for rows in by_key.values():
        if len(rows) < 2:
            continue
        by_hash: dict[str, list[int]] = {}
        for i in rows:
            with open(paths[i], "rb") as fh:
                by_hash.setdefault(hashlib.file_digest(fh, "sha256").hexdigest(), []).append(i)
        groups += [r for r in by_hash.values() if len(r) > 1]
    return sorted(groups)


@dataclass(frozen=True)
class _Arrays:
    """The scan as numpy arrays; ``area`` is each box's pixel area at the training size (nan: unknown)."""

    n_images: int
    boxes_per_image: np.ndarray
    box_img: np.ndarray
    box_cls: np.ndarray
    xywh: np.ndarray
    area: np.ndarray

    @classmethod
    def from_scan(cls, scan: _Scan, imgsz: int) -> _Arrays:
        import numpy as np

        w, h = np.array(scan.width, dtype=float), np.array(scan.height, dtype=float)
        box_img = np.array(scan.box_img, dtype=np.int64)
        xywh = np.array(scan.box_xywh, dtype=float).reshape(-1, 4)
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = imgsz / np.maximum(w, h)  # letterbox: longest side -> imgsz
        pixels = w * h * scale * scale
        area = xywh[:, 2] * xywh[:, 3] * pixels[box_img]
        n = len(scan.rel)
        return cls(
            n, np.bincount(box_img, minlength=n), box_img, np.array(scan.box_cls, dtype=np.int64), xywh, area
        )


def _size_counts(area: np.ndarray) -> dict[str, int]:
    import numpy as np

    known = area[~np.isnan(area)]
    return {
        "small": int((known < SMALL_AREA).sum()),
        "medium": int(((known >= SMALL_AREA) & (known < LARGE_AREA)).sum()),
        "large": int((known >= LARGE_AREA).sum()),
        "unknown": int(len(area) - len(known)),
    }


def _split_block(a: _Arrays, rows: Sequence[int], nc: int) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Counts of one split, plus its instances and images per class."""
    import numpy as np

    mask = np.zeros(a.n_images, dtype=bool)
    mask[list(rows)] = True
    in_split = mask[a.box_img]
    cls = a.box_cls[in_split]
    pairs = np.unique(a.box_img[in_split] * nc + cls)
    per_image = a.boxes_per_image[mask]
    block = {
        "images": len(rows),
        "background": int((per_image == 0).sum()),
        "instances": int(in_split.sum()),
        "boxes_per_image": {
            "mean": round(float(per_image.mean()), 3) if len(rows) else 0.0,
            "max": int(per_image.max()) if len(rows) else 0,
        },
        "sizes": _size_counts(a.area[in_split]),
    }
    return block, np.bincount(cls, minlength=nc), np.bincount(pairs % nc, minlength=nc)


def _bbox_stats(xywh: np.ndarray) -> dict[str, Any]:
    """Mean, population std, min and max of normalised cx, cy, w, h over every box (None: no box)."""
    out: dict[str, Any] = {"boxes": int(len(xywh))}
    for j, name in enumerate(("cx", "cy", "w", "h")):
        col = xywh[:, j]
        out[name] = {
            m: round(float(getattr(col, m)()), 6) if len(col) else None for m in ("mean", "std", "min", "max")
        }
    return out


def class_weights(instances: Sequence[int]) -> list[float]:
    """Inverse-frequency weights normalised to mean 1 over the classes that occur (0.0 for empty ones)."""
    inverse = [1.0 / n if n > 0 else 0.0 for n in instances]
    present = [w for w in inverse if w > 0]
    if not present:
        return [0.0] * len(instances)
    mean = sum(present) / len(present)
    return [round(w / mean, 4) for w in inverse]


def _class_table(
    names: Sequence[str], total: np.ndarray, images: np.ndarray, per_split: Mapping[str, np.ndarray]
) -> list[dict[str, Any]]:
    weights = class_weights([int(n) for n in per_split.get("train", total)])
    return [
        {
            "id": c,
            "name": name,
            "instances": int(total[c]),
            "images": int(images[c]),
            "per_split": {s: int(v[c]) for s, v in per_split.items()},
            "weight": weights[c],
        }
        for c, name in enumerate(names)
    ]


def _duplicate_block(scan: _Scan, split_of: Mapping[int, list[str]]) -> dict[str, Any]:
    groups = find_duplicates(scan.paths, scan.quick)
    pairs = []
    for rows in groups:
        first, *others = sorted(rows, key=lambda i: scan.rel[i])
        for i in others:
            splits = sorted(set(split_of[first]) | set(split_of[i]))
            pairs.append({"a": scan.rel[first], "b": scan.rel[i], "splits": splits})
    leaks = sum(len(p["splits"]) > 1 for p in pairs)
    return {
        "groups": len(groups),
        "pairs_total": len(pairs),
        "cross_split": leaks,
        "pairs": pairs[:_LIST_LIMIT],
    }


def _warnings(stats: Mapping[str, Any]) -> list[dict[str, str]]:
    """Human-readable findings, each with a stable ``code`` (stats.json, report, KFP metadata)."""
    out = []
    classes = stats["classes"]
    present = [c for c in classes if c["instances"] > 0]
    if len(present) > 1:
        hi = max(present, key=lambda c: c["instances"])
        lo = min(present, key=lambda c: c["instances"])
        ratio = hi["instances"] / lo["instances"]
        if ratio > IMBALANCE_RATIO:
            msg = f"class imbalance {ratio:.0f}:1 ({hi['name']} {hi['instances']} vs {lo['name']} {lo['instances']})"
            out.append({"code": "imbalance", "message": msg + "; consider the class weights or more data"})
    empty = [c["name"] for c in classes if c["instances"] == 0]
    if empty:
        out.append(
            {"code": "empty_class", "message": f"{len(empty)} class(es) without instances: {_short(empty)}"}
        )
    if "val" in stats["splits"]:
        missing = [f"{c['name']} ({c['images']} img)" for c in present if c["per_split"].get("val", 0) == 0]
        if missing:
            msg = f"{len(missing)} class(es) missing from val (not evaluated): {_short(missing)}"
            out.append({"code": "missing_in_val", "message": msg})
    dup = stats["duplicates"]
    if dup["pairs_total"]:
        first = dup["pairs"][0]
        msg = f"{dup['pairs_total']} duplicate image pair(s), {dup['cross_split']} across splits (e.g. {first['a']} = {first['b']})"
        out.append({"code": "duplicate_images", "message": msg})
    for code, what in PROBLEMS.items():
        items = stats["problems"][code]
        if items:
            out.append(
                {"code": code, "message": f"{stats['problems'][code + '_total']} {what}: {_short(items)}"}
            )
    return out


def _short(items: Sequence[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def _describe(
    spec: DatasetSpec, scan: _Scan, members: Mapping[str, list[int]], cfg: StatsConfig
) -> tuple[dict[str, Any], _Arrays]:
    """Every statistic of ``stats.json`` except the plots and timing, and the arrays for the plots."""
    a = _Arrays.from_scan(scan, cfg.imgsz)
    nc = len(spec.names)
    splits, per_split = {}, {}
    for split, rows in members.items():
        splits[split], per_split[split], _ = _split_block(a, rows, nc)
    everything, total, images = _split_block(a, range(a.n_images), nc)
    split_of: dict[int, list[str]] = {}
    for split, rows in members.items():
        for i in rows:
            split_of.setdefault(i, []).append(split)
    scan.problems["overlap"] = sorted(scan.rel[i] for i, s in split_of.items() if len(s) > 1)
    problems: dict[str, Any] = {}
    for code, items in scan.problems.items():
        problems[code], problems[code + "_total"] = items[:_LIST_LIMIT], len(items)
    stats: dict[str, Any] = {
        "dataset": str(spec.yaml_path),
        "names": list(spec.names),
        "imgsz": cfg.imgsz,
        "images": a.n_images,
        "instances": everything["instances"],
        "background_images": everything["background"],
        "boxes_per_image": everything["boxes_per_image"],
        "splits": splits,
        "classes": _class_table(spec.names, total, images, per_split),
        "bbox_stats": _bbox_stats(a.xywh),
        "size_categories": {
            "imgsz": cfg.imgsz,
            "thresholds_px": list(SIZE_THRESHOLDS),
            **everything["sizes"],
        },
        "duplicates": _duplicate_block(scan, split_of),
        "problems": problems,
    }
    stats["class_weights"] = [c["weight"] for c in stats["classes"]]
    stats["warnings"] = _warnings(stats)
    return stats, a


def dataset_stats(data_yaml: Path, out_dir: Path, cfg: StatsConfig = StatsConfig()) -> StatsResult:  # noqa: B008
    """Describe a split dataset (README.md, "Output"); return the headline counts and warnings.

    Raises:
        ConfigError: ``imgsz`` below 32, or an ``out_dir`` that overlaps the dataset or holds foreign files.
        DatasetError: a missing or malformed dataset YAML or split list.
    """
    from components.stats.report import render_html, render_markdown, write_plots

    t0 = time.perf_counter()
    if cfg.imgsz < 32:
        raise ConfigError(f"imgsz={cfg.imgsz} is below the YOLOv5 stride minimum; use e.g. --imgsz 640")
    spec = load_dataset(Path(data_yaml))
    out_dir = Path(out_dir)
    guard_out_dir(out_dir, [spec.root], overwrite=cfg.overwrite)
    scan, members = _scan(spec)
    stats, arrays = _describe(spec, scan, members, cfg)
    for w in stats["warnings"]:
        log.warning("%s", w["message"])
    with staged_dir(out_dir) as tmp:
        stats["plots"] = write_plots(tmp / "plots", stats, arrays.xywh, arrays.area)
        write_text_atomic(tmp / "report.html", render_html(stats, tmp))
        write_text_atomic(tmp / "report.md", render_markdown(stats))
        stats["seconds"] = round(time.perf_counter() - t0, 3)
        write_json_atomic(tmp / "stats.json", stats)
    result = _result(stats, out_dir, time.perf_counter() - t0)
    log.info(
        "stats: %d images, %d instances, %d classes, %d warning(s) in %.2fs",
        result.images,
        result.instances,
        result.classes,
        len(result.warnings),
        result.seconds,
    )
    return result


def _result(stats: Mapping[str, Any], out_dir: Path, seconds: float) -> StatsResult:
    return StatsResult(
        out_dir=out_dir,
        stats_json=out_dir / "stats.json",
        report_html=out_dir / "report.html",
        images=stats["images"],
        instances=stats["instances"],
        classes=len(stats["names"]),
        background_images=stats["background_images"],
        split_images={s: b["images"] for s, b in stats["splits"].items()},
        duplicate_pairs=stats["duplicates"]["pairs_total"],
        warnings=tuple(w["message"] for w in stats["warnings"]),
        seconds=round(seconds, 3),
        images_per_second=round(stats["images"] / seconds, 1) if seconds > 0 else 0.0,
    )
