"""AP by COCO object size (small / medium / large) in numpy, as ``pycocotools.cocoeval`` (``README.md``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

SMALL_AREA = 32**2  # COCO thresholds, in pixels at the evaluated image size
LARGE_AREA = 96**2
SIZE_RANGES: dict[str, tuple[float, float]] = {
    "all": (0.0, float("inf")),
    "small": (0.0, float(SMALL_AREA)),
    "medium": (float(SMALL_AREA), float(LARGE_AREA)),
    "large": (float(LARGE_AREA), float("inf")),
}
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Areas of ``(N, 4)`` xyxy boxes."""
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``(N, 4)`` and ``(M, 4)`` xyxy boxes, shape ``(N, M)``."""
    a, b = np.asarray(a, dtype=float).reshape(-1, 4), np.asarray(b, dtype=float).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _match(iou: np.ndarray, gt_ignored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """COCO greedy matching of score-sorted predictions (rows) to labels (columns) at every threshold.

    Returns ``(n_pred, n_thresholds)`` flags: matched to a label, and matched to an ignored label.
    """
    n_pred, n_gt = iou.shape
    t = len(IOU_THRESHOLDS)
    matched = np.zeros((n_pred, t), dtype=bool)
    ignored = np.zeros((n_pred, t), dtype=bool)
    if not n_pred or not n_gt:
        return matched, ignored
    taken = np.zeros((t, n_gt), dtype=bool)
    candidates = np.flatnonzero((iou >= IOU_THRESHOLDS[0]).any(axis=1))  # the rest match nothing
    for d in candidates:
        for j, thr in enumerate(IOU_THRESHOLDS):
            free = ~taken[j] & (iou[d] >= thr)
            if not free.any():
                continue
            pool = free & ~gt_ignored if (free & ~gt_ignored).any() else free
            g = int(np.argmax(np.where(pool, iou[d], -1.0)))
            taken[j, g] = True
            matched[d, j] = True
            ignored[d, j] = bool(gt_ignored[g])
    return matched, ignored


def _interpolated_ap(scores: np.ndarray, tp: np.ndarray, n_gt: int) -> float:
    """COCO's 101-point AP of predictions (``tp`` flags, already without ignored ones) against ``n_gt``."""
    if not len(scores):
        return 0.0
    order = np.argsort(-scores, kind="mergesort")
    tps = np.cumsum(tp[order])
    fps = np.cumsum(~tp[order])
    recall = tps / n_gt
    precision = np.maximum.accumulate((tps / np.maximum(tps + fps, 1))[::-1])[::-1]  # the envelope
    idx = np.searchsorted(recall, RECALL_POINTS, side="left")
    q = np.zeros(len(RECALL_POINTS))
    found = idx < len(precision)
    q[found] = precision[idx[found]]
    return float(q.mean())


def ap_by_size(records: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[dict[str, Any]]:
    """AP50 and AP50-95 for all objects and per COCO size range, with the label count of each range.

    ``records``: per image ``gt_boxes`` (M, 4) and ``boxes`` (N, 4) xyxy, ``gt_cls``, ``conf``, ``cls``. Rows
    ``all``, ``small``, ``medium``, ``large``: ``area_px`` [low, high or None), ``instances``, ``predictions``
    (not ignored at IoU 0.5), ``ap50`` and ``ap50_95`` (None without labels).
    """
    rows = []
    for size, (lo, hi) in SIZE_RANGES.items():
        scores: dict[int, list[np.ndarray]] = {}
        tps: dict[int, list[np.ndarray]] = {}
        keeps: dict[int, list[np.ndarray]] = {}
        n_gt = np.zeros(len(names), dtype=int)
        for rec in records:
            gt_boxes = np.asarray(rec["gt_boxes"], dtype=float).reshape(-1, 4)
            gt_cls = np.asarray(rec["gt_cls"]).reshape(-1).astype(int)
            boxes = np.asarray(rec["boxes"], dtype=float).reshape(-1, 4)
            conf = np.asarray(rec["conf"], dtype=float).reshape(-1)
            cls = np.asarray(rec["cls"]).reshape(-1).astype(int)
            gt_area, area = box_area(gt_boxes), box_area(boxes)
            for c in np.union1d(gt_cls, cls):
                g = np.flatnonzero(gt_cls == c)
                gt_ignored = (gt_area[g] < lo) | (gt_area[g] >= hi)
                g = g[np.argsort(gt_ignored, kind="stable")]  # not-ignored labels first, as COCO
                gt_ignored = np.sort(gt_ignored, kind="stable")
                p = np.flatnonzero(cls == c)
                p = p[np.argsort(-conf[p], kind="mergesort")]
                matched, ignored = _match(box_iou(boxes[p], gt_boxes[g]), gt_ignored)
                outside = (area[p] < lo) | (area[p] >= hi)
                ignored |= ~matched & outside[:, None]
                if 0 <= c < len(names):
                    n_gt[c] += int((~gt_ignored).sum())
                scores.setdefault(int(c), []).append(conf[p])
                tps.setdefault(int(c), []).append(matched & ~ignored)
                keeps.setdefault(int(c), []).append(~ignored)
        aps = []  # (class, threshold) entries of classes with labels in the range
        kept_at_50 = 0
        for c in range(len(names)):
            if c not in scores:
                if n_gt[c]:
                    aps.append(np.zeros(len(IOU_THRESHOLDS)))
                continue
            s, tp, keep = np.concatenate(scores[c]), np.concatenate(tps[c]), np.concatenate(keeps[c])
            kept_at_50 += int(keep[:, 0].sum())
            if n_gt[c]:
                aps.append(
                    np.array(
                        [
                            _interpolated_ap(s[keep[:, j]], tp[keep[:, j], j], int(n_gt[c]))
                            for j in range(len(IOU_THRESHOLDS))
                        ]
                    )  # fmt: skip
                )
        ap = np.vstack(aps) if aps else None
        rows.append(
            {
                "size": size,
                "area_px": [lo, None if hi == float("inf") else hi],
                "instances": int(n_gt.sum()),
                "predictions": kept_at_50,
                "ap50": float(ap[:, 0].mean()) if ap is not None else None,
                "ap50_95": float(ap.mean()) if ap is not None else None,
            }
        )
    return rows
