"""A deterministic synthetic Pascal VOC dataset: bright shapes on textured, noisy backgrounds.

Tasks, layout, determinism and the six oddities (``ODD_CASES``): ``README.md``.
"""

from __future__ import annotations

import colorsys
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image, ImageDraw

from components._shared.errors import ConfigError
from components._shared.fsio import staged_dir, write_json_atomic, write_text_atomic

log = logging.getLogger(__name__)

TASK_CLASSES: dict[str, tuple[str, ...]] = {
    "A": ("circle", "square", "triangle"),
    "B": ("star", "cross", "ring"),
}
# image index -> the oddity it carries (kept in this order so a 6-image sample has all of them)
ODD_CASES: tuple[str, ...] = (
    "difficult",  # one object marked difficult=1
    "partly_outside",  # one box reaching past the right edge of the image
    "filename_mismatch",  # <filename> names <stem>.xml, not the image
    "uppercase_extension",  # the image is <stem>.JPG
    "background",  # no objects at all
    "whitespace_name",  # one <name> with surrounding whitespace
)
_MAX_OVERLAP = 0.1  # intersection over the smaller box: shapes touch, none hides another


@dataclass(frozen=True)
class SampleConfig:
    """Options of ``make_sample``.

    Attributes:
        images: number of images (the six oddities need at least 6).
        seed: random seed; the same seed gives byte-identical files.
        task: ``"A"`` (pre-training classes) or ``"B"`` (target classes).
        imgsz: width and height of the square images in pixels.
    """

    images: int = 60
    seed: int = 0
    task: str = "B"
    imgsz: int = 160


@dataclass(frozen=True)
class SampleResult:
    """What ``make_sample`` wrote (also saved as ``out_dir/sample.json``, less location and timing)."""

    out_dir: Path
    task: str
    seed: int
    images: int
    objects: int
    classes: tuple[str, ...]
    per_class: dict[str, int]
    odd_cases: dict[str, str] = field(default_factory=dict)  # oddity -> stem
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["out_dir"] = str(self.out_dir)
        d["classes"] = list(self.classes)
        return d


@dataclass(frozen=True)
class _Shape:
    cls: str
    box: tuple[int, int, int, int]  # VOC xmin, ymin, xmax, ymax (1-based, inclusive)
    difficult: bool = False
    truncated: bool = False


def make_sample(out_dir: Path, cfg: SampleConfig) -> SampleResult:
    """Write a synthetic VOC tree; return the counts per class and the stem of each odd image.

    Raises:
        ConfigError: ``task`` is not A or B, ``images`` < 1 or ``imgsz`` < 32.
    """
    start = time.perf_counter()
    task = cfg.task.upper()
    if task not in TASK_CLASSES:
        raise ConfigError(f"task={cfg.task!r}: must be A (pre-training shapes) or B (target shapes)")
    if cfg.images < 1:
        raise ConfigError(f"images={cfg.images}: must be at least 1 (6 or more to get every oddity)")
    if cfg.imgsz < 32:
        raise ConfigError(f"imgsz={cfg.imgsz}: must be at least 32 pixels")
    classes = TASK_CLASSES[task]
    per_class = dict.fromkeys(classes, 0)
    odd: dict[str, str] = {}
    stems = []
    with staged_dir(out_dir) as tmp:
        for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
            (tmp / sub).mkdir(parents=True)
        for i in range(cfg.images):
            case = ODD_CASES[i] if i < len(ODD_CASES) else None
            stem = f"{task.lower()}_{i:04d}"
            rng = np.random.default_rng([cfg.seed, ord(task), i])
            image, shapes = _render(rng, cfg.imgsz, classes, case)
            suffix = ".JPG" if case == "uppercase_extension" else ".jpg"
            image.save(tmp / "JPEGImages" / f"{stem}{suffix}", format="JPEG", quality=90)
            filename = f"{stem}.xml" if case == "filename_mismatch" else f"{stem}{suffix}"
            pad = "\n\t\t" if case == "whitespace_name" else ""
            write_text_atomic(tmp / "Annotations" / f"{stem}.xml", _voc_xml(filename, cfg.imgsz, shapes, pad))
            for s in shapes:
                per_class[s.cls] += 1
            if case:
                odd[case] = stem
            stems.append(stem)
        write_text_atomic(tmp / "ImageSets" / "Main" / "trainval.txt", "".join(f"{s}\n" for s in stems))
        result = SampleResult(
            out_dir=Path(out_dir),
            task=task,
            seed=cfg.seed,
            images=cfg.images,
            objects=sum(per_class.values()),
            classes=classes,
            per_class=per_class,
            odd_cases=odd,
            seconds=round(time.perf_counter() - start, 3),
        )
        # no timing and no location in the file, so a re-run gives identical bytes
        stable = {k: v for k, v in result.to_dict().items() if k not in ("out_dir", "seconds")}
        write_json_atomic(tmp / "sample.json", stable)
    log.info(
        "make-sample: task %s, %d images, %d objects (%s), %d odd cases, %.2f s -> %s",
        task,
        result.images,
        result.objects,
        ", ".join(f"{c}={n}" for c, n in per_class.items()),
        len(odd),
        result.seconds,
        out_dir,
    )
    return result


def _render(
    rng: np.random.Generator, size: int, classes: tuple[str, ...], case: str | None
) -> tuple[Image.Image, list[_Shape]]:
    """One image and its shapes; ``case`` adds at most one oddity."""
    canvas = _background(rng, size)
    shapes: list[_Shape] = []
    count = 0 if case == "background" else int(rng.integers(1, 5))
    placed: list[tuple[float, float, float, float]] = []
    for k in range(count):
        cls = classes[int(rng.integers(len(classes)))]
        outside = case == "partly_outside" and k == 0
        spot = _place(rng, size, placed, outside)
        if spot is None:
            continue
        cx, cy, r = spot
        mask = Image.new("L", (size, size), 0)
        _draw(ImageDraw.Draw(mask), cls, cx, cy, r, float(rng.uniform(0, 2 * math.pi)))
        visible = mask.getbbox()
        if visible is None:
            continue
        colour = tuple(int(255 * c) for c in colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.7, 1), 1.0))
        canvas.paste(colour, (0, 0), mask)
        left, top, right, bottom = visible
        xmax = int(math.ceil(cx + r)) if outside else right  # the unclipped extent past the edge
        shapes.append(
            _Shape(
                cls=cls,
                box=(left + 1, top + 1, xmax, bottom),
                difficult=case == "difficult" and k == 0,
                truncated=outside,
            )
        )
        placed.append((cx - r, cy - r, cx + r, cy + r))
    noise = rng.normal(0.0, 6.0, (size, size, 3))
    pixels = np.clip(np.asarray(canvas, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB"), shapes


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    """A muted base colour, a blurry low-frequency texture and faint stripes (no flat backgrounds)."""
    base = np.array(colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.15, 0.5), rng.uniform(0.2, 0.5)))
    coarse = rng.uniform(-1, 1, (int(rng.integers(3, 8)),) * 2 + (3,))
    coarse_img = Image.fromarray(((coarse + 1) * 127.5).astype(np.uint8), "RGB")
    texture = (
        np.asarray(coarse_img.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float64) / 127.5 - 1
    )
    yy, xx = np.mgrid[0:size, 0:size] / size
    angle, freq = rng.uniform(0, math.pi), rng.uniform(2, 12)
    stripes = np.sin(2 * math.pi * freq * (xx * math.cos(angle) + yy * math.sin(angle)))[..., None]
    pixels = 255 * base + 35 * texture + 12 * stripes
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def _place(
    rng: np.random.Generator, size: int, placed: list[tuple[float, float, float, float]], outside: bool
) -> tuple[float, float, float] | None:
    """Centre and half-side of a shape 20-70 % of the image that barely overlaps the others."""
    for attempt in range(40):
        hi = 0.7 - 0.4 * attempt / 40  # shrink when the image fills up
        r = rng.uniform(0.2, max(0.2, hi)) * size / 2
        cy = rng.uniform(r, size - r)
        cx = size - 0.3 * r if outside else rng.uniform(r, size - r)
        box = (cx - r, cy - r, cx + r, cy + r)
        if all(_overlap(box, other) < _MAX_OVERLAP for other in placed):
            return cx, cy, r
    return None


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over the smaller box (IoU would let a small shape sit inside a ring)."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return iw * ih / smaller if smaller > 0 else 0.0


def _draw(draw: ImageDraw.ImageDraw, cls: str, cx: float, cy: float, r: float, turn: float) -> None:
    """Draw one filled shape of half-size ``r`` on a mask (255 = shape)."""

    def poly(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
        c, s = math.cos(turn), math.sin(turn)
        return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in points]

    if cls == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
    elif cls == "ring":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=255)
        draw.ellipse((cx - 0.55 * r, cy - 0.55 * r, cx + 0.55 * r, cy + 0.55 * r), fill=0)
    elif cls == "square":
        h = 0.75 * r
        draw.polygon(poly([(-h, -h), (h, -h), (h, h), (-h, h)]), fill=255)
    elif cls == "triangle":
        draw.polygon(poly([(r * math.cos(a), r * math.sin(a)) for a in (0, 2.094, 4.189)]), fill=255)
    elif cls == "star":
        pts = [((r if k % 2 == 0 else 0.42 * r), k * math.pi / 5) for k in range(10)]
        draw.polygon(poly([(d * math.cos(a), d * math.sin(a)) for d, a in pts]), fill=255)
    elif cls == "cross":
        t, a = 0.3 * r, 0.95 * r
        arm = [(t, t), (t, a), (-t, a)]  # one arm's corners, then the same turned by 90 degrees 3 times
        for _ in range(3):
            arm += [(-y, x) for x, y in arm[-3:]]
        draw.polygon(poly(arm), fill=255)
    else:  # pragma: no cover - TASK_CLASSES lists every drawable class
        raise ConfigError(f"class {cls!r}: no drawing for it")


def _voc_xml(filename: str, size: int, shapes: list[_Shape], pad: str) -> str:
    """Pascal VOC annotation text; ``pad`` surrounds the first object's name with whitespace."""
    objects = []
    for k, s in enumerate(shapes):
        name = f"{pad}{s.cls}  {pad}" if pad and k == 0 else s.cls
        xmin, ymin, xmax, ymax = s.box
        objects.append(
            "\t<object>\n"
            f"\t\t<name>{escape(name)}</name>\n"
            "\t\t<pose>Unspecified</pose>\n"
            f"\t\t<truncated>{int(s.truncated)}</truncated>\n"
            f"\t\t<difficult>{int(s.difficult)}</difficult>\n"
            "\t\t<bndbox>\n"
            f"\t\t\t<xmin>{xmin}</xmin>\n\t\t\t<ymin>{ymin}</ymin>\n"
            f"\t\t\t<xmax>{xmax}</xmax>\n\t\t\t<ymax>{ymax}</ymax>\n"
            "\t\t</bndbox>\n"
            "\t</object>\n"
        )
    return (
        "<annotation>\n"
        "\t<folder>JPEGImages</folder>\n"
        f"\t<filename>{escape(filename)}</filename>\n"
        "\t<source><database>yolo-kfp synthetic shapes</database></source>\n"
        f"\t<size>\n\t\t<width>{size}</width>\n\t\t<height>{size}</height>\n\t\t<depth>3</depth>\n\t</size>\n"
        "\t<segmented>0</segmented>\n" + "".join(objects) + "</annotation>\n"
    )
