"""Report helpers shared by the stages: Agg figures, PNG files, and self-contained HTML / Markdown.

Reports are single files (CSS inline, PNGs embedded as base64) because the Kubeflow UI shows an
``HTML`` artifact from one file and fetches nothing. Every stage's page uses the one stylesheet
``CSS``. matplotlib is imported inside the functions: the data stages import this module quickly.
Stage-specific plots (training curves, confusion matrix, box sizes) stay in their stage.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
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
    """An HTML table; the first ``left`` columns are left-aligned (names), the rest numbers.

    Args:
        digits: decimals for float cells; None prints floats as they are.
    """

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
