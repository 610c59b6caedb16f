"""Pre- and post-processing of a YOLO detection model in numpy: Ultralytics' predictor without torch.

``letterbox`` is ``LetterBox(auto=False)``, ``decode`` is ``non_max_suppression`` plus ``scale_boxes``;
``tests/predict/test_parity.py`` holds them to Ultralytics' own prediction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAD_VALUE = 114
MAX_WH = 7680.0  # Ultralytics' class offset: boxes of different classes never overlap in NMS
MAX_NMS = 30000  # candidates kept (by score) before NMS, as Ultralytics


@dataclass(frozen=True)
class Letterbox:
    """Where an image of ``orig`` (height, width) lies inside the model's ``size`` input."""

    orig: tuple[int, int]
    size: tuple[int, int]
    scaled: tuple[int, int]  # height, width of the resized image before padding
    top: int
    left: int


def letterbox_params(orig: tuple[int, int], size: tuple[int, int]) -> Letterbox:
    """Ultralytics' ``LetterBox.get_params`` (``auto=False``, ``center=True``, ``scaleup=True``)."""
    h0, w0 = orig
    r = min(size[0] / h0, size[1] / w0)
    new_w, new_h = max(round(w0 * r), 1), max(round(h0 * r), 1)
    dw, dh = (size[1] - new_w) / 2, (size[0] - new_h) / 2
    return Letterbox(orig=orig, size=size, scaled=(new_h, new_w), top=round(dh - 0.1), left=round(dw - 0.1))


def _taps(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices and weights of OpenCV's ``INTER_LINEAR`` along one axis."""
    src = (np.arange(n_out, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    i0 = np.floor(src).astype(np.int64)
    frac = (src - i0).astype(np.float32)
    frac[i0 < 0] = 0.0  # OpenCV clamps to the first pixel instead of blending with a pixel outside
    i0 = np.clip(i0, 0, n_in - 1)
    at_end = i0 >= n_in - 1
    frac[at_end] = 0.0
    return i0, np.minimum(i0 + 1, n_in - 1), frac


def resize_linear(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``cv2.resize(..., INTER_LINEAR)`` for an HWC uint8 image (float32, so a pixel may differ by one level)."""
    h0, w0 = image.shape[:2]
    if (h0, w0) == (height, width):
        return image
    y0, y1, fy = _taps(height, h0)
    x0, x1, fx = _taps(width, w0)
    img = image.astype(np.float32)
    rows = img[y0] * (1.0 - fy)[:, None, None] + img[y1] * fy[:, None, None]
    out = rows[:, x0] * (1.0 - fx)[None, :, None] + rows[:, x1] * fx[None, :, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def letterbox(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Letterbox]:
    """An HWC RGB uint8 image as the model's ``1x3xHxW`` float32 input in [0, 1], and where it lies in it."""
    lb = letterbox_params(image.shape[:2], size)
    resized = resize_linear(image, *lb.scaled)
    canvas = np.full((*size, 3), PAD_VALUE, dtype=np.uint8)
    canvas[lb.top : lb.top + lb.scaled[0], lb.left : lb.left + lb.scaled[1]] = resized
    chw = canvas.transpose(2, 0, 1)[None].astype(np.float32)
    return chw / np.float32(255.0), lb


def to_original(boxes: np.ndarray, lb: Letterbox) -> np.ndarray:
    """``x1 y1 x2 y2`` in model-input pixels mapped to the original image and clipped (``scale_boxes``)."""
    h0, w0 = lb.orig
    gain_y, gain_x = lb.scaled[0] / h0, lb.scaled[1] / w0
    out = boxes.astype(np.float32).copy()
    out[:, [0, 2]] = ((out[:, [0, 2]] - lb.left) / gain_x).clip(0, w0)
    out[:, [1, 3]] = ((out[:, [1, 3]] - lb.top) / gain_y).clip(0, h0)
    return out


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy NMS (highest score first; a box goes when its IoU with a kept one > ``iou``)."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    keep = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx1 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = (xx2 - xx1).clip(0) * (yy2 - yy1).clip(0)
        overlap = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[overlap <= iou]
    return np.asarray(keep, dtype=np.int64)


def decode(raw: np.ndarray, lb: Letterbox, *, conf: float, iou: float, max_det: int) -> np.ndarray:
    """Detections ``(n, 6)`` (``x1 y1 x2 y2 score class``, original pixels, best first) of a raw ``(4 + nc, anchors)``."""
    scores_all = raw[4:]
    cls = scores_all.argmax(0)
    score = scores_all[cls, np.arange(raw.shape[1])]
    mask = score > conf
    if not mask.any():
        return np.zeros((0, 6), dtype=np.float32)
    cx, cy, w, h = raw[:4, mask]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    score, cls = score[mask], cls[mask].astype(np.float32)
    if score.size > MAX_NMS:
        top = np.argsort(-score, kind="stable")[:MAX_NMS]
        boxes, score, cls = boxes[top], score[top], cls[top]
    keep = nms(boxes + cls[:, None] * MAX_WH, score, iou)[:max_det]
    out = np.concatenate([to_original(boxes[keep], lb), score[keep, None], cls[keep, None]], axis=1)
    return out.astype(np.float32)


def end_to_end(rows: np.ndarray, lb: Letterbox, *, conf: float, max_det: int) -> np.ndarray:
    """Detections ``(n, 6)`` of an end-to-end model's output rows (NMS done in the graph), as ``decode``."""
    rows = rows[rows[:, 4] > conf][:max_det]
    if not len(rows):
        return np.zeros((0, 6), dtype=np.float32)
    order = np.argsort(-rows[:, 4], kind="stable")
    rows = rows[order]
    return np.concatenate([to_original(rows[:, :4], lb), rows[:, 4:6]], axis=1).astype(np.float32)
