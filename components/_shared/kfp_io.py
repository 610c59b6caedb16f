"""Copy stage results onto KFP artifacts, duck-typed (no kfp import), so ``component.py`` bodies stay short."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def log_metrics(metrics: Any, values: Mapping[str, Any]) -> None:
    """Log every number in ``values`` on a KFP ``Metrics`` artifact (the run page's scalar table)."""
    for key, value in values.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            metrics.log_metric(key, float(value))


def set_metadata(artifact: Any, values: Mapping[str, Any]) -> None:
    """Attach JSON-safe metadata to an artifact (shown in the UI's artifact panel)."""
    for key, value in values.items():
        artifact.metadata[key] = json.loads(json.dumps(value, default=str))


def publish_file(src: Path, artifact: Any) -> None:
    """Copy a rendered report (HTML or Markdown) to the artifact's path."""
    dst = Path(artifact.path)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def log_confusion_matrix(artifact: Any, confusion_json: Path) -> None:
    """Log a confusion matrix saved as ``{"labels": [...], "matrix": [[...]]}`` (rows = truth)."""
    data = json.loads(Path(confusion_json).read_text(encoding="utf-8"))
    artifact.log_confusion_matrix(list(data["labels"]), [[int(v) for v in row] for row in data["matrix"]])
