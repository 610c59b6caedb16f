"""Create or replace a KFP recurring run of the current pipeline version (scheduled retraining).

--cron takes the usual five fields (minute hour day-of-month month day-of-week, e.g. "0 3 * * 1" for
Mondays 03:00 UTC) and converts them to KFP's six-field form with seconds first ("0 0 3 * * 1");
six fields are passed unchanged; anything else is refused.

The recurring run has max concurrency 1 and no catch-up (a paused schedule does not backfill). KFP
has no update call for recurring runs, so "update" means: create the new one, then delete every
older recurring run with the same --name in the experiment. The pipeline version (git SHA) is
uploaded first when it is new, exactly as `yolo-kfp submit` does.

Example:
  yolo-kfp schedule --cron "0 3 * * 1" --params params.yaml
"""

from __future__ import annotations

import argparse

from components._shared.cliutil import print_summary
from pipelines.cli_submit import add_connection_arguments, add_pipeline_arguments, connect
from pipelines.client import schedule as kfp_schedule
from pipelines.client import submit as kfp_submit

HELP = "create/replace a recurring run (five-field cron is converted to KFP's six fields)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp schedule``."""
    parser.add_argument(
        "--cron",
        required=True,
        metavar="EXPR",
        help='five fields "min hour dom month dow" (converted by prepending "0 " seconds) or six fields, seconds first',
    )
    parser.add_argument(
        "--name",
        default=kfp_schedule.DEFAULT_SCHEDULE_NAME,
        metavar="NAME",
        help="recurring run name (replaced when it exists)",
    )
    add_connection_arguments(parser)
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Validate the cron, version and parameters first, then connect and (re)create the schedule."""
    kfp_schedule.to_kfp_cron(args.cron)
    version = kfp_submit.resolve_version_name(args.version, args.package)
    params = kfp_submit.load_run_parameters(args.params, args.package)
    client, conn, namespace = connect(args)
    result = kfp_schedule.schedule(
        client,
        cron=args.cron,
        version_name=version,
        name=args.name,
        package=args.package,
        experiment=args.experiment,
        params=params,
        namespace=namespace,
        host=conn.host,
    )
    print_summary(result)
    return 0
