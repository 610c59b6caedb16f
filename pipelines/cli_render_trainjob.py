"""Print the Kubeflow Trainer v2 TrainJob that trains a stage on several nodes, as YAML (no cluster contacted).

It is the TrainJob the pipeline's training task creates with ``nodes > 1``: ``numNodes`` nodes of the
ClusterTrainingRuntime ``torch-distributed``, each with ``--gpus-per-node`` accelerators, running
``torchrun --no-python yolo-kfp train [train options]`` in the train image, the object store Secret as
optional env vars and (with ``--workspace-claim``) the run workspace PVC mounted at ``--workspace-path``.
The train options are those of ``yolo-kfp train``; their paths are paths inside the nodes (on the PVC).

Examples:
  yolo-kfp render-trainjob --nodes 2 --gpus-per-node 8 --workspace-claim my-run-kfp-workspace \\
      --dataset /kfp-workspace/dataset --weights /kfp-workspace/init/yolov5su.pt --out /kfp-workspace/out \\
      --freeze 10 --epochs 30 --batch 256 > trainjob.yaml
  kubectl -n yolo-kfp apply -f trainjob.yaml
"""

from __future__ import annotations

import argparse
import sys

import yaml

from components._shared import images
from components.train import cli as train_cli
from components.train.trainjob import (
    GPU,
    MINIO_SECRET,
    RUNTIME,
    TrainJobSpec,
    Workspace,
    render_trainjob,
    trainjob_name,
)

HELP = "print the multi-node TrainJob (Kubeflow Trainer v2) of a training stage as YAML"
DEPRECATED = dict(train_cli.DEPRECATED)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp render-trainjob``: the TrainJob's own, then every flag of ``yolo-kfp train``."""
    job = parser.add_argument_group("TrainJob")
    job.add_argument("--nodes", type=int, required=True, metavar="N", help="training nodes (numNodes)")
    job.add_argument(
        "--gpus-per-node",
        type=int,
        default=1,
        metavar="G",
        help="accelerators per node; 0: CPU nodes",
    )
    job.add_argument("--accelerator", default=GPU, metavar="RESOURCE", help="accelerator resource")
    job.add_argument("--cpu", default="4", metavar="Q", help="CPU request per node")
    job.add_argument("--memory", default="16Gi", metavar="Q", help="memory request and limit per node")
    job.add_argument("--shm-size", default="8Gi", metavar="Q", help="in-memory /dev/shm per node; '': none")
    job.add_argument("--image", default=images.GPU, metavar="REF", help="train image")
    job.add_argument(
        "--name", default=None, metavar="NAME", help="TrainJob name (default: from --run-id and --stage-name)"
    )
    job.add_argument("--run-id", default="manual", metavar="ID", help="run the TrainJob belongs to (a label)")
    job.add_argument("--namespace", default="yolo-kfp", metavar="NS", help="namespace; '' to leave it out")
    job.add_argument("--runtime", default=RUNTIME, metavar="NAME", help="ClusterTrainingRuntime")
    job.add_argument(
        "--workspace-claim", default="", metavar="PVC", help="PVC every node mounts (default: none)"
    )
    job.add_argument(
        "--workspace-path",
        default="/kfp-workspace",
        metavar="DIR",
        help="where it is mounted",
    )
    job.add_argument(
        "--minio-secret",
        default=MINIO_SECRET,
        metavar="NAME",
        help="object store Secret as env vars; '': none",
    )
    train_cli.add_arguments(parser.add_argument_group("yolo-kfp train options"))  # type: ignore[arg-type]


def train_flags(args: argparse.Namespace) -> list[str]:
    """Every ``yolo-kfp train`` flag with its value on this command line (defaults spelt out: the YAML says all)."""
    probe = argparse.ArgumentParser(add_help=False)
    train_cli.add_arguments(probe)
    argv: list[str] = []
    for action in probe._actions:  # noqa: SLF001 - argparse offers no public list of a parser's flags
        if not action.option_strings or action.help is argparse.SUPPRESS:
            continue
        flag, value = max(action.option_strings, key=len), getattr(args, action.dest)
        if action.nargs == 0:  # store_true
            argv += [flag] if value else []
        elif isinstance(value, list):  # append
            for item in value:
                argv += [flag, str(item)]
        elif value is not None:
            argv += [flag, str(value)]
    return argv


def run(args: argparse.Namespace) -> int:
    """Render the TrainJob and print it as YAML."""
    spec = TrainJobSpec(
        name=args.name or trainjob_name(args.run_id, args.stage_name),
        train_args=tuple(train_flags(args)),
        image=args.image,
        nodes=args.nodes,
        gpus_per_node=args.gpus_per_node,
        accelerator=args.accelerator,
        cpu=args.cpu,
        memory=args.memory,
        namespace=args.namespace or None,
        workspace=Workspace(args.workspace_claim, args.workspace_path) if args.workspace_claim else None,
        minio_secret=args.minio_secret,
        labels={"yolo-kfp/run-id": args.run_id, "yolo-kfp/stage": args.stage_name},
        shm_size=args.shm_size,
        runtime=args.runtime,
    )
    sys.stdout.write(yaml.safe_dump(render_trainjob(spec), sort_keys=False, width=120))
    return 0
