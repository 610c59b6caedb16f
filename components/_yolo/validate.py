"""Validation of a ``.pt`` or ``.onnx`` detector, and Ultralytics' metrics as plain dicts."""

from __future__ import annotations

# Patches first: they set YOLO_OFFLINE before Ultralytics is imported.
from components._yolo.patches import neutral_copy, quiet_stdout  # isort: split

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ultralytics import YOLO
from ultralytics.models.yolo.detect import DetectionTrainer, DetectionValidator

from components._shared.errors import ConfigError

log = logging.getLogger(__name__)

CONFUSION_CONF = 0.25  # detections counted in the confusion matrix
CONFUSION_IOU = 0.45  # box match for the confusion matrix (Ultralytics' default)


class ConfusionValidator(DetectionValidator):
    """Detection validator that fills the confusion matrix without Ultralytics' plots (``plots=False``).

    Upstream only counts the matrix when it also draws label images (which need a downloaded font),
    so the matrix is counted here, per image, with the same call upstream uses, but at a deployment
    confidence (upstream passes the mAP threshold, 0.001, which floods the background column).
    """

    def _process_batch(self, preds: dict[str, torch.Tensor], batch: dict[str, Any]) -> dict[str, np.ndarray]:
        if not self.args.plots:
            self.confusion_matrix.process_batch(preds, batch, conf=CONFUSION_CONF, iou_thres=CONFUSION_IOU)
        return super()._process_batch(preds, batch)


def final_metrics(trainer: DetectionTrainer) -> dict[str, Any]:
    """Overall and per-class numbers of the trainer's last validation (best.pt after final_eval)."""
    v = trainer.validator
    if v is None or getattr(v, "metrics", None) is None:
        return {}
    return metrics_dict(v.metrics, trainer.data["names"])


def metrics_dict(metrics: Any, names: Mapping[int, str]) -> dict[str, Any]:
    """mAP50, mAP50-95, P, R and a per-class table from Ultralytics ``DetMetrics``."""
    box = metrics.box
    mp, mr, map50, map50_95 = (float(x) for x in box.mean_results())
    nt = getattr(metrics, "nt_per_class", None)
    nt_img = getattr(metrics, "nt_per_image", None)
    per_class: dict[str, dict[str, float | int]] = {}
    index = {int(c): i for i, c in enumerate(box.ap_class_index)}
    for c, name in names.items():
        row: dict[str, float | int] = {"ap50": 0.0, "ap50_95": 0.0, "precision": 0.0, "recall": 0.0}
        if (i := index.get(int(c))) is not None:
            p, r, ap50, ap = box.class_result(i)
            row = {"ap50": float(ap50), "ap50_95": float(ap), "precision": float(p), "recall": float(r)}
        row["instances"] = int(nt[int(c)]) if nt is not None and len(nt) > int(c) else 0
        row["images"] = int(nt_img[int(c)]) if nt_img is not None and len(nt_img) > int(c) else 0
        per_class[str(name)] = row
    return {
        "map50": map50,
        "map50_95": map50_95,
        "precision": mp,
        "recall": mr,
        "per_class": per_class,
    }


def validate(
    *,
    weights: Path,
    data_yaml: Path,
    save_dir: Path,
    split: str,
    imgsz: int,
    batch: int,
    device: str,
    conf: float,
    iou: float,
) -> dict[str, Any]:
    """Validate a ``.pt`` or ``.onnx`` model; overall, per-class, confusion matrix and PR-curve data."""
    suffix = weights.suffix.lower()
    if suffix == ".onnx":
        device = _onnx_device(device)
    with neutral_copy(weights, suffix) as tmp, quiet_stdout():
        try:
            model = YOLO(str(tmp), task="detect")
        except (TypeError, ModuleNotFoundError, RuntimeError, AttributeError, KeyError) as err:
            raise ConfigError(f"{weights}: cannot load the model ({type(err).__name__}: {err})") from err
        metrics = model.val(
            validator=ConfusionValidator,
            data=str(data_yaml),
            split=split,
            imgsz=imgsz,
            batch=batch,
            device=device,
            conf=conf,
            iou=iou,
            plots=False,
            save_json=False,
            save_dir=str(save_dir),
            verbose=True,
        )
        names = {int(k): str(v) for k, v in model.names.items()}
    out = metrics_dict(metrics, names)
    cm = metrics.confusion_matrix
    out["confusion_matrix"] = {
        "labels": [names[i] for i in sorted(names)] + ["background"],
        "matrix": np.asarray(cm.matrix).astype(int).tolist(),  # rows: predicted, columns: true (Ultralytics)
        "conf": CONFUSION_CONF,
        "iou": CONFUSION_IOU,
    }
    box = metrics.box
    out["pr_curve"] = {
        "recall": np.asarray(box.px).tolist(),
        "precision": {
            names[int(c)]: np.asarray(box.prec_values[i]).tolist() for i, c in enumerate(box.ap_class_index)
        },
    }
    out["speed_ms"] = {k: float(v) for k, v in metrics.speed.items()}
    out["device"] = device
    return out


def _onnx_device(device: str) -> str:
    """ONNX Runtime runs on the GPU only with onnxruntime-gpu; Ultralytics would pip-install it otherwise."""
    if device == "cpu":
        return device
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        return device.split(",")[0]
    log.info("onnxruntime has no CUDA provider here; validating the ONNX model on the CPU")
    return "cpu"
