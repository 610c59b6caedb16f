"""Validate a PyTorch (``best.pt``) or ONNX (``model.onnx``) detector on one split and decide the gate.

Output folder (replaced atomically)::

    metrics.json           written last: map50, map50_95, precision, recall, per_class, gate, ...
    confusion_matrix.json  labels (classes + background) and counts, rows = true class, columns =
                           predicted class (KFP ``ClassificationMetrics.log_confusion_matrix`` order)
    confusion_matrix.png   the same counts, drawn with matplotlib
    pr_curve.png           precision-recall curve per class at IoU 0.5
    confidence_curves.png  F1, precision and recall against confidence; the best-F1 threshold marked
    predictions/           a seeded sample of the split's images: labels beside predictions (PNG each)
    report.html            self-contained (plots embedded), for the KFP UI

The report shows the model at work: predictions drawn beside the labels on a fixed sample of images
(``samples`` chosen by a ``sample_seed``-ed shuffle of the sorted split list, so runs compare), the
confidence curves with the best-F1 threshold (``best_f1_conf`` in ``metrics.json``, the deployment
threshold to start from), and AP by COCO object size (``ap_by_size``: computed here from the
validator's boxes, ``components/validate/sizes.py`` says how).

The class contract comes first: a model whose class names (or their order) differ from the
dataset's is refused, since every per-class number would be mislabelled. With a champion (the
production model) both are measured here, on the same split at the same settings, and the gate
(``components/validate/gate.py``) compares them: threshold, champion, per class. The default split
is ``auto``: ``test`` when the dataset has one (it never picked a checkpoint), else ``val``, and the
verdict says which. A failed gate is a result, not an error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from components._shared.artifacts import MODEL_E2E_ONNX
from components._shared.dataset import load_dataset, resolve_dataset_yaml
from components._shared.errors import ConfigError, DatasetError, YoloKfpError
from components._shared.fsio import guard_out_dir, staged_dir, write_json_atomic, write_text_atomic
from components._shared.report import (
    draw_boxes,
    escape,
    figure,
    html_page,
    html_table,
    png_tag,
    save_image_png,
    save_png,
    seeded_order,
    side_by_side,
)
from components.validate.gate import Champion, Gate, GatePolicy, decide_gate
from components.validate.sizes import ap_by_size

log = logging.getLogger(__name__)

MODEL_SUFFIXES = (".pt", ".onnx")
END_TO_END_TOLERANCE = 0.005  # largest mAP50-95 difference between model_e2e.onnx and model.onnx


class EndToEndMismatch(YoloKfpError):
    """The end-to-end model (NMS inside) measures a different mAP50-95 than the raw model it came from."""


@dataclass(frozen=True)
class ValidateConfig:
    """Options of ``validate_model``.

    Attributes:
        split: ``auto`` (``test`` when the dataset has one, else ``val``), ``val``, ``test`` or ``train``.
        imgsz: image size (an ONNX model with a fixed input uses its own).
        batch: batch size (a fixed-shape ONNX model runs with batch 1).
        device: ``auto`` (first GPU, else CPU), ``cpu``, ``0``.
        conf: confidence threshold for the mAP computation (low, as usual for mAP).
        iou: NMS IoU threshold.
        min_map50_95: the gate's absolute threshold.
        champion: the production model (``.onnx`` or ``.pt``) to measure on the same split; None for none.
        champion_version: its name in the verdict (default: the file name).
        champion_manifest_sha256: the sha256 of its version's manifest when it is the production
            model of a destination (recorded in the gate, checked by promotion); None otherwise.
        champion_tolerance: how far below the champion the challenger may be.
        class_tolerance: the largest per-class AP50-95 drop allowed against the champion.
        allow_class_change: pass the champion check when the champion's classes differ.
        overwrite: replace an ``out_dir`` that holds files this stage did not write.
        samples: images of the split drawn with their labels and predictions in the report (0: none).
        sample_seed: seed of the shuffle (of the sorted split list) that picks them.
    """

    split: str = "auto"
    imgsz: int = 640
    batch: int = 16
    device: str = "auto"
    conf: float = 0.001
    iou: float = 0.7
    min_map50_95: float = 0.0
    champion: Path | None = None
    champion_version: str | None = None
    champion_manifest_sha256: str | None = None
    champion_tolerance: float = 0.0
    class_tolerance: float = 0.05
    allow_class_change: bool = False
    overwrite: bool = False
    samples: int = 6
    sample_seed: int = 0

    def policy(self) -> GatePolicy:
        """The gate's policy from these options."""
        return GatePolicy(
            self.min_map50_95, self.champion_tolerance, self.class_tolerance, self.allow_class_change
        )


@dataclass(frozen=True)
class ValidateResult:
    """What ``validate_model`` wrote; every number is also in ``out_dir/metrics.json``."""

    out_dir: Path
    metrics_json: Path
    report_html: Path
    confusion_json: Path
    weights: Path
    model_format: str
    split: str
    images: int
    instances: int
    map50: float
    map50_95: float
    precision: float
    recall: float
    gate: Gate
    seconds: float

    @property
    def gate_passed(self) -> bool:
        """Plain output for ``dsl.If``."""
        return self.gate.passed

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (paths as strings)."""
        d = asdict(self)
        for k in ("out_dir", "metrics_json", "report_html", "confusion_json", "weights"):
            d[k] = str(d[k])
        return d

    def summary(self) -> dict[str, float]:
        """Scalars for the run page (KFP ``Metrics``): the challenger, the champion and each gate check."""
        values = {
            "map50": self.map50,
            "map50_95": self.map50_95,
            "precision": self.precision,
            "recall": self.recall,
            "images": float(self.images),
            "instances": float(self.instances),
            "gate_passed": float(self.gate.passed),
        }
        if self.gate.champion_map50_95 is not None:
            values["champion_map50_95"] = float(self.gate.champion_map50_95)
        values |= {f"gate_{c.name}_passed": float(c.passed) for c in self.gate.checks}
        return values


def resolve_split(spec: Any, split: str) -> str:
    """``auto`` -> ``test`` when the dataset has a test list, else ``val``; a named split must exist.

    Raises:
        DatasetError: the split is not in the dataset, or its list names no image.
    """
    if split == "auto":
        split = "test" if "test" in spec.splits else "val"
    if split not in spec.splits:
        raise DatasetError(
            f"{spec.yaml_path}: no '{split}' split (has {', '.join(spec.splits)}); use --split val"
        )
    if not spec.images(split):
        raise DatasetError(
            f"{spec.splits[split]}: the {split} list names no image; re-run split with more images"
        )
    return split


def check_classes(weights: Path, names: Sequence[str], spec: Any) -> None:
    """The class contract: the model's names, in order, are the dataset's.

    Raises:
        ConfigError: one line naming both lists.
    """
    if tuple(names) != tuple(spec.names):
        raise ConfigError(
            f"{weights}: model classes [{', '.join(names)}] differ from {spec.yaml_path} classes "
            f"[{', '.join(spec.names)}] (names and order must match; retrain on this dataset or fix --classes)"
        )


def _check(weights: Path, cfg: ValidateConfig) -> None:
    for flag, path in (("--weights", weights), ("--champion", cfg.champion)):
        if path is None:
            continue
        if path.suffix.lower() not in MODEL_SUFFIXES:
            raise ConfigError(f"{flag} {path}: expected a .pt checkpoint or a .onnx model")
        if not path.is_file():
            raise ConfigError(f"{flag} {path}: file not found")
    if cfg.champion_tolerance < 0 or cfg.class_tolerance < 0:
        raise ConfigError(
            f"champion_tolerance {cfg.champion_tolerance} / class_tolerance {cfg.class_tolerance}: must be >= 0"
        )
    if not 0.0 <= cfg.min_map50_95 <= 1.0:
        raise ConfigError(f"--min-map50-95 {cfg.min_map50_95}: must be in [0, 1]")
    if cfg.imgsz < 32 or cfg.batch < 1:
        raise ConfigError(f"--imgsz {cfg.imgsz} / --batch {cfg.batch}: need imgsz >= 32 and batch >= 1")
    if cfg.samples < 0:
        raise ConfigError(f"samples {cfg.samples}: must be >= 0 (0 draws no image)")
    if not (0.0 <= cfg.conf < 1.0 and 0.0 < cfg.iou <= 1.0):
        raise ConfigError(f"conf {cfg.conf} / iou {cfg.iou}: need 0 <= conf < 1 and 0 < iou <= 1")


def single_device(device: str) -> str:
    """Validation runs on one device: ``auto`` -> ``0`` with CUDA, else ``cpu``; ``0,1`` -> ``0``."""
    if device == "auto":
        import torch

        return "0" if torch.cuda.is_available() else "cpu"
    return device.split(",")[0]


def validate_model(
    weights: Path,
    data_yaml: Path,
    out_dir: Path,
    cfg: ValidateConfig = ValidateConfig(),  # noqa: B008
) -> ValidateResult:
    """Measure a model (and the champion) on one split, plot the results, and decide the gate.

    Args:
        weights: ``best.pt`` or ``model.onnx`` (exported by ``yolo-kfp export``: names and image size
            are read from its metadata).
        data_yaml: the split stage's ``dataset.yaml`` (or its folder).
        out_dir: folder to write (replaced atomically).
        cfg: split, sizes, thresholds and the champion.

    Returns:
        Metrics and the gate verdict (a failed gate is not an error).

    Raises:
        ConfigError: missing or unsupported weights, a model whose classes differ from the dataset's,
            a bad threshold, or an ``out_dir`` overlapping an input or holding foreign files.
        DatasetError: a missing dataset YAML, a split it does not have, or an empty split list.
    """
    t0 = time.perf_counter()
    weights, out_dir = Path(weights), Path(out_dir)
    _check(weights, cfg)
    spec = load_dataset(Path(data_yaml))
    guard_out_dir(out_dir, [weights, spec.root, cfg.champion], overwrite=cfg.overwrite)
    split = resolve_split(spec, cfg.split)
    device = single_device(cfg.device)

    from components._yolo.model import model_names  # heavy: torch + ultralytics (safe loading)
    from components._yolo.validate import validate

    check_classes(weights, model_names(weights), spec)
    with staged_dir(out_dir) as tmp:
        work = tmp / ".work"
        work.mkdir()
        data_resolved = resolve_dataset_yaml(spec.yaml_path, work)
        measure = dict(data_yaml=data_resolved, split=split, imgsz=cfg.imgsz, batch=cfg.batch, device=device,
                       conf=cfg.conf, iou=cfg.iou)  # fmt: skip
        sample = sorted(seeded_order(spec.images(split), cfg.sample_seed)[: cfg.samples])
        raw = validate(weights=weights, save_dir=work / "val", samples=sample, **measure)
        end_to_end = _check_end_to_end(weights, validate, work, measure)
        champion = None
        if cfg.champion is not None:
            champion = _measure_champion(cfg, model_names(cfg.champion), spec, validate, work, measure)
        gate = decide_gate(raw["map50_95"], raw["per_class"], champion, cfg.policy(), split)
        metrics = _metrics(raw, weights, spec.images(split), cfg, gate, split, champion)
        metrics["ap_by_size"] = ap_by_size(raw["records"], spec.names)
        metrics["end_to_end"] = end_to_end
        metrics["predictions"] = draw_predictions(sample, raw["samples"], spec, tmp / "predictions")
        confusion = confusion_for_kfp(raw["confusion_matrix"])
        write_json_atomic(tmp / "confusion_matrix.json", confusion)
        plot_confusion(confusion, tmp / "confusion_matrix.png")
        plot_pr_curve(raw["pr_curve"], raw["per_class"], tmp / "pr_curve.png")
        plot_confidence_curves(raw["conf_curves"], raw["best_f1"], tmp / "confidence_curves.png")
        write_text_atomic(tmp / "report.html", render_report(metrics, tmp))
        import shutil

        shutil.rmtree(work)
        metrics["seconds"] = round(time.perf_counter() - t0, 3)
        write_json_atomic(tmp / "metrics.json", metrics)
    result = _result(metrics, out_dir, weights, gate)
    log.info(
        "validate: %s on %s/%s: mAP50-95 %.4f, mAP50 %.4f, P %.3f, R %.3f; gate %s (%s) in %.1fs",
        weights.name,
        spec.yaml_path.parent.name,
        split,
        result.map50_95,
        result.map50,
        result.precision,
        result.recall,
        "PASSED" if gate.passed else "FAILED",
        gate.reason,
        result.seconds,
    )
    return result


def _check_end_to_end(
    weights: Path, validate: Any, work: Path, measure: dict[str, Any]
) -> dict[str, Any] | None:
    """Measure ``model_e2e.onnx`` beside an ONNX ``weights``; refuse it when its mAP50-95 differs from the raw one's.

    What KServe serves is the end-to-end model, what the gate judges the raw one: they must agree. Both
    are measured with best-class NMS (what the end-to-end graph does; the raw model's reported mAP uses
    Ultralytics' multi-label NMS, which scores differently on the same network).

    Raises:
        EndToEndMismatch: the two differ by more than ``END_TO_END_TOLERANCE``.
    """
    from components._yolo.validate import single_label_nms

    e2e = weights.parent / MODEL_E2E_ONNX
    if weights.suffix.lower() != ".onnx" or weights.name == MODEL_E2E_ONNX or not e2e.is_file():
        return None
    with single_label_nms():
        raw = validate(weights=weights, save_dir=work / "val-best-class", samples=[], **measure, rect=False)[
            "map50_95"
        ]
    # the graph's NMS loop is unrolled for its export batch: a larger validation batch would leave images out
    same_input = {**measure, "batch": min(int(measure["batch"]), _export_batch(e2e)), "rect": False}
    got = validate(weights=e2e, save_dir=work / "val-e2e", samples=[], **same_input)["map50_95"]
    diff = abs(got - raw)
    if diff > END_TO_END_TOLERANCE:
        raise EndToEndMismatch(
            f"{e2e}: mAP50-95 {got:.4f} differs from {weights.name}'s {raw:.4f} (best-class NMS) by {diff:.4f}, "
            f"more than {END_TO_END_TOLERANCE}: the served model would not be the one validated; re-export both"
        )
    log.info("end-to-end model %s: mAP50-95 %.4f, raw model %.4f (best-class NMS)", e2e.name, got, raw)
    return {
        "file": MODEL_E2E_ONNX,
        "map50_95": got,
        "raw_best_class_map50_95": raw,
        "diff": round(diff, 6),
        "tolerance": END_TO_END_TOLERANCE,
    }


def _export_batch(path: Path) -> int:
    """The batch an ONNX model was exported for (Ultralytics' ``batch`` metadata; 1 when absent)."""
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    value = meta.get("batch", "1")
    return int(value) if value.isdigit() and int(value) > 0 else 1


def _measure_champion(
    cfg: ValidateConfig,
    names: Sequence[str],
    spec: Any,
    validate: Any,
    work: Path,
    measure: Mapping[str, Any],
) -> Champion:
    """The champion on the challenger's split, or uncompared when its classes differ."""
    assert cfg.champion is not None
    version, sha = cfg.champion_version or cfg.champion.name, cfg.champion_manifest_sha256
    if tuple(names) != tuple(spec.names):
        log.warning("champion %s has classes %s, the dataset %s: not compared", version, names, spec.names)
        return Champion(version=version, names=tuple(names), compared=False, manifest_sha256=sha)
    raw = validate(weights=cfg.champion, save_dir=work / "champion", **measure)
    log.info("champion %s on %s: mAP50-95 %.4f", version, measure["split"], raw["map50_95"])
    return Champion(
        version=version,
        names=tuple(names),
        compared=True,
        map50_95=float(raw["map50_95"]),
        map50=float(raw["map50"]),
        per_class=raw["per_class"],
        imgsz=raw.get("imgsz", measure["imgsz"]),
        manifest_sha256=sha,
    )


def _metrics(
    raw: Mapping[str, Any],
    weights: Path,
    images: Sequence[Path],
    cfg: ValidateConfig,
    gate: Gate,
    split: str,
    champion: Champion | None,
) -> dict[str, Any]:
    per_class = raw["per_class"]
    return {
        "weights": str(weights),
        "format": "onnx" if weights.suffix.lower() == ".onnx" else "pytorch",
        "names": list(per_class),
        "split": split,
        "images": len(images),
        "instances": sum(int(c.get("instances", 0)) for c in per_class.values()),
        "map50": raw["map50"],
        "map50_95": raw["map50_95"],
        "precision": raw["precision"],
        "recall": raw["recall"],
        "per_class": per_class,
        "best_f1_conf": round(raw["best_f1"]["conf"], 4) if raw.get("best_f1") else None,
        "best_f1": {k: round(v, 4) for k, v in raw["best_f1"].items()} if raw.get("best_f1") else None,
        "gate": gate.to_dict(),
        "champion": champion.to_dict() if champion else None,
        "device": raw.get("device"),
        "speed_ms_per_image": raw.get("speed_ms", {}),
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
    }


def confusion_for_kfp(cm: Mapping[str, Any]) -> dict[str, Any]:
    """Ultralytics' matrix (rows predicted, columns true) transposed to rows true, columns predicted."""
    m = cm["matrix"]
    n = len(m)
    return {
        "labels": list(cm["labels"]),
        "matrix": [[int(m[p][t]) for p in range(n)] for t in range(n)],
        "rows": "true class",
        "columns": "predicted class",
        "conf": cm.get("conf"),
        "iou": cm.get("iou"),
    }


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


def plot_pr_curve(pr: Mapping[str, Any], per_class: Mapping[str, Mapping[str, float]], path: Path) -> None:
    """Precision against recall per class (IoU 0.5) and their mean."""
    fig = figure(7, 5)
    ax = fig.subplots()
    recall, curves = pr["recall"], pr["precision"]
    for name, precision in curves.items():
        ax.plot(
            recall, precision, linewidth=1, label=f"{name} {per_class.get(name, {}).get('ap50', 0.0):.3f}"
        )
    if curves:
        mean = [sum(col) / len(col) for col in zip(*curves.values(), strict=True)]
        ax.plot(recall, mean, color="black", linewidth=2.5, label="all classes")
    else:
        ax.text(0.5, 0.5, "no labelled objects", ha="center", va="center", transform=ax.transAxes)
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
        if per_class:
            mean = [sum(col) / len(col) for col in zip(*per_class.values(), strict=True)]
            ax.plot(conf, mean, color="black", linewidth=2.5, label="all classes")
        else:
            ax.text(0.5, 0.5, "no labelled objects", ha="center", va="center", transform=ax.transAxes)
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
    """One PNG per sample image: its labels (left) beside the model's predictions (right).

    Args:
        images: the sample, in report order.
        boxes: resolved image path -> ``gt_boxes``, ``gt_cls``, ``boxes``, ``conf``, ``cls`` in the
            image's pixels (``components._yolo.validate``); an image the validator skipped is left out.
        spec: the dataset (class names, root for the captions).
        folder: where the PNGs go (``NN_<image stem>.png``).

    Returns:
        Per drawn image: ``image`` (relative to the dataset root), ``png`` (relative to ``folder``'s
        parent), ``labels`` and ``predictions`` (counts).
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


def _size_rows(m: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    rows = []
    for r in m.get("ap_by_size", []):
        lo, hi = r["area_px"]
        area = f"≥ {lo:g}" if hi is None else f"{lo:g} – {hi:g}"
        rows.append((r["size"], area, r["instances"], r["predictions"],
                     "-" if r["ap50"] is None else r["ap50"], "-" if r["ap50_95"] is None else r["ap50_95"]))  # fmt: skip
    return rows


def _model_sections(m: Mapping[str, Any], folder: Path) -> str:
    """AP by size, the confidence curves with the best-F1 threshold, and the drawn predictions."""
    best = m.get("best_f1")
    threshold = (
        f"<p class='plan'>Best F1 {best['f1']:.3f} at confidence threshold <b>{best['conf']:.3f}</b> "
        f"(precision {best['precision']:.3f}, recall {best['recall']:.3f}, class means): "
        "a deployment threshold to start from.</p>"
        if best
        else "<p>No labelled objects: no best-F1 threshold.</p>"
    )
    imgsz = m.get("config", {}).get("imgsz")
    sizes = (
        "<h2>AP by object size</h2>"
        f"<p>COCO size ranges by box area in pixels at the evaluated image size ({escape(imgsz)}, longest "
        "side); AP averaged over classes with labels in the range; labels outside a range are ignored "
        "there, as in pycocotools. The <i>all</i> row uses the same matching, so it differs slightly from "
        "Ultralytics' mAP above.</p>"
        + html_table(
            [
                "size",
                "area (px²)",
                "labels",
                f"predictions (conf ≥ {m['config'].get('conf')})",
                "AP50",
                "AP50-95",
            ],
            _size_rows(m),
            left=2,
        )
    )
    figures = "".join(
        png_tag(
            folder / d["png"],
            f"labels and predictions on {d['image']}",
            caption=f"{d['image']}: {d['labels']} labelled, {d['predictions']} predicted",
        )  # fmt: skip
        for d in m.get("predictions", [])
    )
    shown = (
        f"<p>A fixed sample of the {escape(m['split'])} split (seed {escape(m['config'].get('sample_seed'))}): "
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


def render_report(m: Mapping[str, Any], folder: Path) -> str:
    """The validation report: the gate's checks, challenger beside champion, per class, plots."""
    gate, champ = m["gate"], m.get("champion") or {}
    verdict, css = ("PASSED", "ok") if gate["passed"] else ("FAILED", "bad")
    checks = "".join(
        f"<li class='{'ok' if c['passed'] else 'bad'}'><b>{escape(c['name'])}</b>: {escape(c['detail'])}</li>"
        for c in gate.get("checks", [])
    )
    compared = bool(champ.get("compared"))
    who = f"champion ({escape(champ.get('version', ''))})" if champ else "champion"

    def side(label: str, ours: Any, theirs: Any) -> tuple[Any, ...]:
        delta = ours - theirs if isinstance(ours, float) and isinstance(theirs, float) else "-"
        return (label, ours, theirs if theirs is not None else "-", delta)

    head = [
        side("mAP50-95", m["map50_95"], champ.get("map50_95") if compared else None),
        side("mAP50", m["map50"], champ.get("map50") if compared else None),
        ("precision", m["precision"], "-", "-"),
        ("recall", m["recall"], "-", "-"),
        ("best-F1 confidence", m["best_f1_conf"] if m.get("best_f1_conf") is not None else "-", "-", "-"),
        ("images / instances", f"{m['images']} / {m['instances']}", "", ""),
        ("model", f"{Path(m['weights']).name} ({m['format']})", champ.get("version", "none"), ""),
        ("split", m["split"], m["split"] if compared else "-", ""),
    ]
    theirs = champ.get("per_class", {}) if compared else {}
    rows = []
    for n, c in m["per_class"].items():
        before = theirs.get(n, {}).get("ap50_95")
        delta = c["ap50_95"] - before if before is not None else "-"
        rows.append((n, c["ap50"], c["ap50_95"], before if before is not None else "-", delta,
                     c["precision"], c["recall"], c["instances"], c["images"]))  # fmt: skip
    body = (
        f"<p class='{css}'><b>Gate {verdict}</b> (split {escape(m['split'])})</p><ul>{checks}</ul>"
        + html_table(["", "challenger", who, "difference"], head)
        + "<h2>Per class</h2>"
        + html_table(
            [
                "class",
                "AP50",
                "AP50-95",
                "champion AP50-95",
                "difference",
                "precision",
                "recall",
                "instances",
                "images",
            ],
            rows,
        )  # fmt: skip
        + _model_sections(m, folder)
        + "<h2>Confusion matrix</h2>"
        + png_tag(folder / "confusion_matrix.png", "confusion matrix")
        + "<h2>Precision-recall</h2>"
        + png_tag(folder / "pr_curve.png", "precision-recall curve")
    )
    return html_page(f"Validation report: {Path(m['weights']).name} on {m['split']}", body)


def _result(m: Mapping[str, Any], out_dir: Path, weights: Path, gate: Gate) -> ValidateResult:
    return ValidateResult(
        out_dir=out_dir,
        metrics_json=out_dir / "metrics.json",
        report_html=out_dir / "report.html",
        confusion_json=out_dir / "confusion_matrix.json",
        weights=weights,
        model_format=m["format"],
        split=m["split"],
        images=m["images"],
        instances=m["instances"],
        map50=float(m["map50"]),
        map50_95=float(m["map50_95"]),
        precision=float(m["precision"]),
        recall=float(m["recall"]),
        gate=gate,
        seconds=float(m["seconds"]),
    )
