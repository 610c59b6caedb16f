"""Convert Pascal VOC trees (Annotations/*.xml + JPEGImages/*) into one YOLO dataset folder.

Writes OUT/images/, OUT/labels/<stem>.txt, OUT/classes.txt, OUT/report.md and OUT/report.json.
Images are hard-linked (a JPEG the trainer would re-save gets a repaired copy). Exit 0 when at least
one image was converted, 2 with one line when nothing was usable.

Example:
  yolo-kfp convert --source data/voc-helmet --source data/voc-other --out runs/converted
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import print_summary
from components.convert.core import ConvertConfig, convert_voc, parse_classes

HELP = "Pascal VOC trees -> YOLO labels, classes.txt and report.json"
DEPRECATED = {"--voc": "--source"}


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
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder (replaced)")
    parser.add_argument(
        "--classes",
        default=None,
        metavar="a,b,c|FILE",
        help="class order, comma-separated or a file with one name per line (default: the sorted names found)",
    )
    parser.add_argument("--include-difficult", action="store_true", help="keep objects marked difficult=1")
    parser.add_argument(
        "--strict", action="store_true", help="an object of a class not in --classes is an error"
    )
    parser.add_argument(
        "--workers", type=int, default=None, metavar="N", help="parallel parsers (default: the CPU count)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an --out folder holding files this stage did not write",
    )


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
