"""Validation of a ``.pt`` or ``.onnx`` detector, and Ultralytics' metrics as plain dicts."""

from __future__ import annotations

# Patches first: they set YOLO_OFFLINE before Ultralytics is imported.
from components._yolo.patches import neutral_copy, quiet_stdout  # isort: split

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ultralytics import YOLO
from ultralytics.models.yolo.detect import DetectionTrainer, DetectionValidator
from ultralytics.utils import ops
from ultralytics.utils.metrics import smooth

from components._shared.errors import ConfigError

log = logging.getLogger(__name__)

CONFUSION_CONF = 0.25  # detections counted in the confusion matrix
CONFUSION_IOU = 0.45  # box match for the confusion matrix (Ultralytics' default)
SAMPLE_CONF = CONFUSION_CONF  # predictions drawn on the sample images


class ConfusionValidator(DetectionValidator):
    """Detection validator that counts the confusion matrix with ``plots=False`` and records every box.

    Upstream counts it only when plotting, at the mAP threshold (0.001 floods the background column);
    here at ``CONFUSION_CONF``. Boxes: ``metrics.records`` (input pixels), ``metrics.samples`` (original).
    """

    sample_files: frozenset[str] = frozenset()

    def init_metrics(self, model: torch.nn.Module) -> None:
        super().init_metrics(model)
        self.records: list[dict[str, np.ndarray]] = []
        self.samples: dict[str, dict[str, Any]] = {}

    def _process_batch(self, preds: dict[str, torch.Tensor], batch: dict[str, Any]) -> dict[str, np.ndarray]:
        if not self.args.plots:
            self.confusion_matrix.process_batch(preds, batch, conf=CONFUSION_CONF, iou_thres=CONFUSION_IOU)
        self._record(preds, batch)
        return super()._process_batch(preds, batch)

    def _record(self, preds: dict[str, torch.Tensor], batch: dict[str, Any]) -> None:
        def arr(t: torch.Tensor) -> np.ndarray:
            return t.detach().float().cpu().numpy()

        self.records.append(
            {"gt_boxes": arr(batch["bboxes"]).reshape(-1, 4), "gt_cls": arr(batch["cls"]).reshape(-1),
             "boxes": arr(preds["bboxes"]).reshape(-1, 4), "conf": arr(preds["conf"]).reshape(-1),
             "cls": arr(preds["cls"]).reshape(-1)}
        )  # fmt: skip
        key = str(Path(batch["im_file"]).resolve())
        if key not in self.sample_files:
            return
        keep = preds["conf"] >= SAMPLE_CONF

        def native(boxes: torch.Tensor) -> list[list[float]]:
            scaled = ops.scale_boxes(
                batch["imgsz"], boxes.clone(), batch["ori_shape"], ratio_pad=batch["ratio_pad"]
            )
            return arr(scaled).reshape(-1, 4).tolist()

        self.samples[key] = {
            "gt_boxes": native(batch["bboxes"]), "gt_cls": arr(batch["cls"]).reshape(-1).astype(int).tolist(),
            "boxes": native(preds["bboxes"][keep]), "conf": arr(preds["conf"][keep]).reshape(-1).tolist(),
            "cls": arr(preds["cls"][keep]).reshape(-1).astype(int).tolist(),
        }  # fmt: skip

    def finalize_metrics(self) -> None:
        super().finalize_metrics()
        self.metrics.records = self.records
        self.metrics.samples = self.samples


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
    return {"map50": map50, "map50_95": map50_95, "precision": mp, "recall": mr, "per_class": per_class}


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
    samples: Sequence[Path] = (),
    rect: bool | None = None,
) -> dict[str, Any]:
    """Validate a ``.pt`` or ``.onnx`` model; overall, per-class, confusion matrix and curve data.

    Args:
        samples: images whose labels and predictions (conf >= ``SAMPLE_CONF``) are returned, to be drawn.
        rect: rectangular batches (None: Ultralytics' default); False: the square input of a fixed export.

    Returns:
        ``metrics_dict`` plus ``confusion_matrix`` (rows true), ``pr_curve``, ``conf_curves``, ``best_f1``,
        ``records``, ``samples`` (image path -> boxes), ``speed_ms`` and ``device``.
    """
    suffix = weights.suffix.lower()
    if suffix == ".onnx":
        device = _onnx_device(device)
    wanted = frozenset(str(Path(p).resolve()) for p in samples)
    validator = type("SampledValidator", (ConfusionValidator,), {"sample_files": wanted})
    with neutral_copy(weights, suffix) as tmp, quiet_stdout():
        try:
            model = YOLO(str(tmp), task="detect")
        except (TypeError, ModuleNotFoundError, RuntimeError, AttributeError, KeyError) as err:
            raise ConfigError(f"{weights}: cannot load the model ({type(err).__name__}: {err})") from err
        metrics = model.val(
            validator=validator, data=str(data_yaml), split=split, imgsz=imgsz, batch=batch, device=device,
            conf=conf, iou=iou, plots=False, save_json=False, save_dir=str(save_dir), verbose=True,
            **({} if rect is None else {"rect": rect}),
        )  # fmt: skip
        names = {int(k): str(v) for k, v in model.names.items()}
    out = metrics_dict(metrics, names)
    out["confusion_matrix"] = {
        "labels": [names[i] for i in sorted(names)] + ["background"],
        # Ultralytics' rows are predicted classes, KFP's (log_confusion_matrix) true ones
        "matrix": np.asarray(metrics.confusion_matrix.matrix).astype(int).T.tolist(),
        "rows": "true class",
        "columns": "predicted class",
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
    out["conf_curves"], out["best_f1"] = confidence_curves(box, names)
    out["records"] = getattr(metrics, "records", [])
    out["samples"] = getattr(metrics, "samples", {})
    out["speed_ms"] = {k: float(v) for k, v in metrics.speed.items()}
    out["device"] = device
    return out


def confidence_curves(box: Any, names: Mapping[int, str]) -> tuple[dict[str, Any], dict[str, float] | None]:
    """F1, precision and recall against confidence per class, and the best-F1 point (None without labels).

    That point is Ultralytics' (``ap_per_class``): the argmax of the class-mean F1 smoothed over 10 %.
    """
    conf = np.asarray(box.px, dtype=float)
    classes = [names[int(c)] for c in box.ap_class_index]
    if not classes:
        return {"conf": conf.tolist(), "f1": {}, "precision": {}, "recall": {}}, None
    arrays = {key: np.asarray(values, dtype=float).reshape(len(classes), -1)
              for key, values in (("f1", box.f1_curve), ("precision", box.p_curve), ("recall", box.r_curve))}  # fmt: skip
    curves: dict[str, Any] = {"conf": conf.tolist()}
    curves |= {key: {name: a[i].tolist() for i, name in enumerate(classes)} for key, a in arrays.items()}
    means = {key: a.mean(0) for key, a in arrays.items()}
    i = int(smooth(means["f1"], 0.1).argmax())
    return curves, {"conf": float(conf[i])} | {key: float(m[i]) for key, m in means.items()}


def _onnx_device(device: str) -> str:
    """ONNX Runtime runs on the GPU only with onnxruntime-gpu; Ultralytics would pip-install it otherwise."""
    if device == "cpu":
        return device
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        return device.split(",")[0]
    log.info("onnxruntime has no CUDA provider here; validating the ONNX model on the CPU")
    return "cpu"


@contextlib.contextmanager
def single_label_nms() -> Iterator[None]:
    """The validator's NMS with ``multi_label=False`` (best class only), as an ``nms=True`` export's graph."""
    from ultralytics.models.yolo.detect import val as detect_val

    module = detect_val.nms
    original = module.non_max_suppression

    def best_class_only(*args: Any, **kwargs: Any) -> Any:
        kwargs["multi_label"] = False
        return original(*args, **kwargs)

    module.non_max_suppression = best_class_only
    try:
        yield
    finally:
        module.non_max_suppression = original
