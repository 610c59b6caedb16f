"""Measure best.pt or model.onnx on one split and decide the publishing gate.

A failed gate is a result (exit 0); unusable inputs exit 2; only --champion-dest verdicts replace production.

Example:
  yolo-kfp validate --weights runs/export/model.onnx --dataset runs/dataset/dataset.yaml --out runs/validate \\
      --min-map50-95 0.3 --champion-dest s3://models/helmet
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from components._shared.cliutil import (
    add_batch,
    add_dataset,
    add_imgsz,
    add_out,
    add_overwrite,
    add_weights,
    print_summary,
)
from components.validate.core import ValidateConfig, validate_model
from components.validate.gate import GatePolicy
from components.validate.stage import with_production_champion

HELP = "validate a .pt or .onnx model: mAP, per-class AP, confusion matrix, PR curve and the gate"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp validate``."""
    d = ValidateConfig()
    add_weights(parser, "model to measure: best.pt or model.onnx", local=True)
    add_dataset(parser)
    parser.add_argument(
        "--split",
        default=d.split,
        choices=("auto", "val", "test", "train"),
        help="split; auto: test when the dataset has one, else val",
    )
    add_out(parser)
    parser.add_argument(
        "--min-map50-95",
        type=float,
        default=d.gate.threshold,
        metavar="X",
        help="gate threshold on mAP50-95",
    )
    champion = parser.add_mutually_exclusive_group()
    champion.add_argument(
        "--champion",
        type=Path,
        default=None,
        metavar="PATH",
        help="the production model (model.onnx or best.pt), measured on the same split; the challenger must match it",
    )
    champion.add_argument(
        "--champion-dest",
        default=None,
        metavar="s3://bucket/name|DIR",
        help="measure the production model of this publish destination (what publish --promote requires)",
    )
    parser.add_argument(
        "--champion-tolerance",
        type=float,
        default=d.gate.champion_tolerance,
        metavar="X",
        help="how far below the champion's mAP50-95 it may be",
    )
    parser.add_argument(
        "--class-tolerance",
        type=float,
        default=d.gate.class_tolerance,
        metavar="X",
        help="largest per-class AP50-95 drop against the champion",
    )
    parser.add_argument(
        "--allow-class-change",
        action="store_true",
        help="pass the champion check when its classes differ from the dataset's",
    )
    add_overwrite(parser)
    add_imgsz(parser, d.imgsz)
    add_batch(parser, d.batch)
    parser.add_argument(
        "--device", default=d.device, metavar="DEVICE", help="auto (first GPU, else CPU), cpu or 0"
    )


def run(args: argparse.Namespace) -> int:
    """Translate the flags into ``ValidateConfig``, validate, and print the result as JSON."""
    cfg = ValidateConfig(
        split=args.split,
        imgsz=args.imgsz,
        batch=args.batch,
        device=args.device,
        gate=GatePolicy(
            args.min_map50_95, args.champion_tolerance, args.class_tolerance, args.allow_class_change
        ),
        champion=args.champion,
        overwrite=args.overwrite,
    )
    with tempfile.TemporaryDirectory(prefix="yolo-kfp-champion-") as work:
        if args.champion_dest:
            cfg = with_production_champion(cfg, args.champion_dest, Path(work))
        print_summary(validate_model(args.weights, args.dataset, args.out, cfg))
    return 0
