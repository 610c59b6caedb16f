"""Write a deterministic synthetic Pascal VOC dataset; task A pre-trains, task B is the target (see its README).

Example:
  yolo-kfp make-sample --out runs/sample-b --images 60 --seed 0 --task B
"""

from __future__ import annotations

import argparse

from components._shared.cliutil import add_imgsz, add_out, add_seed, print_summary
from components.make_sample.core import SampleConfig, make_sample

HELP = "write a deterministic synthetic VOC dataset (shapes on textured backgrounds)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp make-sample``."""
    defaults = SampleConfig()
    add_out(parser, "output VOC folder (replaced)")
    parser.add_argument("--images", type=int, default=defaults.images, metavar="N", help="number of images")
    add_seed(parser, defaults.seed)
    parser.add_argument(
        "--task",
        default=defaults.task,
        choices=("A", "B", "a", "b"),
        help="A: circle/square/triangle (pre-training), B: star/cross/ring (target)",
    )
    add_imgsz(parser, defaults.imgsz, "image size: the side in pixels")


def run(args: argparse.Namespace) -> int:
    """Translate the flags into ``SampleConfig``, write the sample and print the result as JSON."""
    cfg = SampleConfig(images=args.images, seed=args.seed, task=args.task.upper(), imgsz=args.imgsz)
    print_summary(make_sample(args.out, cfg))
    return 0
