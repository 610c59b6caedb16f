"""Write a deterministic synthetic Pascal VOC dataset: shapes on textured backgrounds.

Task A (circle, square, triangle) is the pre-training task, task B (star, cross, ring) the target task.
The first six images each carry one oddity real VOC trees have (difficult object, box past the edge,
wrong <filename>, .JPG extension, background image, class name with whitespace).

Example:
  yolo-kfp make-sample --out runs/sample-b --images 60 --seed 0 --task B
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import print_summary
from components.make_sample.core import SampleConfig, make_sample

HELP = "write a deterministic synthetic VOC dataset (shapes on textured backgrounds)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp make-sample``."""
    defaults = SampleConfig()
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output VOC folder (replaced)")
    parser.add_argument("--images", type=int, default=defaults.images, metavar="N", help="number of images")
    parser.add_argument("--seed", type=int, default=defaults.seed, metavar="N", help="random seed")
    parser.add_argument(
        "--task",
        default=defaults.task,
        choices=("A", "B", "a", "b"),
        help="A: circle/square/triangle (pre-training), B: star/cross/ring (target)",
    )
    parser.add_argument(
        "--imgsz", type=int, default=defaults.imgsz, metavar="N", help="image size: the side in pixels"
    )


def run(args: argparse.Namespace) -> int:
    """Translate the flags into ``SampleConfig``, write the sample and print the result as JSON."""
    cfg = SampleConfig(images=args.images, seed=args.seed, task=args.task.upper(), imgsz=args.imgsz)
    print_summary(make_sample(args.out, cfg))
    return 0
