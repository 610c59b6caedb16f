"""Describe a split dataset: class and split counts, box statistics, warnings, an HTML report (see its README).

Example:
  yolo-kfp stats --dataset runs/dataset/dataset.yaml --out runs/stats --imgsz 640
"""

from __future__ import annotations

import argparse

from components._shared.cliutil import add_dataset, add_imgsz, add_out, add_overwrite, print_summary
from components.stats.core import StatsConfig, dataset_stats

HELP = "dataset statistics, warnings and HTML report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp stats``."""
    add_dataset(parser)
    add_out(parser, "report folder to write (replaced)")
    add_imgsz(parser, StatsConfig().imgsz, "training image size for the small/medium/large box counts")
    add_overwrite(parser)


def run(args: argparse.Namespace) -> int:
    """Translate the flags into ``StatsConfig``, compute the statistics, and print the result as JSON."""
    print_summary(
        dataset_stats(args.dataset, args.out, StatsConfig(imgsz=args.imgsz, overwrite=args.overwrite))
    )
    return 0
