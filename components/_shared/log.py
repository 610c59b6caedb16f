"""Logging set-up shared by the CLI and the KFP components (configured once, stderr, one format)."""

from __future__ import annotations

import logging
import os

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str | int | None = None) -> None:
    """Configure the root logger once; later calls only change the level.

    Args:
        level: a logging level name or number; defaults to ``$YOLO_KFP_LOG_LEVEL`` or INFO.
    """
    level = level or os.environ.get("YOLO_KFP_LOG_LEVEL", "INFO")
    root = logging.getLogger()
    if not any(getattr(h, "_yolo_kfp", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT, datefmt="%H:%M:%S"))
        handler._yolo_kfp = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else str(level).upper())
