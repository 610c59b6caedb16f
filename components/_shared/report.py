"""Report helpers shared by the stages: Agg figures, PNG files, boxes drawn on images, self-contained HTML / Markdown.

Single files (CSS inline, PNGs embedded): the Kubeflow UI shows an ``HTML`` artifact from one file and
fetches nothing. matplotlib and PIL are imported lazily.
"""

from __future__ import annotations

import base64
import functools
import html
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components._shared.fsio import temp_beside

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from PIL import Image as PILImage
    from PIL import ImageFont

# Box colours by class id (matplotlib's tab20 order, strong colours first), as RGB.
PALETTE = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
    (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207), (174, 199, 232), (255, 187, 120),
    (152, 223, 138), (255, 152, 150), (197, 176, 213), (196, 156, 148), (247, 182, 210), (199, 199, 199),
    (219, 219, 141), (158, 218, 229),
)  # fmt: skip
PANEL_SIDE = 420  # longest side of a drawn image panel, in pixels

CSS = """
body{font:14px/1.45 -apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1f2328;background:#fff;margin:0}
main{max-width:1100px;margin:0 auto;padding:20px 24px}
h1{font-size:22px;margin:0 0 2px}h2{font-size:17px;margin:26px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
.sub{color:#57606a;margin:0 0 14px;word-break:break-all}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:20px}.card span{color:#57606a;font-size:12px}
table{border-collapse:collapse;margin:6px 0;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d0d7de;padding:4px 10px;text-align:right}
th{background:#f6f8fa}td.l,th.l{text-align:left}
ul.warn{list-style:none;padding:0}ul.warn li{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:6px 10px;margin:4px 0}
p.ok{background:#dafbe1;border:1px solid #4ac26b;border-radius:6px;padding:6px 10px}
p.bad{background:#ffebe9;border:1px solid #ff8182;border-radius:6px;padding:6px 10px}
.samples{display:flex;flex-wrap:wrap;gap:12px}.samples figure{margin:0;flex:1 1 480px;max-width:100%}
.plan{background:#ddf4ff;border:1px solid #54aeff;border-radius:6px;padding:8px 12px}
img{max-width:100%}figure{margin:12px 0}figure img{border:1px solid #d0d7de;border-radius:6px}
figcaption{color:#57606a;font-size:12px}footer{color:#57606a;font-size:12px;margin-top:30px}
"""


def escape(value: Any) -> str:
    """``str(value)`` escaped for HTML text and attributes."""
    return html.escape(str(value))


def figure(width: float, height: float) -> Figure:
    """A matplotlib Figure on the Agg canvas (no pyplot state, no display)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Figure, path: Path) -> None:
    """Save a figure as PNG through a temp file and an atomic rename."""
    with temp_beside(Path(path), ".png") as tmp:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)


def png_tag(path: Path, alt: str, *, caption: str = "") -> str:
    """An ``<img>`` with the PNG embedded as base64; with ``caption``, inside a ``<figure>``."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    img = f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'
    if not caption:
        return img
    return f"<figure>{img}<figcaption>{escape(caption)}</figcaption></figure>"


def html_table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], *, left: int = 1, digits: int | None = 4
) -> str:
    """An HTML table; the first ``left`` columns are left-aligned, float cells get ``digits`` decimals (None: as is)."""

    def cell(tag: str, i: int, v: Any) -> str:
        cls = ' class="l"' if i < left else ""
        text = f"{v:.{digits}f}" if digits is not None and isinstance(v, float) else escape(v)
        return f"<{tag}{cls}>{text}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def html_cards(items: Sequence[tuple[str, Any]]) -> str:
    """Headline numbers as a row of cards: ``(label, value)`` pairs, the value large."""
    cards = "".join(f"<div class=card><b>{escape(v)}</b><span>{escape(k)}</span></div>" for k, v in items)
    return f'<div class="cards">{cards}</div>'


def html_page(title: str, body: str, *, subtitle: str = "", footer: str = "") -> str:
    """A complete HTML document: the one stylesheet, ``title`` as heading, then ``body`` (HTML)."""
    sub = f'<p class="sub">{escape(subtitle)}</p>' if subtitle else ""
    foot = f"<footer>{escape(footer)}</footer>" if footer else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>\n<body><main>\n"
        f"<h1>{escape(title)}</h1>{sub}\n{body}\n{foot}</main></body></html>\n"
    )


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown (GitHub) table; ``|`` in cells is escaped."""

    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def seeded_order(paths: Sequence[Path | str], seed: int) -> list[Path]:
    """``paths`` sorted, then shuffled by a seeded RNG: the same list and seed give the same sample."""
    order = sorted({Path(p) for p in paths}, key=lambda p: p.as_posix())
    random.Random(seed).shuffle(order)
    return order


def class_color(index: int) -> tuple[int, int, int]:
    """The drawing colour of class ``index``."""
    return PALETTE[int(index) % len(PALETTE)]


def class_label(names: Sequence[str], index: float) -> str:
    """The name of class ``index``, or the index itself when ``names`` has no such class."""
    i = int(index)
    return str(names[i]) if 0 <= i < len(names) else str(i)


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """matplotlib's bundled DejaVu Sans at ``size`` px (PIL's built-in font if FreeType is missing)."""
    from matplotlib import font_manager
    from PIL import ImageFont

    try:
        return ImageFont.truetype(font_manager.findfont("DejaVu Sans"), size)
    except OSError:
        return ImageFont.load_default()


def draw_boxes(
    image: Path | PILImage.Image,
    boxes: Sequence[Sequence[float]],
    classes: Sequence[float],
    names: Sequence[str],
    *,
    scores: Sequence[float] | None = None,
    title: str = "",
    side: int | None = PANEL_SIDE,
) -> PILImage.Image:
    """``image`` scaled to ``side`` px (longest side; None: as it is) with boxes, class names (and scores) and a title.

    ``image``: a file (EXIF orientation applied, as the trainer reads it) or a PIL image; ``boxes``: ``x0 y0
    x1 y1`` in its pixels; ``scores``: drawn after the names (None for labels).
    """
    from PIL import Image, ImageDraw, ImageOps

    if isinstance(image, Image.Image):
        im = image.convert("RGB")
    else:
        with Image.open(image) as opened:
            im = ImageOps.exif_transpose(opened).convert("RGB")
    side = side or max(im.size)
    scale = side / max(im.size)
    if scale != 1.0:
        size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
        im = im.resize(size, Image.Resampling.BILINEAR)
    font, width = _font(max(11, side // 32)), max(2, side // 200)
    draw = ImageDraw.Draw(im)
    for i, (box, cls) in enumerate(zip(boxes, classes, strict=True)):
        x0, y0, x1, y1 = (float(v) * scale for v in box)
        color = class_color(int(cls))
        draw.rectangle((x0, y0, x1, y1), outline=color, width=width)
        name = class_label(names, cls)
        text = f"{name} {scores[i]:.2f}" if scores is not None else name
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        tw, th = right - left + 4, bottom - top + 4
        ty = y0 - th if y0 - th >= 0 else y0  # above the box, or inside it at the top edge
        tx = min(max(0.0, x0), max(0.0, im.width - tw))
        draw.rectangle((tx, ty, tx + tw, ty + th), fill=color)
        draw.text((tx + 2 - left, ty + 2 - top), text, fill=(255, 255, 255), font=font)
    if not title:
        return im
    bar = _font(max(12, side // 28))
    height = draw.textbbox((0, 0), "Ag", font=bar)[3] + 10
    framed = Image.new("RGB", (im.width, im.height + height), (246, 248, 250))
    framed.paste(im, (0, height))
    ImageDraw.Draw(framed).text((6, 5), title, fill=(31, 35, 40), font=bar)
    return framed


def side_by_side(panels: Sequence[PILImage.Image], *, gap: int = 8, columns: int = 0) -> PILImage.Image:
    """Panels on a white sheet, left to right (``columns`` > 0: that many per row), tops aligned."""
    from PIL import Image

    columns = columns or len(panels)
    rows = [panels[i : i + columns] for i in range(0, len(panels), columns)]
    widths = [sum(p.width for p in row) + gap * (len(row) - 1) for row in rows]
    heights = [max(p.height for p in row) for row in rows]
    sheet = Image.new("RGB", (max(widths, default=1), sum(heights) + gap * (len(rows) - 1)), (255, 255, 255))
    y = 0
    for row, h in zip(rows, heights, strict=True):
        x = 0
        for panel in row:
            sheet.paste(panel, (x, y))
            x += panel.width + gap
        y += h + gap
    return sheet


def save_image_png(image: PILImage.Image, path: Path) -> None:
    """Save a PIL image as PNG through a temp file and an atomic rename."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with temp_beside(Path(path), ".png") as tmp:
        image.save(tmp, format="PNG", optimize=True)  # lossless: boxes and text stay sharp
        os.replace(tmp, path)
