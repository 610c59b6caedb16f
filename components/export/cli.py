"""Export best.pt to checked ONNX with PyTorch parity, latency and a model card (components/export/README.md).

Example:
  yolo-kfp export --weights runs/finetune/best.pt --out runs/onnx --parity-images runs/dataset/dataset.yaml
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import add_imgsz, add_out, add_overwrite, add_weights, print_summary
from components.export.core import ExportConfig, export_onnx

HELP = "export to ONNX (simplified, checked) with PyTorch parity, latency and a model card"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp export``."""
    d = ExportConfig()
    add_weights(parser, "checkpoint to export (best.pt)", local=True)
    add_out(parser)
    add_imgsz(parser, d.imgsz, "input size")
    parser.add_argument("--opset", type=int, default=d.opset, metavar="N", help="ONNX opset")
    parser.add_argument("--dynamic", action="store_true", help="dynamic batch and image size")
    parser.add_argument("--no-simplify", action="store_true", help="skip onnxsim")
    parser.add_argument(
        "--parity-images",
        type=Path,
        default=None,
        metavar="YAML|DIR",
        help="parity images: a dataset.yaml (its val images) or a folder (default: synthetic images)",
    )
    parser.add_argument(
        "--metrics",
        type=Path,
        default=None,
        metavar="FILE",
        help="metrics.json for the model card (default: beside the weights)",
    )
    add_overwrite(parser)


def run(args: argparse.Namespace) -> int:
    """Translate the flags into ``ExportConfig``, export, and print the result as JSON."""
    cfg = ExportConfig(
        imgsz=args.imgsz,
        opset=args.opset,
        dynamic=args.dynamic,
        simplify=not args.no_simplify,
        parity_images=args.parity_images,
        metrics_json=args.metrics,
        overwrite=args.overwrite,
    )
    print_summary(export_onnx(args.weights, args.out, cfg))
    return 0
