"""Upload the compiled pipeline as a version named by the git SHA and start a run on Kubeflow.

Idempotent: a version name that exists is not uploaded again, so a second submit of the same SHA
only starts a run. The experiment is created when missing. Parameters come from a YAML/JSON file of
flat values; secret-looking names are refused (MinIO credentials come only from the Kubernetes
Secret yolo-kfp-minio).

Connection: --host or KFP_HOST (e.g. http://ml-pipeline.kubeflow:8888 in-cluster, or
http://localhost:8080 after `kubectl -n kubeflow port-forward svc/ml-pipeline-ui 8080:80`); token
from --existing-token or KFP_TOKEN, else the projected ServiceAccount token at
KF_PIPELINES_SA_TOKEN_PATH (default /var/run/secrets/kubeflow/pipelines/token). Without a host,
kfp.Client uses the in-cluster service or the kubeconfig's API-server proxy.

Example:
  yolo-kfp submit --host http://localhost:8080 --params params.yaml
  yolo-kfp submit --namespace team-vision --experiment nightly --version "$(git rev-parse --short=7 HEAD)"
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from components._shared.cliutil import print_summary
from pipelines.client import connect as kfp_connect
from pipelines.client import submit as kfp_submit

if TYPE_CHECKING:
    import kfp

HELP = "upload the compiled pipeline (version = git SHA) and start a run on Kubeflow"


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by submit, schedule and runs: where KFP is and as whom to talk to it."""
    group = parser.add_argument_group("connection")
    group.add_argument("--host", default=None, metavar="URL", help="KFP API/UI URL (default: $KFP_HOST)")
    group.add_argument(
        "--namespace",
        default=None,
        metavar="NS",
        help="Kubeflow profile namespace for multi-user KFP (default: $KFP_NAMESPACE; none = single-user)",
    )
    group.add_argument(
        "--existing-token",
        default=None,
        metavar="TOKEN",
        help="bearer token (prefer $KFP_TOKEN: flags show in the process list)",
    )
    group.add_argument(
        "--kfp-namespace",
        default="kubeflow",
        metavar="NS",
        help="namespace KFP is installed in, for the in-cluster/kubeconfig default host (default: kubeflow)",
    )


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by submit and schedule: which package, version, experiment and parameters."""
    parser.add_argument(
        "--experiment",
        default=kfp_submit.DEFAULT_EXPERIMENT,
        metavar="NAME",
        help="experiment (created when missing)",
    )
    parser.add_argument(
        "--params", type=Path, default=None, metavar="FILE", help="YAML/JSON file of pipeline parameters"
    )
    parser.add_argument(
        "--version",
        default=None,
        metavar="NAME",
        help="pipeline version name (default: $GIT_SHA, $GITHUB_SHA[:7] or `git rev-parse --short=7 HEAD`)",
    )
    parser.add_argument(
        "--package",
        type=Path,
        default=kfp_submit.DEFAULT_PACKAGE,
        metavar="FILE",
        help="compiled pipeline YAML (default: $YOLO_KFP_PACKAGE, else pipelines/compiled/yolo_transfer.yaml)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp submit``."""
    add_connection_arguments(parser)
    add_pipeline_arguments(parser)
    parser.add_argument(
        "--run-name", default=None, metavar="NAME", help="run name (default: yolo-transfer <version> <time>)"
    )
    parser.add_argument(
        "--skip-if-run-exists",
        action="store_true",
        help="start no run when the experiment already has a run of this version (GitOps re-syncs)",
    )


def connect(args: argparse.Namespace) -> tuple[kfp.Client, kfp_connect.Connection, str | None]:
    """Connected client, the connection used, and the namespace (flag or $KFP_NAMESPACE)."""
    conn = kfp_connect.resolve_connection(args.host, args.existing_token, args.kfp_namespace)
    namespace = args.namespace or os.environ.get("KFP_NAMESPACE") or None
    return kfp_connect.connect(conn), conn, namespace


def run(args: argparse.Namespace) -> int:
    """Validate inputs first (no network), then connect, upload if new, and start the run."""
    version = kfp_submit.resolve_version_name(args.version, args.package)
    params = kfp_submit.load_run_parameters(args.params, args.package)
    client, conn, namespace = connect(args)
    result = kfp_submit.submit(
        client,
        package=args.package,
        version_name=version,
        experiment=args.experiment,
        params=params,
        run_name=args.run_name,
        namespace=namespace,
        skip_if_run_exists=args.skip_if_run_exists,
        host=conn.host,
    )
    print_summary(result)
    return 0
