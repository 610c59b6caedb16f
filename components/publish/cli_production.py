"""Show what is in production under DEST; --out writes its metrics.json, checked against its manifest.

Example:
  yolo-kfp production --dest s3://models/helmet --out runs/production-metrics.json
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import add_out, print_summary
from components._shared.production import production_baseline_metrics, read_production
from components.publish.cli import add_dest_argument

HELP = "show the production model of DEST (and write its metrics.json with --out)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp production``."""
    add_dest_argument(parser)
    add_out(parser, "write the production metrics.json here", metavar="FILE", required=False)


def show_production(dest: str, out: Path | None) -> int:
    """Print the production pointer (and the baseline file written to ``out``) as JSON."""
    path = production_baseline_metrics(dest, out) if out is not None else None
    print_summary({"baseline": str(path) if path else None, "production": read_production(dest)})
    return 0


def run(args: argparse.Namespace) -> int:
    """Print the production pointer as JSON (and write its metrics with --out)."""
    return show_production(args.dest, args.out)
