"""Plots (matplotlib, Agg, no pyplot state) and the HTML / Markdown reports of ``dataset_stats``.

The HTML report is self-contained (CSS inline, PNGs embedded as base64) because the Kubeflow UI shows
it from a single artifact file.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

SPLIT_COLORS = {"train": "#3b6ea5", "val": "#e0913a", "test": "#5b9f5b"}
SIZE_COLORS = ("#c75c5c", "#e0b341", "#5b9f5b")
PLOTS = {
    "class_histogram": "Instances per class and split",
    "box_sizes": "Box sizes (normalised w/h, pixel size at the training image size, COCO categories)",
    "box_centers": "Box centres (normalised, image coordinates)",
}


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _no_data(ax: Any, text: str = "no boxes") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#777")
    ax.set_xticks([])
    ax.set_yticks([])


def _class_histogram(stats: Mapping[str, Any]) -> Figure:
    classes = stats["classes"]
    fig = _figure(8, min(max(2.5, 0.8 + 0.28 * len(classes)), 40))
    ax = fig.subplots()
    labels = [c["name"] if len(c["name"]) <= 30 else c["name"][:29] + "…" for c in classes]
    y = list(range(len(classes)))
    left = [0] * len(classes)
    for split in stats["splits"]:
        values = [c["per_split"].get(split, 0) for c in classes]
        ax.barh(y, values, left=left, color=SPLIT_COLORS.get(split, "#888"), label=split)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("instances")
    ax.legend(loc="lower right", frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return fig


def _box_sizes(stats: Mapping[str, Any], xywh: np.ndarray, area: np.ndarray) -> Figure:
    import numpy as np

    fig = _figure(12, 3.8)
    ax_wh, ax_px, ax_cat = fig.subplots(1, 3)
    if len(xywh):
        ax_wh.hist2d(xywh[:, 2], xywh[:, 3], bins=50, range=[[0, 1], [0, 1]], cmap="viridis", cmin=1)
        known = np.sqrt(area[~np.isnan(area)])
        if len(known):
            ax_px.hist(known, bins=50, color="#3b6ea5")
            for edge in (32, 96):
                ax_px.axvline(edge, color="#c75c5c", linestyle="--", linewidth=1)
    else:
        _no_data(ax_wh)
        _no_data(ax_px)
    ax_wh.set(xlabel="w (normalised)", ylabel="h (normalised)", title="box width vs height")
    ax_px.set(xlabel=f"sqrt(area) px at imgsz {stats['imgsz']}", ylabel="boxes", title="box size")
    sizes = stats["size_categories"]
    names = ["small", "medium", "large"]
    ax_cat.bar(names, [sizes[n] for n in names], color=SIZE_COLORS)
    ax_cat.set(ylabel="boxes", title="COCO size category")
    return fig


def _box_centers(xywh: np.ndarray) -> Figure:
    fig = _figure(5, 4.4)
    ax = fig.subplots()
    if len(xywh):
        *_, image = ax.hist2d(xywh[:, 0], xywh[:, 1], bins=40, range=[[0, 1], [0, 1]], cmap="viridis", cmin=1)
        fig.colorbar(image, ax=ax, label="boxes")
    else:
        _no_data(ax)
    ax.set(xlabel="cx", ylabel="cy", xlim=(0, 1), ylim=(1, 0), title="box centres")
    return fig


def write_plots(
    plots_dir: Path, stats: Mapping[str, Any], xywh: np.ndarray, area: np.ndarray
) -> dict[str, str]:
    """Write the three PNGs; return name -> path relative to the report folder."""
    plots_dir.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Callable[[], Figure]] = {
        "class_histogram": lambda: _class_histogram(stats),
        "box_sizes": lambda: _box_sizes(stats, xywh, area),
        "box_centers": lambda: _box_centers(xywh),
    }
    out = {}
    for name, make in figures.items():
        make().savefig(plots_dir / f"{name}.png")
        out[name] = f"{plots_dir.name}/{name}.png"
    return out


_CSS = """
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
.plan{background:#ddf4ff;border:1px solid #54aeff;border-radius:6px;padding:8px 12px}
figure{margin:12px 0}figure img{max-width:100%;border:1px solid #d0d7de;border-radius:6px}
figcaption{color:#57606a;font-size:12px}footer{color:#57606a;font-size:12px;margin-top:30px}
"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 1) -> str:
    """HTML table; the first ``left`` columns are left-aligned (names), the rest numbers."""

    def cell(tag: str, i: int, v: Any) -> str:
        cls = ' class="l"' if i < left else ""
        return f"<{tag}{cls}>{_e(v)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(cell("td", i, v) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _plan_rows(plan: Mapping[str, Any]) -> list[list[Any]]:
    keys = ("model", "strategy", "freeze", "epochs", "epochs_frozen", "epochs_finetune")
    return [[k, plan[k]] for k in keys]


def _split_rows(stats: Mapping[str, Any]) -> list[list[Any]]:
    rows = []
    for split, b in stats["splits"].items():
        s = b["sizes"]
        bpi = b["boxes_per_image"]
        rows.append([split, b["images"], b["background"], b["instances"], bpi["mean"], bpi["max"],
                     s["small"], s["medium"], s["large"]])  # fmt: skip
    return rows


def _class_rows(stats: Mapping[str, Any]) -> list[list[Any]]:
    splits = list(stats["splits"])
    return [
        [
            c["id"],
            c["name"],
            c["instances"],
            c["images"],
            *(c["per_split"].get(s, 0) for s in splits),
            c["weight"],
        ]
        for c in stats["classes"]
    ]


def _bbox_rows(stats: Mapping[str, Any]) -> list[list[Any]]:
    b = stats["bbox_stats"]
    return [[k, *(("-" if b[k][m] is None else b[k][m]) for m in ("mean", "std", "min", "max"))]
            for k in ("cx", "cy", "w", "h")]  # fmt: skip


def _embedded(root: Path, rel: str, caption: str) -> str:
    data = base64.b64encode((root / rel).read_bytes()).decode("ascii")
    return f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{data}"><figcaption>{_e(caption)}</figcaption></figure>'


def render_html(stats: Mapping[str, Any], root: Path) -> str:
    """The self-contained HTML report; ``root`` is the folder the plot paths are relative to."""
    splits = list(stats["splits"])
    plan = stats["recommended"]
    cards = [("images", stats["images"]), ("instances", stats["instances"]), ("classes", len(stats["names"])),
             ("background", stats["background_images"]), ("duplicate pairs", stats["duplicates"]["pairs_total"]),
             ("warnings", len(stats["warnings"]))]  # fmt: skip
    warnings = (
        '<ul class="warn">' + "".join(f"<li>{_e(w['message'])}</li>" for w in stats["warnings"]) + "</ul>"
        if stats["warnings"]
        else '<p class="ok">No warnings.</p>'
    )
    sizes = stats["size_categories"]
    parts = [
        f"<h1>Dataset statistics</h1><p class=\"sub\">{_e(stats['dataset'])} · imgsz {stats['imgsz']}</p>",
        '<div class="cards">' + "".join(f"<div class=card><b>{_e(v)}</b><span>{_e(k)}</span></div>" for k, v in cards) + "</div>",
        "<h2>Warnings</h2>" + warnings,
        f"<h2>Recommended plan</h2><div class=plan>{_e(plan['reason'])}</div>" + _table(["", "value"], _plan_rows(plan)),
        "<h2>Splits</h2>" + _table(["split", "images", "background", "instances", "boxes/image mean",
                                    "boxes/image max", "small", "medium", "large"], _split_rows(stats)),
        "<h2>Classes</h2>" + _table(["id", "name", "instances", "images", *splits, "weight"], _class_rows(stats), left=2),
        _embedded(root, stats["plots"]["class_histogram"], PLOTS["class_histogram"]),
        "<h2>Boxes</h2><p>Normalised box statistics (<code>bbox_stats</code>):</p>"
        + _table(["", "mean", "std", "min", "max"], _bbox_rows(stats)),
        f"<p>At imgsz {sizes['imgsz']} (longest side): {sizes['small']} small (&lt; 32²px), {sizes['medium']} medium, "
        f"{sizes['large']} large (≥ 96²px), {sizes['unknown']} of unknown size.</p>",
        _embedded(root, stats["plots"]["box_sizes"], PLOTS["box_sizes"]),
        _embedded(root, stats["plots"]["box_centers"], PLOTS["box_centers"]),
    ]  # fmt: skip
    dup = stats["duplicates"]
    if dup["pairs"]:
        rows = [[p["a"], p["b"], ", ".join(p["splits"])] for p in dup["pairs"]]
        parts.append(
            f"<h2>Duplicate images ({dup['pairs_total']} pairs)</h2>"
            + _table(["image", "same content as", "splits"], rows, 3)
        )
    parts.append("<footer>yolo-kfp stats</footer>")
    body = "\n".join(parts)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>Dataset statistics</title><style>{_CSS}</style></head>\n<body><main>\n{body}\n</main></body></html>\n"
    )


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def render_markdown(stats: Mapping[str, Any]) -> str:
    """A short Markdown summary (for a README, a pull request or the terminal)."""
    splits = list(stats["splits"])
    plan = stats["recommended"]
    lines = [
        "# Dataset statistics",
        "",
        f"`{stats['dataset']}`: {stats['images']} images, {stats['instances']} instances, "
        f"{len(stats['names'])} classes, {stats['background_images']} background images (imgsz {stats['imgsz']}).",
        "",
        "## Warnings",
        "",
        *([f"- {w['message']}" for w in stats["warnings"]] or ["None."]),
        "",
        "## Recommended plan",
        "",
        plan["reason"],
        "",
        _md_table(["", "value"], _plan_rows(plan)),
        "",
        "## Splits",
        "",
        _md_table(["split", "images", "background", "instances", "boxes/image mean", "boxes/image max",
                   "small", "medium", "large"], _split_rows(stats)),
        "",
        "## Classes",
        "",
        _md_table(["id", "name", "instances", "images", *splits, "weight"], _class_rows(stats)),
        "",
        "## bbox_stats",
        "",
        _md_table(["", "mean", "std", "min", "max"], _bbox_rows(stats)),
        "",
    ]  # fmt: skip
    return "\n".join(lines)
