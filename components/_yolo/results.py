"""Ultralytics' ``results.csv`` (detection, 8.4): its column names and how to read it, in one place.

No torch or Ultralytics import: the doctor, the curves and the TensorBoard writer read the rows anywhere.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

RESULTS_CSV = "results.csv"  # one row per epoch, in the trainer's save_dir
EPOCH = "epoch"
TIME = "time"  # cumulative wall seconds (train + val); restarts on a resume
TRAIN_LOSSES = ("train/box_loss", "train/cls_loss", "train/dfl_loss")
VAL_LOSSES = ("val/box_loss", "val/cls_loss", "val/dfl_loss")
PRECISION = "metrics/precision(B)"
RECALL = "metrics/recall(B)"
MAP50 = "metrics/mAP50(B)"
MAP50_95 = "metrics/mAP50-95(B)"
METRICS = (PRECISION, RECALL, MAP50, MAP50_95)
LR_PREFIX = "lr/pg"  # lr/pg0 .. lr/pg2: the optimizer's parameter groups (Ultralytics logs each)


def read_results(path: Path) -> list[dict[str, float]]:
    """Rows of a results.csv as floats (column names stripped of padding); ``[]`` when there is none."""
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for row in rows:
        parsed = {}
        for k, v in row.items():
            try:
                parsed[k.strip()] = float(v)
            except (TypeError, ValueError):
                continue
        out.append(parsed)
    return out


def epoch_seconds(rows: Sequence[Mapping[str, float]]) -> list[float]:
    """Wall seconds of each epoch (train + val) from the cumulative ``time`` column (resets on resume)."""
    out, prev = [], 0.0
    for row in rows:
        t = row.get(TIME, 0.0)
        out.append(t - prev if t >= prev else t)
        prev = t
    return out


def last_metrics(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """``map50``, ``map50_95``, ``precision`` and ``recall`` of the last row (0.0 where absent)."""
    last = rows[-1] if rows else {}
    keys = {"map50": MAP50, "map50_95": MAP50_95, "precision": PRECISION, "recall": RECALL}
    return {name: float(last.get(column, 0.0)) for name, column in keys.items()}


def results_csv_text(columns: Mapping[str, Sequence[Any]]) -> str:
    """A results.csv holding ``columns`` (``{name: [value per epoch]}``, as a checkpoint keeps them)."""
    keys = list(columns)
    rows = zip(*(columns[k] for k in keys), strict=False)
    lines = [",".join(keys)] + [
        ",".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in r) for r in rows
    ]
    return "\n".join(lines) + "\n"


def learning_rates(row: Mapping[str, float]) -> dict[str, float]:
    """The ``lr/pg<i>`` columns of one row, in group order."""
    return {k: row[k] for k in sorted(row) if k.startswith(LR_PREFIX)}


def total_loss(row: Mapping[str, float], columns: tuple[str, ...]) -> float | None:
    """The sum of ``columns`` in ``row`` (Ultralytics' total loss), None when a column is absent."""
    if not all(c in row for c in columns):
        return None
    return float(sum(row[c] for c in columns))
