"""Convert Pascal VOC trees into one YOLO dataset folder: labels, classes.txt, report.json (see its README).

Example:
  yolo-kfp convert --source data/voc-helmet --source data/voc-other --out runs/converted
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import add_classes, add_out, add_overwrite, add_workers, print_summary
from components.convert.core import ConvertConfig, convert_voc, parse_classes

HELP = "Pascal VOC trees -> YOLO labels, classes.txt and report.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp convert``."""
    parser.add_argument(
        "--source",
        type=Path,
        action="append",
        required=True,
        metavar="DIR",
        help="VOC root with Annotations/ and JPEGImages/ (repeat for several trees)",
    )
    add_out(parser)
    add_classes(
        parser,
        "class order, comma-separated or a file with one name per line (default: the sorted names found)",
    )
    parser.add_argument("--include-difficult", action="store_true", help="keep objects marked difficult=1")
    parser.add_argument(
        "--strict", action="store_true", help="an object of a class not in --classes is an error"
    )
    add_workers(parser, None, "parallel parsers (default: the CPU count)")
    add_overwrite(parser)


def run(args: argparse.Namespace) -> int:
    """Translate the flags into ``ConvertConfig``, convert, and print the result as JSON."""
    cfg = ConvertConfig(
        classes=parse_classes(args.classes) if args.classes is not None else None,
        include_difficult=args.include_difficult,
        strict=args.strict,
        workers=args.workers,
        overwrite=args.overwrite,
    )
    result = convert_voc(args.source, args.out, cfg)
    print_summary(result)
    return 0
