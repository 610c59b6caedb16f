"""List the last pipeline runs with state, duration and whether they published a model (docs/kubeflow.md).

Example:
  yolo-kfp runs --experiment nightly --limit 5 --json
"""

from __future__ import annotations

import argparse
import json
import sys

from pipelines.cli_submit import add_connection_arguments, connect
from pipelines.client import runs as kfp_runs

HELP = "last runs with state, duration and published model"


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from err
    if not 1 <= n <= 200:
        raise argparse.ArgumentTypeError(f"{n} must be between 1 and 200")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp runs``."""
    parser.add_argument("--limit", type=_positive, default=10, metavar="N", help="how many runs")
    parser.add_argument("--experiment", default=None, metavar="NAME", help="only runs of this experiment")
    parser.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_connection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Connect, list, print a table (or JSON)."""
    client, _conn, namespace = connect(args)
    runs = kfp_runs.list_recent_runs(
        client, limit=args.limit, experiment=args.experiment, namespace=namespace
    )
    if args.json:
        print(json.dumps([r.to_dict() for r in runs], indent=2), file=sys.stdout)  # noqa: T201
    else:
        print(kfp_runs.format_runs_table(runs) if runs else "no runs", file=sys.stdout)  # noqa: T201
    return 0
