"""Compile the pipeline for the images, upload as the version named by their tag, start a run.

Examples:
  yolo-kfp submit --host http://localhost:8080 --params params.yaml -p epochs_frozen=5
  yolo-kfp submit --namespace team-vision --package /tmp/yolo_transfer.yaml --image-tag abc1234
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components._shared.cliutil import add_param_arguments, parse_key_values, print_summary
from components._shared.errors import ConfigError
from pipelines.cli_pipeline import add_image_arguments
from pipelines.client import backend as kfp_backend
from pipelines.client import connect as kfp_connect
from pipelines.client import submit as kfp_submit

if TYPE_CHECKING:
    import kfp

HELP = "compile for the images, upload (version = image tag) and start a run on Kubeflow"


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
        help="namespace KFP is installed in: where the in-cluster/kubeconfig host is looked up",
    )


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by submit and schedule: which package, version, experiment and parameters."""
    parser.add_argument(
        "--experiment",
        default=kfp_submit.DEFAULT_EXPERIMENT,
        metavar="NAME",
        help="experiment (created when missing)",
    )
    add_param_arguments(parser)
    parser.add_argument(
        "--pipeline-version",
        default=None,
        metavar="NAME",
        help="pipeline version name (default: the image tag; without one $GIT_SHA, $GITHUB_SHA[:7] or "
        "`git rev-parse --short=7 HEAD`); must equal the image tag when one is given",
    )
    parser.add_argument(
        "--package",
        type=Path,
        default=None,
        metavar="FILE",
        help="compiled pipeline YAML whose images must be the ones asked for (default: $YOLO_KFP_PACKAGE, "
        "else compiled for --image-registry/--image-tag, else pipelines/compiled/yolo_transfer.yaml)",
    )
    add_image_arguments(parser)


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


def connect(
    args: argparse.Namespace, check_backend: bool = False
) -> tuple[kfp.Client, kfp_connect.Connection, str | None]:
    """Connected client, the connection used, and the namespace; ``check_backend``: refuse an old backend."""
    conn = kfp_connect.resolve_connection(args.host, args.existing_token, args.kfp_namespace)
    namespace = args.namespace or os.environ.get("KFP_NAMESPACE") or None
    client, health = kfp_connect.connect_with_health(conn)
    if check_backend:
        kfp_backend.check_backend(health, conn.host or kfp_connect.KUBECONFIG_DEFAULT)
    return client, conn, namespace


def prepare(args: argparse.Namespace, workdir: Path) -> tuple[kfp_submit.Package, str, dict]:
    """The package for the images asked for, the version name and the run parameters (no network)."""
    package = kfp_submit.prepare_package(args.package, args.image_registry, args.image_tag, workdir)
    tag = package.images.tag if package.images else None
    version = kfp_submit.resolve_version_name(args.pipeline_version, package.path, image_tag=tag)
    params = kfp_submit.load_run_parameters(args.params, package.path)
    params.update(param_overrides(args.param, args.params, package.path))
    return package, version, params


def param_overrides(items: list[str], params_file: Path | None, package: Path) -> dict[str, Any]:
    """The ``-p KEY=VALUE`` parameters, checked as a parameters file is (``load_run_parameters``; ConfigError)."""
    from pipelines.config import check_not_secret, load_params

    values = parse_key_values(items, "-p")
    if not values:
        return {}
    declared = kfp_submit.pipeline_parameters(package)
    for key, value in values.items():
        check_not_secret(key, "-p parameter")  # before any message that shows the value
        is_struct = declared.get(key, {}).get("parameterType") == "STRUCT"
        if value is None or (isinstance(value, dict) and not is_struct) or isinstance(value, list):
            raise ConfigError(f"-p {key}: must be a string, number or boolean, got {value!r}")
    try:
        resolved = load_params(params_file, values).to_dict()
    except ConfigError as err:  # load_params names the -p layer "overrides"
        text = str(err)
        raise ConfigError(
            "-p" + text[len("overrides") :] if text.startswith("overrides:") else text
        ) from None
    for key in values:
        if key not in declared:
            raise ConfigError(
                f"-p {key}: not declared by {package} (declared: {', '.join(sorted(declared))}); "
                "recompile with `yolo-kfp compile`"
            )
    return {key: resolved[key] for key in values}


def run(args: argparse.Namespace) -> int:
    """Check inputs and compile (no network), then connect, check the backend, upload, start the run."""
    with tempfile.TemporaryDirectory(prefix="yolo-kfp-submit-") as tmp:
        package, version, params = prepare(args, Path(tmp))
        client, conn, namespace = connect(args, check_backend=True)
        result = kfp_submit.submit(
            client,
            package=package.path,
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
