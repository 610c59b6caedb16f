"""Print a run's Kubeflow Tensorboard and the PodDefault with its S3 credentials as YAML (docs/kubeflow.md).

Example:
  yolo-kfp tensorboard --run 6f1c0b9e-... --checkpoint-root s3://runs/checkpoints | kubectl apply -f -
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from components._shared.errors import ConfigError
from components.summary.core import doctor_lines, live_view_command
from components.train.tensorboard import LOG_DIR
from components.train.trainjob import MINIO_SECRET
from pipelines.config import PipelineParams

HELP = "print the Kubeflow Tensorboard (and the PodDefault with its S3 credentials) of a run's live curves"
TENSORBOARD_API = "tensorboard.kubeflow.org/v1alpha1"
PODDEFAULT_API = "kubeflow.org/v1alpha1"
S3_LABEL = "yolo-kfp/tensorboard-s3"  # PodDefault selector; the controller copies it onto the server's pod
PODDEFAULT_NAME = "yolo-kfp-tensorboard-s3"
# TensorFlow's S3 file system variable <- key of the Secret yolo-kfp-minio (k8s/base/secrets)
S3_ENV_FROM_SECRET = {
    "AWS_ACCESS_KEY_ID": "MINIO_ACCESS_KEY",
    "AWS_SECRET_ACCESS_KEY": "MINIO_SECRET_KEY",
    "S3_ENDPOINT": "MINIO_ENDPOINT",  # host:port, as TensorFlow expects it
    "AWS_REGION": "MINIO_REGION",
}
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")  # one path segment, as KFP run ids are


def check_run_id(run_id: str) -> str:
    """``run_id`` when it is one path segment, as KFP's are; else ConfigError (a path could reach another run)."""
    if not _RUN_ID.fullmatch(run_id or "") or ".." in run_id:
        raise ConfigError(
            f"--run {run_id!r}: a run id is one path segment of letters, digits, '_', '.', '-' "
            "(as `yolo-kfp runs` lists them); pass the run's id"
        )
    return run_id


def tensorboard_name(run_id: str) -> str:
    """A DNS-1035 name (the controller names a Deployment and a Service after it) stable per run."""
    return f"yolo-tb-{hashlib.sha1(run_id.encode('utf-8')).hexdigest()[:12]}"


def logs_uri(checkpoint_root: str, run_id: str) -> str:
    """The run's prefix: every stage's ``tensorboard/`` folder lies under it."""
    return f"{checkpoint_root.rstrip('/')}/{check_run_id(run_id)}/"


def render_tensorboard(
    run_id: str, checkpoint_root: str, *, namespace: str = "yolo-kfp", https: bool = False
) -> list[dict[str, Any]]:
    """The PodDefault and Tensorboard serving ``<checkpoint_root>/<run_id>/``; ConfigError: bad run id, not s3://."""
    uri = logs_uri(checkpoint_root, run_id)
    if not uri.startswith("s3://"):
        raise ConfigError(
            f"--checkpoint-root {checkpoint_root}: a Kubeflow Tensorboard reads s3:// (the pipeline's "
            f"object store); for a local run use: tensorboard --logdir {uri}"
        )
    meta = {"namespace": namespace} if namespace else {}
    env: list[dict[str, Any]] = [
        {"name": var, "valueFrom": {"secretKeyRef": {"name": MINIO_SECRET, "key": key}}}
        for var, key in S3_ENV_FROM_SECRET.items()
    ]
    env += [
        {"name": "S3_USE_HTTPS", "value": "1" if https else "0"},
        {"name": "S3_VERIFY_SSL", "value": "1" if https else "0"},
    ]
    poddefault = {
        "apiVersion": PODDEFAULT_API,
        "kind": "PodDefault",
        "metadata": {"name": PODDEFAULT_NAME, **meta},
        "spec": {
            "desc": f"object-store credentials (Secret {MINIO_SECRET}) for yolo-kfp's Tensorboards",
            "selector": {"matchLabels": {S3_LABEL: "true"}},
            "env": env,
        },
    }
    board = {
        "apiVersion": TENSORBOARD_API,
        "kind": "Tensorboard",
        "metadata": {
            "name": tensorboard_name(run_id),
            **meta,
            "labels": {S3_LABEL: "true", "app.kubernetes.io/part-of": "yolo-kfp"},
            "annotations": {"yolo-kfp/run-id": run_id},
        },
        "spec": {"logspath": uri},
    }
    return [poddefault, board]


def local_logdir(checkpoint_root: str | Path) -> Path | None:
    """The newest run folder under a local ``checkpoint_root`` that holds a stage's event files (None: none)."""
    root = Path(checkpoint_root)
    runs = {p.parents[2] for p in root.glob(f"*/*/{LOG_DIR}/*tfevents*")} if root.is_dir() else set()
    return max(runs, key=lambda p: p.stat().st_mtime, default=None)


def local_summary_lines(stages: Mapping[str, Mapping[str, Any]], checkpoint_root: str) -> list[str]:
    """``run-local``'s summary lines about training: the doctor's findings and the local tensorboard command."""
    diagnoses = {k: list(m["diagnosis"]) for k, m in stages.items() if isinstance(m.get("diagnosis"), list)}
    lines = [f"training doctor: {line}" for line in doctor_lines(diagnoses)]
    logdir = local_logdir(checkpoint_root) if "://" not in checkpoint_root else None
    if logdir is not None:
        lines.append(f"tensorboard: {live_view_command(str(logdir), logdir.name)}")
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp tensorboard``."""
    parser.add_argument("--run", required=True, metavar="RUN_ID", help="the pipeline run id")
    parser.add_argument(
        "--checkpoint-root",
        default=PipelineParams().checkpoint_root,
        metavar="s3://BUCKET/PREFIX",
        help="the pipeline's checkpoint_root",
    )
    parser.add_argument("--namespace", default="yolo-kfp", metavar="NS", help="namespace")
    parser.add_argument("--https", action="store_true", help="the object store speaks HTTPS")


def run(args: argparse.Namespace) -> int:
    """Print the two resources as YAML documents."""
    docs = render_tensorboard(args.run, args.checkpoint_root, namespace=args.namespace, https=args.https)
    name, ns = docs[1]["metadata"]["name"], args.namespace or "<namespace>"
    sys.stdout.write(f"# served at /tensorboard/{ns}/{name}/ once the controller has started it\n")
    sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False))
    return 0
