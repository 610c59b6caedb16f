"""Compile the pipeline to IR YAML (committed: GitOps submits it; CI fails when it is stale).

Images come from IMAGE_REGISTRY and IMAGE_TAG (see components/_shared/images.py)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "compile the pipeline to pipelines/compiled/yolo_transfer.yaml"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp compile``."""
    from pipelines.compile import COMPILED

    p.add_argument("--out", type=Path, default=COMPILED, help=f"output file (default {COMPILED})")


def run(args: argparse.Namespace) -> int:
    """Compile and print the output path."""
    from pipelines.compile import compile_pipeline

    print(compile_pipeline(args.out))  # noqa: T201
    return 0
