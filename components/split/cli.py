"""Split a converted YOLO folder into a train/val[/test] dataset: stratified, --group-aware, seeded (see README).

Example:
  yolo-kfp split --converted runs/converted --out runs/dataset --val 0.2 --group '^(.+)_frame\\d+$'
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import add_out, add_overwrite, add_seed, fraction, print_summary
from components.split.core import SplitConfig, split_dataset

HELP = "converted YOLO folder -> stratified train/val[/test] dataset with dataset.yaml"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp split``."""
    defaults = SplitConfig()
    parser.add_argument(
        "--converted", type=Path, required=True, metavar="DIR", help="the output folder of convert"
    )
    add_out(parser, "dataset folder to write (replaced)")
    parser.add_argument(
        "--val",
        type=fraction,
        default=defaults.val,
        metavar="F",
        help="validation fraction, picks the best epoch",
    )
    parser.add_argument(
        "--test",
        type=fraction,
        default=defaults.test,
        metavar="F",
        help="test fraction, judged by the publishing gate; 0: none",
    )
    add_seed(parser, defaults.seed, "split seed")
    parser.add_argument(
        "--group",
        default=defaults.group,
        metavar="REGEX",
        help="keep images whose stems share the first capture group in one split, e.g. '^(.+)_\\d+$'",
    )
    add_overwrite(parser)


def run(args: argparse.Namespace) -> int:
    """Translate the flags into ``SplitConfig``, split, and print the result as JSON."""
    cfg = SplitConfig(
        val=args.val, test=args.test, seed=args.seed, group=args.group or None, overwrite=args.overwrite
    )
    print_summary(split_dataset(args.converted, args.out, cfg))
    return 0
