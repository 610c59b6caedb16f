"""Validate best.pt or model.onnx on one split: mAP, per-class AP, confusion matrix, PR curve, gate.

The model's class names and their order must be the dataset's (exit 2 otherwise). With --champion
(the production model) both models are measured on the same split and the gate checks the threshold,
the champion (minus --champion-tolerance) and every class (--class-tolerance). Writes
OUT/metrics.json (with gate {passed, reason, checks}), OUT/confusion_matrix.json/.png,
OUT/pr_curve.png and OUT/report.html. A failed gate is a result (exit 0, "passed": false); only
unusable inputs exit 2.

--champion-dest DEST instead measures DEST's production model (downloaded, checked against its
manifest) and records its version and manifest sha256 in the gate: `publish --promote` then promotes
only while production is still that model. A verdict from --champion FILE (or no champion) records
none, so it cannot replace a production model.

Example:
  yolo-kfp validate --weights runs/export/model.onnx --dataset runs/dataset/dataset.yaml \\
      --out runs/validate --min-map50-95 0.3 --champion production/model.onnx
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from components._shared.cliutil import print_summary
from components.validate.core import ValidateConfig, validate_model
from components.validate.stage import with_production_champion

HELP = "validate a .pt or .onnx model: mAP, per-class AP, confusion matrix, PR curve and the gate"
DEPRECATED = {"--data": "--dataset"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp validate``."""
    d = ValidateConfig()
    parser.add_argument(
        "--weights", type=Path, required=True, metavar="PATH", help="model to measure: best.pt or model.onnx"
    )
    parser.add_argument(
        "--dataset",
        type=Path,
        required=True,
        metavar="YAML|DIR",
        help="dataset.yaml of the split stage, or its folder",
    )
    parser.add_argument(
        "--split",
        default=d.split,
        choices=("auto", "val", "test", "train"),
        help="split; auto: test when the dataset has one, else val",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (replaced)")
    parser.add_argument(
        "--min-map50-95",
        type=float,
        default=d.min_map50_95,
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
        default=d.champion_tolerance,
        metavar="X",
        help="how far below the champion's mAP50-95 it may be",
    )
    parser.add_argument(
        "--class-tolerance",
        type=float,
        default=d.class_tolerance,
        metavar="X",
        help="largest per-class AP50-95 drop against the champion",
    )
    parser.add_argument(
        "--allow-class-change",
        action="store_true",
        help="pass the champion check when its classes differ from the dataset's",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an --out folder holding files this stage did not write",
    )
    parser.add_argument("--imgsz", type=int, default=d.imgsz, metavar="N", help="image size")
    parser.add_argument("--batch", type=int, default=d.batch, metavar="N", help="batch size")
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
        min_map50_95=args.min_map50_95,
        champion=args.champion,
        champion_tolerance=args.champion_tolerance,
        class_tolerance=args.class_tolerance,
        allow_class_change=args.allow_class_change,
        overwrite=args.overwrite,
    )
    with tempfile.TemporaryDirectory(prefix="yolo-kfp-champion-") as work:
        if args.champion_dest:
            cfg = with_production_champion(cfg, args.champion_dest, Path(work))
        print_summary(validate_model(args.weights, args.dataset, args.out, cfg))
    return 0
