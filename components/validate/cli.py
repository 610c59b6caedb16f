"""Validate best.pt or model.onnx on one split: mAP, per-class AP, confusion matrix, PR curve, gate.

Writes OUT/metrics.json (with gate {passed, reason}), OUT/confusion_matrix.json/.png,
OUT/pr_curve.png and OUT/report.html. A failed gate is a result (exit 0, "passed": false); only
unusable inputs exit 2.

Example:
  yolo-kfp validate --weights runs/finetune/best.pt --data runs/dataset/dataset.yaml --split test \\
      --out runs/validate --min-map50-95 0.3 --baseline production/metrics.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import print_summary
from components.validate.core import ValidateConfig, validate_model

HELP = "validate a .pt or .onnx model: mAP, per-class AP, confusion matrix, PR curve and the gate"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp validate``."""
    d = ValidateConfig()
    parser.add_argument(
        "--weights", type=Path, required=True, metavar="best.pt|model.onnx", help="model to measure"
    )
    parser.add_argument(
        "--data", type=Path, required=True, metavar="YAML", help="dataset.yaml of the split stage"
    )
    parser.add_argument(
        "--split", default=d.split, choices=("val", "test", "train"), help=f"split ({d.split})"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (replaced)")
    parser.add_argument(
        "--min-map50-95",
        type=float,
        default=d.min_map50_95,
        metavar="X",
        help="gate threshold on mAP50-95 (0)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        metavar="metrics.json",
        help="the production model's metrics to beat",
    )
    parser.add_argument("--imgsz", type=int, default=d.imgsz, metavar="N", help=f"image size ({d.imgsz})")
    parser.add_argument("--batch", type=int, default=d.batch, metavar="N", help=f"batch size ({d.batch})")
    parser.add_argument("--device", default=d.device, help="auto (first GPU, else CPU), cpu, 0")


def run(args: argparse.Namespace) -> int:
    """Translate the flags into ``ValidateConfig``, validate, and print the result as JSON."""
    cfg = ValidateConfig(
        split=args.split,
        imgsz=args.imgsz,
        batch=args.batch,
        device=args.device,
        min_map50_95=args.min_map50_95,
        baseline=args.baseline,
    )
    print_summary(validate_model(args.weights, args.data, args.out, cfg))
    return 0
