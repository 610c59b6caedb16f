"""The validation report's plots, drawn predictions and ``report.html``; the numbers come from ``core.py``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components._shared.report import (
    draw_boxes,
    escape,
    figure,
    html_page,
    html_table,
    png_tag,
    save_image_png,
    save_png,
    side_by_side,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from components.validate.core import ValidateResult


def draw_plots(raw: Mapping[str, Any], folder: Path) -> None:
    """``confusion_matrix.png``, ``pr_curve.png`` and ``confidence_curves.png`` in ``folder``."""
    plot_confusion(raw["confusion_matrix"], folder / "confusion_matrix.png")
    plot_pr_curve(raw["pr_curve"], raw["per_class"], folder / "pr_curve.png")
    plot_confidence_curves(raw["conf_curves"], raw["best_f1"], folder / "confidence_curves.png")


def plot_confusion(confusion: Mapping[str, Any], path: Path) -> None:
    """Counts with the true class on the y axis and the prediction on the x axis."""
    labels, m = confusion["labels"], confusion["matrix"]
    n = len(labels)
    size = min(max(4.0, 0.6 * n + 2), 24)
    fig = figure(size, size * 0.85)
    ax = fig.subplots()
    im = ax.imshow(m, cmap="Blues")
    vmax = max((max(r) for r in m), default=0)
    if n <= 30:
        for t in range(n):
            for p in range(n):
                if m[t][p]:
                    color = "white" if m[t][p] > vmax / 2 else "black"
                    ax.text(p, t, str(m[t][p]), ha="center", va="center", fontsize=8, color=color)
    ax.set_xticks(range(n), labels, rotation=90)
    ax.set_yticks(range(n), labels)
    ax.set(xlabel="predicted", ylabel="true")
    conf, iou = confusion.get("conf"), confusion.get("iou")
    ax.set_title(f"Confusion matrix\n(conf > {conf}, IoU > {iou})", fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8)
    save_png(fig, path)


def _plot_mean(ax: Axes, x: Sequence[float], curves: Mapping[str, Sequence[float]]) -> None:
    if curves:
        mean = [sum(col) / len(col) for col in zip(*curves.values(), strict=True)]
        ax.plot(x, mean, color="black", linewidth=2.5, label="all classes")
    else:
        ax.text(0.5, 0.5, "no labelled objects", ha="center", va="center", transform=ax.transAxes)


def plot_pr_curve(pr: Mapping[str, Any], per_class: Mapping[str, Mapping[str, float]], path: Path) -> None:
    """Precision against recall per class (IoU 0.5) and their mean."""
    fig = figure(7, 5)
    ax = fig.subplots()
    recall, curves = pr["recall"], pr["precision"]
    for name, precision in curves.items():
        ax.plot(
            recall, precision, linewidth=1, label=f"{name} {per_class.get(name, {}).get('ap50', 0.0):.3f}"
        )
    _plot_mean(ax, recall, curves)
    ax.set(
        xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02), title="Precision-recall (IoU 0.5)"
    )
    ax.grid(alpha=0.3)
    if len(curves) <= 20:
        ax.legend(fontsize=7, frameon=False, loc="lower left")
    save_png(fig, path)


def plot_confidence_curves(curves: Mapping[str, Any], best: Mapping[str, float] | None, path: Path) -> None:
    """F1, precision and recall against the confidence threshold, per class and their mean; best F1 marked."""
    fig = figure(13, 4)
    axes = fig.subplots(1, 3)
    conf = curves["conf"]
    for ax, key in zip(axes, ("f1", "precision", "recall"), strict=True):
        per_class = curves[key]
        if len(per_class) <= 20:
            for name, values in per_class.items():
                ax.plot(conf, values, linewidth=1, alpha=0.8, label=name)
        _plot_mean(ax, conf, per_class)
        if best is not None:
            ax.axvline(best["conf"], color="#c75c5c", linestyle="--", linewidth=1.2)
            ax.plot([best["conf"]], [best[key]], "o", color="#c75c5c")
        label = "F1" if key == "f1" else key
        ax.set(
            xlabel="confidence threshold",
            ylabel=label,
            xlim=(0, 1),
            ylim=(0, 1.02),
            title=f"{label} vs confidence",
        )
        ax.grid(alpha=0.3)
    if best is not None:
        axes[0].annotate(f"best F1 {best['f1']:.3f}\nat conf {best['conf']:.3f}", (best["conf"], best["f1"]),
                         xytext=(8, 10 if best["f1"] < 0.7 else -30), textcoords="offset points", fontsize=9,
                         color="#c75c5c")  # fmt: skip
    if axes[0].lines and len(curves["f1"]) <= 20:
        axes[0].legend(fontsize=7, frameon=False, loc="upper right")
    save_png(fig, path)


def draw_predictions(
    images: Sequence[Path], boxes: Mapping[str, Mapping[str, Any]], spec: Any, folder: Path
) -> list[dict[str, Any]]:
    """``folder/NN_<stem>.png`` per sample image: its labels (left) beside the model's predictions (right).

    ``boxes``: resolved image path -> ``components._yolo.validate``'s sample boxes (images it skipped are
    left out). Returns per image ``image`` and ``png`` (relative paths), ``labels`` and ``predictions``.
    """
    from components._yolo.validate import SAMPLE_CONF

    drawn = []
    for i, image in enumerate(images):
        b = boxes.get(str(Path(image).resolve()))
        if b is None:
            continue
        truth = draw_boxes(image, b["gt_boxes"], b["gt_cls"], spec.names,
                           title=f"ground truth: {len(b['gt_cls'])} object(s)")  # fmt: skip
        pred = draw_boxes(image, b["boxes"], b["cls"], spec.names, scores=b["conf"],
                          title=f"predictions: {len(b['cls'])} at confidence >= {SAMPLE_CONF}")  # fmt: skip
        png = folder / f"{i:02d}_{Path(image).stem}.png"
        save_image_png(side_by_side([truth, pred]), png)
        try:
            name = Path(image).resolve().relative_to(spec.root.resolve()).as_posix()
        except ValueError:
            name = Path(image).name
        drawn.append({"image": name, "png": f"{folder.name}/{png.name}", "labels": len(b["gt_cls"]),
                      "predictions": len(b["cls"])})  # fmt: skip
    return drawn


def _size_rows(r: ValidateResult) -> list[tuple[Any, ...]]:
    rows = []
    for s in r.ap_by_size:
        lo, hi = s["area_px"]
        area = f"≥ {lo:g}" if hi is None else f"{lo:g} – {hi:g}"
        rows.append((s["size"], area, s["instances"], s["predictions"],
                     "-" if s["ap50"] is None else s["ap50"], "-" if s["ap50_95"] is None else s["ap50_95"]))  # fmt: skip
    return rows


def _model_sections(r: ValidateResult, folder: Path) -> str:
    best = r.best_f1
    threshold = (
        f"<p class='plan'>Best F1 {best['f1']:.3f} at confidence threshold <b>{best['conf']:.3f}</b> "
        f"(precision {best['precision']:.3f}, recall {best['recall']:.3f}, class means): "
        "a deployment threshold to start from.</p>"
        if best
        else "<p>No labelled objects: no best-F1 threshold.</p>"
    )
    sizes = (
        "<h2>AP by object size</h2>"
        f"<p>COCO size ranges by box area in pixels at the evaluated image size ({escape(r.config.imgsz)}, "
        "longest side); AP averaged over classes with labels in the range; labels outside a range are ignored "
        "there, as in pycocotools. The <i>all</i> row uses the same matching, so it differs slightly from "
        "Ultralytics' mAP above.</p>"
        + html_table(
            ["size", "area (px²)", "labels", f"predictions (conf ≥ {r.config.conf})", "AP50", "AP50-95"],
            _size_rows(r),
            left=2,
        )
    )
    figures = "".join(
        png_tag(
            folder / d["png"],
            f"labels and predictions on {d['image']}",
            caption=f"{d['image']}: {d['labels']} labelled, {d['predictions']} predicted",
        )  # fmt: skip
        for d in r.predictions
    )
    shown = (
        f"<p>A fixed sample of the {escape(r.split)} split (seed {escape(r.config.sample_seed)}): "
        "labels on the left, predictions with class and confidence on the right.</p>"
        f"<div class='samples'>{figures}</div>"
        if figures
        else "<p>No sample image drawn.</p>"
    )
    return (
        sizes
        + "<h2>Confidence threshold</h2>"
        + threshold
        + png_tag(folder / "confidence_curves.png", "F1, precision and recall against confidence")
        + "<h2>Predictions on sample images</h2>"
        + shown
    )


def render_report(r: ValidateResult, folder: Path) -> str:
    """The validation report: the gate's checks, challenger beside champion, per class, plots in ``folder``."""
    gate, champ = r.gate, r.champion
    verdict, css = ("PASSED", "ok") if gate.passed else ("FAILED", "bad")
    checks = "".join(
        f"<li class='{'ok' if c.passed else 'bad'}'><b>{escape(c.name)}</b>: {escape(c.detail)}</li>"
        for c in gate.checks
    )
    measured = champ if champ is not None and champ.compared else None
    who = f"champion ({escape(champ.version)})" if champ else "champion"

    def side(label: str, ours: Any, theirs: Any) -> tuple[Any, ...]:
        delta = ours - theirs if isinstance(ours, float) and isinstance(theirs, float) else "-"
        return (label, ours, theirs if theirs is not None else "-", delta)

    head = [
        side("mAP50-95", r.map50_95, measured.map50_95 if measured else None),
        side("mAP50", r.map50, measured.map50 if measured else None),
        ("precision", r.precision, "-", "-"),
        ("recall", r.recall, "-", "-"),
        ("best-F1 confidence", r.best_f1_conf if r.best_f1_conf is not None else "-", "-", "-"),
        ("images / instances", f"{r.images} / {r.instances}", "", ""),
        ("model", f"{r.weights.name} ({r.model_format})", champ.version if champ else "none", ""),
        ("split", r.split, r.split if measured else "-", ""),
    ]
    theirs = measured.per_class if measured else {}
    rows = []
    for n, c in r.per_class.items():
        before = theirs.get(n, {}).get("ap50_95")
        delta = c["ap50_95"] - before if before is not None else "-"
        rows.append((n, c["ap50"], c["ap50_95"], before if before is not None else "-", delta,
                     c["precision"], c["recall"], c["instances"], c["images"]))  # fmt: skip
    columns = ["class", "AP50", "AP50-95", "champion AP50-95", "difference", "precision", "recall", "instances",
               "images"]  # fmt: skip
    body = (
        f"<p class='{css}'><b>Gate {verdict}</b> (split {escape(r.split)})</p><ul>{checks}</ul>"
        + html_table(["", "challenger", who, "difference"], head)
        + "<h2>Per class</h2>"
        + html_table(columns, rows)
        + _model_sections(r, folder)
        + "<h2>Confusion matrix</h2>"
        + png_tag(folder / "confusion_matrix.png", "confusion matrix")
        + "<h2>Precision-recall</h2>"
        + png_tag(folder / "pr_curve.png", "precision-recall curve")
    )
    return html_page(f"Validation report: {r.weights.name} on {r.split}", body)
