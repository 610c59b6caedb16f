"""Logging set-up shared by the CLI and the components: configured once, one format, redacted records."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from components._shared.redact import redact

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactingFormatter(logging.Formatter):
    """A formatter whose output (message, arguments, traceback) never holds a credential."""

    def format(self, record: logging.LogRecord) -> str:
        """The formatted record, redacted."""
        return redact(super().format(record))


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler on whatever ``sys.stderr`` is when a record is emitted."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass  # StreamHandler.__init__ sets it; the property always answers the current stderr


def setup_logging(level: str | int | None = None) -> None:
    """Configure the root logger once (level: ``$YOLO_KFP_LOG_LEVEL`` or INFO); later calls only change the level."""
    level = level or os.environ.get("YOLO_KFP_LOG_LEVEL", "INFO")
    root = logging.getLogger()
    if not any(getattr(h, "_yolo_kfp", False) for h in root.handlers):
        handler = _CurrentStderrHandler()
        handler.setFormatter(RedactingFormatter(_FORMAT, datefmt="%H:%M:%S"))
        handler._yolo_kfp = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level if isinstance(level, int) else str(level).upper())
