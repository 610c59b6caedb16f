"""ONNX export with Ultralytics' exporter, and the PyTorch side of the parity check."""

from __future__ import annotations

# Patches first: they set YOLO_OFFLINE before Ultralytics is imported.
from components._yolo.patches import quiet_stdout  # isort: split

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ultralytics import YOLO
from ultralytics.nn.tasks import DetectionModel

from components._shared.errors import ConfigError
from components._shared.fsio import link_or_copy
from components._yolo.model import load_model


def _export(weights: Path, work_dir: Path, **options: Any) -> Path:
    """Ultralytics' ONNX export (fp32, CPU, not simplified) of a copy of ``weights`` in ``work_dir``."""
    work_dir.mkdir(parents=True, exist_ok=True)
    src = work_dir / "model.pt"
    link_or_copy(weights, src)  # the exporter writes beside its input
    with quiet_stdout():
        f = YOLO(str(src), task="detect").export(
            format="onnx", simplify=False, half=False, device="cpu", verbose=False, **options
        )
    return Path(f)


def export_onnx(
    *, weights: Path, work_dir: Path, imgsz: int, opset: int, dynamic: bool
) -> tuple[Path, dict[str, str]]:
    """The raw model (batch 1 or dynamic, no NMS, not simplified) and the metadata Ultralytics embedded."""
    import onnx

    path = _export(weights, work_dir, imgsz=imgsz, opset=opset, dynamic=dynamic, nms=False, batch=1)
    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return path, meta


def export_onnx_end_to_end(
    *,
    weights: Path,
    work_dir: Path,
    imgsz: int,
    opset: int,
    batch: int,
    conf: float,
    iou: float,
    max_det: int,
) -> Path:
    """Export the end-to-end model: NMS inside the graph (``nms=True``), dynamic batch up to ``batch``.

    ``conf`` is baked in (use validation's); output and limits: ``components/export/README.md``. Not
    simplified: onnxsim does not help the NMS loop and has failed on it.
    """
    return _export(weights, work_dir, imgsz=imgsz, opset=opset, dynamic=True, nms=True, batch=batch, conf=conf,
                   iou=iou, max_det=max_det)  # fmt: skip


def torch_model_for_parity(weights: Path) -> DetectionModel:
    """The fp32 eval-mode model exactly as the exporter saw it (fused, like the export)."""
    model, _ = load_model(weights)
    model = model.fuse(verbose=False) if hasattr(model, "fuse") else model
    return model.float().eval()


def predict_raw(model: DetectionModel, batch: torch.Tensor) -> np.ndarray:
    """Raw head output ``(N, 4 + nc, anchors)`` of the PyTorch model for an fp32 NCHW batch in [0, 1]."""
    with torch.inference_mode():
        out = model(batch)
    out = out[0] if isinstance(out, (list, tuple)) else out
    return out.float().cpu().numpy()


def nms(raw: np.ndarray, conf: float, iou: float, max_det: int = 300) -> list[np.ndarray]:
    """Ultralytics' NMS on raw head outputs; one ``(n, 6)`` array ``x1 y1 x2 y2 conf cls`` per image."""
    from ultralytics.utils.nms import non_max_suppression

    dets = non_max_suppression(torch.from_numpy(raw), conf_thres=conf, iou_thres=iou, max_det=max_det)
    return [d.cpu().numpy() for d in dets]


def letterbox_batch(images: Sequence[Path], imgsz: int) -> torch.Tensor:
    """Images letterboxed to ``imgsz`` the way Ultralytics' predictor does, as an fp32 NCHW batch."""
    import cv2
    from ultralytics.data.augment import LetterBox

    lb = LetterBox((imgsz, imgsz), auto=False, stride=32)
    arrays = []
    for p in images:
        im = cv2.imread(str(p))
        if im is None:
            raise ConfigError(f"{p}: unreadable image for the parity check")
        im = lb(image=im)[..., ::-1].transpose(2, 0, 1)  # BGR->RGB, HWC->CHW
        arrays.append(np.ascontiguousarray(im, dtype=np.float32) / 255.0)
    return torch.from_numpy(np.stack(arrays))
