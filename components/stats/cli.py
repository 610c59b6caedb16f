"""Describe a split dataset: class and split counts, box statistics and warnings.

Reads dataset.yaml (the split stage's output) and writes OUT/stats.json, OUT/report.html
(self-contained), OUT/report.md and OUT/plots/*.png. Image sizes come from the file headers only.

Example:
  yolo-kfp stats --dataset runs/dataset/dataset.yaml --out runs/stats --imgsz 640
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import print_summary
from components.stats.core import StatsConfig, dataset_stats

HELP = "dataset statistics, warnings and HTML report"
DEPRECATED = {"--data": "--dataset"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp stats``."""
    parser.add_argument(
        "--dataset",
        type=Path,
        required=True,
        metavar="YAML|DIR",
        help="dataset.yaml of the split stage, or its folder",
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="report folder to write (replaced)"
    )
    parser.add_argument(
        "--imgsz",
        type=int,
        default=StatsConfig().imgsz,
        metavar="N",
        help="training image size for the small/medium/large box counts",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an --out folder holding files this stage did not write",
    )


def run(args: argparse.Namespace) -> int:
    """Translate the flags into ``StatsConfig``, compute the statistics, and print the result as JSON."""
    print_summary(
        dataset_stats(args.dataset, args.out, StatsConfig(imgsz=args.imgsz, overwrite=args.overwrite))
    )
    return 0
