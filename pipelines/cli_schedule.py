"""Create or replace a KFP recurring run of the pipeline (scheduled retraining; docs/kubeflow.md).

--cron takes five fields ("0 3 * * 1": Mondays 03:00 UTC), converted to KFP's six with seconds first
("0 0 3 * * 1"), or six. Uploads as `yolo-kfp submit` does; then deletes older runs of the same --name.

Example:
  yolo-kfp schedule --cron "0 3 * * 1" --image-tag "$(git rev-parse --short=7 HEAD)" --params params.yaml
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from components._shared.cliutil import print_summary
from pipelines.cli_submit import add_connection_arguments, add_pipeline_arguments, connect, prepare
from pipelines.client import schedule as kfp_schedule

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
        help="recurring run name, replaced when it exists",
    )
    add_connection_arguments(parser)
    add_pipeline_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Check the cron, images, version and parameters first, then connect, check the backend, schedule."""
    kfp_schedule.to_kfp_cron(args.cron)
    with tempfile.TemporaryDirectory(prefix="yolo-kfp-schedule-") as tmp:
        package, version, params = prepare(args, Path(tmp))
        client, conn, namespace = connect(args, check_backend=True)
        result = kfp_schedule.schedule(
            client,
            cron=args.cron,
            version_name=version,
            name=args.name,
            package=package.path,
            experiment=args.experiment,
            params=params,
            namespace=namespace,
            host=conn.host,
        )
    print_summary(result)
    return 0
