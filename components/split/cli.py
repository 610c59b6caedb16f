"""Split a converted YOLO folder into train/val[/test] and write the Ultralytics dataset.yaml.

Multi-label stratified and deterministic for a seed: every class found in at least 2 images (groups)
lands in both train and val (and in test when --test > 0 and it is in at least 3). With --group REGEX,
images whose stems share the regex's first capture group stay in one split (near-duplicates, video
frames). OUT is a self-contained folder: dataset.yaml (path: .), train.txt, val.txt[, test.txt],
images/ and labels/ (hard links), classes.txt and split.json.

Example:
  yolo-kfp split --converted runs/converted --out runs/dataset --val 0.2 --group '^(.+)_frame\\d+$'
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import fraction, print_summary
from components.split.core import SplitConfig, split_dataset

HELP = "converted YOLO folder -> stratified train/val[/test] dataset with dataset.yaml"
DEPRECATED = {"--data": "--converted"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp split``."""
    defaults = SplitConfig()
    parser.add_argument(
        "--converted", type=Path, required=True, metavar="DIR", help="the output folder of convert"
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="dataset folder to write (replaced)"
    )
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
    parser.add_argument("--seed", type=int, default=defaults.seed, metavar="N", help="split seed")
    parser.add_argument(
        "--group",
        default=defaults.group,
        metavar="REGEX",
        help="keep images whose stems share the first capture group in one split, e.g. '^(.+)_\\d+$'",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an --out folder holding files this stage did not write",
    )


def run(args: argparse.Namespace) -> int:
    """Translate the flags into ``SplitConfig``, split, and print the result as JSON."""
    cfg = SplitConfig(
        val=args.val, test=args.test, seed=args.seed, group=args.group or None, overwrite=args.overwrite
    )
    print_summary(split_dataset(args.converted, args.out, cfg))
    return 0
