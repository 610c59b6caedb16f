"""Plots (matplotlib Agg, no pyplot state) and the self-contained HTML / Markdown reports of dataset_stats."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components._shared.dataset import label_path, load_dataset, read_label_file
from components._shared.report import (
    draw_boxes,
    escape,
    figure,
    html_cards,
    html_page,
    html_table,
    md_table,
    png_tag,
    save_image_png,
    save_png,
    seeded_order,
    side_by_side,
)

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

SPLIT_COLORS = {"train": "#3b6ea5", "val": "#e0913a", "test": "#5b9f5b"}
SIZE_COLORS = ("#c75c5c", "#e0b341", "#5b9f5b")
PLOTS = {
    "class_histogram": "Instances per class and split",
    "box_sizes": "Box sizes (normalised w/h, pixel size at the training image size, COCO categories)",
    "box_centers": "Box centres (normalised, image coordinates)",
    "samples": "A seeded sample of labelled images (boxes and class names from the label files)",
}
SAMPLE_IMAGES = 6  # labelled images drawn in the report
SAMPLE_SEED = 0
SAMPLE_SIDE = 300  # px, longest side of each drawn image


def _no_data(ax: Any, text: str = "no boxes") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#777")
    ax.set_xticks([])
    ax.set_yticks([])


def _class_histogram(stats: Mapping[str, Any]) -> Figure:
    classes = stats["classes"]
    fig = figure(8, min(max(2.5, 0.8 + 0.28 * len(classes)), 40))
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

    fig = figure(12, 3.8)
    ax_wh, ax_px, ax_cat = fig.subplots(1, 3)
    if len(xywh):
        ax_wh.hist2d(xywh[:, 2], xywh[:, 3], bins=50, range=[[0, 1], [0, 1]], cmap="viridis", cmin=1)
        known = np.sqrt(area[~np.isnan(area)])
        if len(known):
            ax_px.hist(known, bins=50, color="#3b6ea5")
            for edge in stats["size_categories"]["thresholds_px"]:
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
    fig = figure(5, 4.4)
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
    """Write the plots and the sample sheet; return name -> path relative to the report folder."""
    plots_dir.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Callable[[], Figure]] = {
        "class_histogram": lambda: _class_histogram(stats),
        "box_sizes": lambda: _box_sizes(stats, xywh, area),
        "box_centers": lambda: _box_centers(xywh),
    }
    out = {}
    for name, make in figures.items():
        save_png(make(), plots_dir / f"{name}.png")
        out[name] = f"{plots_dir.name}/{name}.png"
    if write_samples(plots_dir / "samples.png", Path(stats["dataset"]), stats["names"]):
        out["samples"] = f"{plots_dir.name}/samples.png"
    return out


def write_samples(
    path: Path, data_yaml: Path, names: Sequence[str], *, k: int = SAMPLE_IMAGES, seed: int = SAMPLE_SEED
) -> int:
    """Draw the first ``k`` images with boxes of a seeded shuffle on one sheet; return how many (0: none)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    spec = load_dataset(data_yaml)
    images = [p for split in spec.splits for p in spec.images(split)]
    panels: list[Image.Image] = []
    for image in seeded_order(images, seed):
        if len(panels) == k:
            break
        try:
            with Image.open(image) as im:
                width, height = ImageOps.exif_transpose(im).size
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError):
            continue
        labels = (read_label_file(label_path(image), len(names)) or ([], []))[0]
        if not labels:
            continue
        boxes = [[(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]
                 for _, cx, cy, w, h in labels]  # fmt: skip
        classes = [box[0] for box in labels]
        try:
            rel = image.resolve().relative_to(spec.root.resolve()).as_posix()
        except ValueError:
            rel = image.name
        title = f"{rel}: {len(boxes)} box(es)"
        panels.append(draw_boxes(image, boxes, classes, names, title=title, side=SAMPLE_SIDE))
    if panels:
        save_image_png(side_by_side(panels, columns=3), path)
    return len(panels)


def _tables(stats: Mapping[str, Any]) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """The split, class and box tables of both reports: name -> (header, rows)."""
    splits = list(stats["splits"])
    split_rows = []
    for split, b in stats["splits"].items():
        s, bpi = b["sizes"], b["boxes_per_image"]
        split_rows.append([split, b["images"], b["background"], b["instances"], bpi["mean"], bpi["max"],
                           s["small"], s["medium"], s["large"]])  # fmt: skip
    class_rows = [[c["id"], c["name"], c["instances"], c["images"], *(c["per_split"].get(s, 0) for s in splits),
                   c["weight"]] for c in stats["classes"]]  # fmt: skip
    b = stats["bbox_stats"]
    stat_names = ["mean", "std", "min", "max"]
    bbox_rows = [
        [k, *(("-" if b[k][m] is None else b[k][m]) for m in stat_names)] for k in ("cx", "cy", "w", "h")
    ]
    return {
        "splits": (["split", "images", "background", "instances", "boxes/image mean", "boxes/image max",
                    "small", "medium", "large"], split_rows),
        "classes": (["id", "name", "instances", "images", *splits, "weight"], class_rows),
        "bbox": (["", *stat_names], bbox_rows),
    }  # fmt: skip


def render_html(stats: Mapping[str, Any], root: Path) -> str:
    """The self-contained HTML report; ``root`` is the folder the plot paths are relative to."""
    tables = _tables(stats)
    cards = [("images", stats["images"]), ("instances", stats["instances"]), ("classes", len(stats["names"])),
             ("background", stats["background_images"]), ("duplicate pairs", stats["duplicates"]["pairs_total"]),
             ("warnings", len(stats["warnings"]))]  # fmt: skip
    warnings = (
        '<ul class="warn">' + "".join(f"<li>{escape(w['message'])}</li>" for w in stats["warnings"]) + "</ul>"
        if stats["warnings"]
        else '<p class="ok">No warnings.</p>'
    )
    sizes = stats["size_categories"]
    small, large = sizes["thresholds_px"]

    def plot(name: str) -> str:
        return png_tag(root / stats["plots"][name], PLOTS[name], caption=PLOTS[name])

    def table(header: list[str], rows: list[list[Any]], left: int = 1) -> str:
        return html_table(header, rows, left=left, digits=None)

    parts = [
        html_cards(cards),
        "<h2>Warnings</h2>" + warnings,
        "<h2>Splits</h2>" + table(*tables["splits"]),
        "<h2>Classes</h2>" + table(*tables["classes"], left=2),
        plot("class_histogram"),
        "<h2>Boxes</h2><p>Normalised box statistics (<code>bbox_stats</code>):</p>" + table(*tables["bbox"]),
        f"<p>At imgsz {sizes['imgsz']} (longest side): {sizes['small']} small (&lt; {small}²px), {sizes['medium']} medium, "
        f"{sizes['large']} large (≥ {large}²px), {sizes['unknown']} of unknown size.</p>",
        plot("box_sizes"),
        plot("box_centers"),
    ]  # fmt: skip
    if "samples" in stats["plots"]:
        parts.append("<h2>Sample images</h2>" + plot("samples"))
    dup = stats["duplicates"]
    if dup["pairs"]:
        rows = [[p["a"], p["b"], ", ".join(p["splits"])] for p in dup["pairs"]]
        parts.append(
            f"<h2>Duplicate images ({dup['pairs_total']} pairs)</h2>"
            + table(["image", "same content as", "splits"], rows, 3)
        )
    subtitle = f"{stats['dataset']} · imgsz {stats['imgsz']}"
    return html_page("Dataset statistics", "\n".join(parts), subtitle=subtitle, footer="yolo-kfp stats")


def render_markdown(stats: Mapping[str, Any]) -> str:
    """A short Markdown summary (for a README, a pull request or the terminal)."""
    tables = _tables(stats)
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
        "## Splits",
        "",
        md_table(*tables["splits"]),
        "",
        "## Classes",
        "",
        md_table(*tables["classes"]),
        "",
        "## bbox_stats",
        "",
        md_table(*tables["bbox"]),
        "",
    ]  # fmt: skip
    return "\n".join(lines)
