"""Publish a model folder as a new version under --dest; --promote makes it production if its gate passed.

Example:
  yolo-kfp publish --model runs/export --dest s3://models/helmet --promote
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import print_summary
from components.publish.core import PublishConfig, publish_model

HELP = "model folder -> DEST/<version>/ + manifest.json (last); --promote updates production.json"


def add_dest_argument(parser: argparse.ArgumentParser) -> None:
    """``--dest``, shared by publish, promote, rollback and production."""
    parser.add_argument("--dest", required=True, metavar="s3://bucket/name|DIR", help="where versions live")


def add_promotion_arguments(parser: argparse.ArgumentParser) -> None:
    """``--allow-class-change`` and ``--triton-model``, shared by publish, promote and rollback."""
    parser.add_argument(
        "--allow-class-change",
        action="store_true",
        help="promote even when the class list (names, order) differs from production's",
    )
    parser.add_argument(
        "--triton-model",
        default=None,
        metavar="NAME",
        help="model name in DEST/triton/ (default: the last part of --dest)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp publish``."""
    add_dest_argument(parser)
    parser.add_argument(
        "--model",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder with model.onnx/best.pt, cards, reports",
    )
    parser.add_argument("--promote", action="store_true", help="update production.json if the gate passed")
    parser.add_argument(
        "--fingerprint", default=None, metavar="FP", help="dataset fingerprint (default: from model.json)"
    )
    parser.add_argument(
        "--model-version",
        default=None,
        metavar="VERSION",
        help="name of the new version (default: <UTC timestamp>-<fingerprint>)",
    )
    add_promotion_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Translate the flags into ``PublishConfig``, publish, and print the result as JSON."""
    cfg = PublishConfig(
        fingerprint=args.fingerprint,
        promote=args.promote,
        version=args.model_version,
        allow_class_change=args.allow_class_change,
        triton_model=args.triton_model,
    )
    print_summary(publish_model(args.model, args.dest, cfg))
    return 0
