"""Parity: predict's boxes (ONNX Runtime, numpy letterbox and NMS) against Ultralytics' own ``YOLO(.pt).predict``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from predict_fixtures import IMGSZ, SAMPLE_PT

from components.predict.core import PredictConfig, detect
from components.predict.model import ModelFile, load_detector
from components.predict.sources import read_image

pytest.importorskip("onnxruntime")

MIN_IOU = 0.95
MAX_SCORE_DIFF = 0.01


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _match(ours: np.ndarray, ref: np.ndarray) -> list[tuple[float, float]]:
    """(IoU, |score difference|) of each reference detection with its best unused same-class match."""
    used: set[int] = set()
    pairs = []
    for r in ref:
        best, best_iou = -1, -1.0
        for j, o in enumerate(ours):
            if j not in used and int(o[5]) == int(r[5]) and (iou := _iou(o, r)) > best_iou:
                best, best_iou = j, iou
        used.add(best)
        pairs.append((best_iou, abs(float(ours[best][4]) - float(r[4])) if best >= 0 else 1.0))
    return pairs


def test_predict_matches_ultralytics_predict_on_the_same_images(
    sample_onnx: Path, sample_images: Path
) -> None:
    """It finds the same count per image as YOLO(best.pt).predict, matched at IoU >= 0.95, scores within 0.01."""
    yolo = pytest.importorskip("ultralytics").YOLO
    images = sorted(sample_images.iterdir())
    cfg = PredictConfig()
    # rect=False: the square letterbox a fixed-shape export sees (a .pt alone would pad to a multiple of 32)
    ref = yolo(str(SAMPLE_PT), task="detect").predict(
        [str(p) for p in images], imgsz=IMGSZ, conf=cfg.conf, iou=cfg.iou, max_det=cfg.max_det,
        rect=False, device="cpu", verbose=False,
    )  # fmt: skip
    detector = load_detector(ModelFile(path=sample_onnx, origin=str(sample_onnx), verified=False))
    pairs, total = [], 0
    for path, r in zip(images, ref, strict=True):
        theirs = r.boxes.data.cpu().numpy()
        ours = detect(detector, read_image(path), cfg)
        assert len(ours) == len(theirs), (path.name, ours, theirs)
        pairs += _match(ours, theirs)
        total += len(theirs)
    assert total >= 5, "too few detections for the comparison to mean anything"
    assert min(iou for iou, _ in pairs) >= MIN_IOU, pairs
    assert max(diff for _, diff in pairs) <= MAX_SCORE_DIFF, pairs
    print(f"parity: {total} detections, min IoU {min(i for i, _ in pairs):.4f}, max |score diff| "
          f"{max(d for _, d in pairs):.5f}")  # fmt: skip
