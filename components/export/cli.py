"""Export best.pt to ONNX: onnxsim, onnx.checker, PyTorch/ONNX Runtime parity, latency, model card.

Writes OUT/model.onnx, OUT/model.json (classes, image size, input/output shapes, metrics, sha256)
and OUT/export.json (parity, latency, node counts). Parity uses the val images of --parity-images
(a dataset.yaml or an image folder) or synthetic images; differing detections exit 2.

Example:
  yolo-kfp export --weights runs/finetune/best.pt --out runs/onnx --imgsz 640 \\
      --parity-images runs/dataset/dataset.yaml
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import print_summary
from components.export.core import ExportConfig, export_onnx

HELP = "export to ONNX (simplified, checked) with PyTorch parity, latency and a model card"
DEPRECATED = {"--data": "--parity-images"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp export``."""
    d = ExportConfig()
    parser.add_argument(
        "--weights", type=Path, required=True, metavar="PATH", help="checkpoint to export (best.pt)"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (replaced)")
    parser.add_argument("--imgsz", type=int, default=d.imgsz, metavar="N", help="input size")
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
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an --out folder holding files this stage did not write",
    )


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
