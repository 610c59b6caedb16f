"""Validate a PyTorch (``best.pt``) or ONNX (``model.onnx``) detector on one split and decide the gate.

Output folder (replaced atomically)::

    metrics.json           written last: map50, map50_95, precision, recall, per_class, gate, ...
    confusion_matrix.json  labels (classes + background) and counts, rows = true class, columns =
                           predicted class (KFP ``ClassificationMetrics.log_confusion_matrix`` order)
    confusion_matrix.png   the same counts, drawn with matplotlib
    pr_curve.png           precision-recall curve per class at IoU 0.5
    report.html            self-contained (plots embedded), for the KFP UI

The gate passes iff ``map50_95 >= min_map50_95`` and, when a baseline (the production model's
metrics.json) is given, ``map50_95 >= baseline map50_95``: a challenger must be at least as good. A
failed gate is a result, not an error.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from components._shared.dataset import load_dataset, resolve_dataset_yaml
from components._shared.errors import ConfigError, DatasetError
from components._shared.fsio import staged_dir, write_json_atomic, write_text_atomic
from components._shared.report import escape, figure, html_page, html_table, png_tag, save_png

log = logging.getLogger(__name__)

MODEL_SUFFIXES = (".pt", ".onnx")


@dataclass(frozen=True)
class ValidateConfig:
    """Options of ``validate_model``.

    Attributes:
        split: dataset split to measure (``val`` or ``test``).
        imgsz: image size (an ONNX model with a fixed input uses its own).
        batch: batch size (a fixed-shape ONNX model runs with batch 1).
        device: ``auto`` (first GPU, else CPU), ``cpu``, ``0``.
        conf: confidence threshold for the mAP computation (low, as usual for mAP).
        iou: NMS IoU threshold.
        min_map50_95: the gate's absolute threshold.
        baseline: metrics.json of the model to beat (``map50_95`` at the top level); None for none.
    """

    split: str = "val"
    imgsz: int = 640
    batch: int = 16
    device: str = "auto"
    conf: float = 0.001
    iou: float = 0.7
    min_map50_95: float = 0.0
    baseline: Path | None = None


@dataclass(frozen=True)
class Gate:
    """The publishing decision and why."""

    passed: bool
    reason: str
    threshold: float
    baseline_map50_95: float | None


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
        """Scalars for the run page (KFP ``Metrics``)."""
        return {
            "map50": self.map50,
            "map50_95": self.map50_95,
            "precision": self.precision,
            "recall": self.recall,
            "images": float(self.images),
            "instances": float(self.instances),
            "gate_passed": float(self.gate.passed),
        }


def read_baseline(path: Path) -> float:
    """The ``map50_95`` of a baseline metrics.json (top level, or under ``metrics``)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"--baseline {path}: file not found (pass the production model's metrics.json)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"--baseline {path}: not valid JSON ({err.__class__.__name__})") from err
    value = data.get("map50_95") if isinstance(data, dict) else None
    if value is None and isinstance(data, dict) and isinstance(data.get("metrics"), dict):
        value = data["metrics"].get("map50_95")
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"--baseline {path}: no numeric 'map50_95' in it")
    return float(value)


def decide_gate(map50_95: float, threshold: float, baseline: float | None) -> Gate:
    """Pass iff ``map50_95 >= threshold`` and (no baseline or ``map50_95 >= baseline``)."""
    reasons, passed = [], True
    if map50_95 >= threshold:
        reasons.append(f"mAP50-95 {map50_95:.4f} >= threshold {threshold:.4f}")
    else:
        passed = False
        reasons.append(f"mAP50-95 {map50_95:.4f} < threshold {threshold:.4f}")
    if baseline is None:
        reasons.append("no baseline")
    elif map50_95 >= baseline:
        reasons.append(f">= baseline {baseline:.4f}")
    else:
        passed = False
        reasons.append(f"< baseline {baseline:.4f} (the production model is better)")
    return Gate(passed=passed, reason="; ".join(reasons), threshold=threshold, baseline_map50_95=baseline)


def _check(weights: Path, cfg: ValidateConfig) -> None:
    if weights.suffix.lower() not in MODEL_SUFFIXES:
        raise ConfigError(f"--weights {weights}: expected a .pt checkpoint or a .onnx model")
    if not weights.is_file():
        raise ConfigError(f"--weights {weights}: file not found")
    if not 0.0 <= cfg.min_map50_95 <= 1.0:
        raise ConfigError(f"--min-map50-95 {cfg.min_map50_95}: must be in [0, 1]")
    if cfg.imgsz < 32 or cfg.batch < 1:
        raise ConfigError(f"--imgsz {cfg.imgsz} / --batch {cfg.batch}: need imgsz >= 32 and batch >= 1")
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
    """Measure a model on one split, plot its confusion matrix and PR curve, and decide the gate.

    Args:
        weights: ``best.pt`` or ``model.onnx`` (exported by ``yolo-kfp export``: names and image size
            are read from its metadata).
        data_yaml: the split stage's ``dataset.yaml`` (or its folder).
        out_dir: folder to write (replaced atomically).
        cfg: split, sizes, thresholds and the baseline.

    Returns:
        Metrics and the gate verdict (a failed gate is not an error).

    Raises:
        ConfigError: missing or unsupported weights, a bad threshold or baseline file.
        DatasetError: a missing dataset YAML or a split it does not have.
    """
    t0 = time.perf_counter()
    weights, out_dir = Path(weights), Path(out_dir)
    _check(weights, cfg)
    spec = load_dataset(Path(data_yaml))
    if cfg.split not in spec.splits:
        raise DatasetError(
            f"{spec.yaml_path}: no '{cfg.split}' split (has {', '.join(spec.splits)}); use --split val"
        )
    baseline = read_baseline(cfg.baseline) if cfg.baseline is not None else None
    device = single_device(cfg.device)

    from components._yolo.validate import validate  # heavy: torch + ultralytics

    with staged_dir(out_dir) as tmp:
        work = tmp / ".work"
        work.mkdir()
        data_resolved = resolve_dataset_yaml(spec.yaml_path, work)
        raw = validate(
            weights=weights,
            data_yaml=data_resolved,
            save_dir=work / "val",
            split=cfg.split,
            imgsz=cfg.imgsz,
            batch=cfg.batch,
            device=device,
            conf=cfg.conf,
            iou=cfg.iou,
        )
        gate = decide_gate(raw["map50_95"], cfg.min_map50_95, baseline)
        metrics = _metrics(raw, weights, spec.images(cfg.split), cfg, gate)
        confusion = confusion_for_kfp(raw["confusion_matrix"])
        write_json_atomic(tmp / "confusion_matrix.json", confusion)
        plot_confusion(confusion, tmp / "confusion_matrix.png")
        plot_pr_curve(raw["pr_curve"], raw["per_class"], tmp / "pr_curve.png")
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
        cfg.split,
        result.map50_95,
        result.map50,
        result.precision,
        result.recall,
        "PASSED" if gate.passed else "FAILED",
        gate.reason,
        result.seconds,
    )
    return result


def _metrics(
    raw: Mapping[str, Any], weights: Path, images: Sequence[Path], cfg: ValidateConfig, gate: Gate
) -> dict[str, Any]:
    per_class = raw["per_class"]
    return {
        "weights": str(weights),
        "format": "onnx" if weights.suffix.lower() == ".onnx" else "pytorch",
        "split": cfg.split,
        "images": len(images),
        "instances": sum(int(c.get("instances", 0)) for c in per_class.values()),
        "map50": raw["map50"],
        "map50_95": raw["map50_95"],
        "precision": raw["precision"],
        "recall": raw["recall"],
        "per_class": per_class,
        "gate": asdict(gate),
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


def render_report(m: Mapping[str, Any], folder: Path) -> str:
    """The validation report: gate, headline numbers, per-class table, confusion matrix, PR curve."""
    gate = m["gate"]
    verdict = "PASSED" if gate["passed"] else "FAILED"
    css = "ok" if gate["passed"] else "bad"
    head = [
        ("mAP50-95", m["map50_95"]),
        ("mAP50", m["map50"]),
        ("precision", m["precision"]),
        ("recall", m["recall"]),
        ("images / instances", f"{m['images']} / {m['instances']}"),
        ("model", f"{Path(m['weights']).name} ({m['format']})"),
        ("split", m["split"]),
    ]
    rows = [
        (n, c["ap50"], c["ap50_95"], c["precision"], c["recall"], c["instances"], c["images"])
        for n, c in m["per_class"].items()
    ]
    body = (
        f"<p class='{css}'><b>Gate {verdict}</b>: {escape(gate['reason'])}</p>"
        + html_table(["", "value"], head)
        + "<h2>Per class</h2>"
        + html_table(["class", "AP50", "AP50-95", "precision", "recall", "instances", "images"], rows)
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
