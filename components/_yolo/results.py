"""The columns of Ultralytics' ``results.csv`` (detection, 8.4): one row per epoch, written by the trainer.

Light on purpose (no torch, no Ultralytics import): the training doctor, the curves and the TensorBoard
writer read rows keyed by these names, also where only the rows are at hand.
"""

from __future__ import annotations

from collections.abc import Mapping

EPOCH = "epoch"
TRAIN_LOSSES = ("train/box_loss", "train/cls_loss", "train/dfl_loss")
VAL_LOSSES = ("val/box_loss", "val/cls_loss", "val/dfl_loss")
PRECISION = "metrics/precision(B)"
RECALL = "metrics/recall(B)"
MAP50 = "metrics/mAP50(B)"
MAP50_95 = "metrics/mAP50-95(B)"
METRICS = (PRECISION, RECALL, MAP50, MAP50_95)
LR_PREFIX = "lr/pg"  # lr/pg0 .. lr/pg2: the optimizer's parameter groups (Ultralytics logs each)


def learning_rates(row: Mapping[str, float]) -> dict[str, float]:
    """The ``lr/pg<i>`` columns of one row, in group order."""
    return {k: row[k] for k in sorted(row) if k.startswith(LR_PREFIX)}


def total_loss(row: Mapping[str, float], columns: tuple[str, ...]) -> float | None:
    """The sum of ``columns`` in ``row`` (Ultralytics' total loss), None when a column is absent."""
    if not all(c in row for c in columns):
        return None
    return float(sum(row[c] for c in columns))
