"""Compile the pipeline to the YAML that GitOps submits (``pipelines/compiled/yolo_transfer.yaml``)."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from components._shared.fsio import write_text_atomic

COMPILED = Path(__file__).resolve().parent / "compiled" / "yolo_transfer.yaml"
log = logging.getLogger(__name__)


def compile_pipeline(out: Path = COMPILED) -> Path:
    """Compile ``yolo_transfer`` to ``out`` (atomically) and return the path."""
    from kfp import compiler

    from pipelines.yolo_transfer import yolo_transfer

    with tempfile.TemporaryDirectory() as tmp:
        tmp_file = Path(tmp) / "pipeline.yaml"
        compiler.Compiler().compile(yolo_transfer, str(tmp_file))
        write_text_atomic(Path(out), tmp_file.read_text(encoding="utf-8"))
    log.info("compiled pipeline -> %s", out)
    return Path(out)
