"""Print the Kubeflow Trainer v2 TrainJob of a training task with ``nodes > 1`` as YAML (train's options).

Example:
  yolo-kfp render-trainjob --nodes 2 --gpus-per-node 8 --workspace-claim my-run-kfp-workspace \\
      --dataset /kfp-workspace/dataset --weights /kfp-workspace/init/yolov5su.pt --out /kfp-workspace/out \\
      --freeze 10 --epochs 30 --batch 256 | kubectl -n yolo-kfp apply -f -
"""

from __future__ import annotations

import argparse
import sys

import yaml

from components._shared import images
from components.train import cli as train_cli
from components.train.trainjob import TrainJobSpec, Workspace, render_trainjob, train_argv, trainjob_name

HELP = "print the multi-node TrainJob (Kubeflow Trainer v2) of a training stage as YAML"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp render-trainjob``: the TrainJob's own, then ``yolo-kfp train``'s."""
    d = TrainJobSpec  # its field defaults (the class has required fields)
    job = parser.add_argument_group("TrainJob")
    job.add_argument("--nodes", type=int, required=True, metavar="N", help="training nodes (numNodes)")
    job.add_argument(
        "--gpus-per-node",
        type=int,
        default=1,
        metavar="G",
        help="accelerators per node; 0: CPU nodes",
    )
    job.add_argument("--accelerator", default=d.accelerator, metavar="RESOURCE", help="accelerator resource")
    job.add_argument("--cpu", default=d.cpu, metavar="Q", help="CPU request per node")
    job.add_argument("--memory", default=d.memory, metavar="Q", help="memory request and limit per node")
    job.add_argument(
        "--shm-size", default=d.shm_size, metavar="Q", help="in-memory /dev/shm per node; '': none"
    )
    job.add_argument("--image", default=images.GPU, metavar="REF", help="train image")
    job.add_argument(
        "--name", default=None, metavar="NAME", help="TrainJob name (default: from --run-id and --stage-name)"
    )
    job.add_argument("--run-id", default="manual", metavar="ID", help="run the TrainJob belongs to (a label)")
    job.add_argument("--namespace", default="yolo-kfp", metavar="NS", help="namespace; '' to leave it out")
    job.add_argument("--runtime", default=d.runtime, metavar="NAME", help="ClusterTrainingRuntime")
    job.add_argument(
        "--workspace-claim", default="", metavar="PVC", help="PVC every node mounts (default: none)"
    )
    job.add_argument(
        "--workspace-path", default=Workspace.mount_path, metavar="DIR", help="where it is mounted"
    )
    job.add_argument(
        "--minio-secret",
        default=d.minio_secret,
        metavar="NAME",
        help="object store Secret as env vars; '': none",
    )
    train_cli.add_arguments(parser.add_argument_group("yolo-kfp train options"))  # type: ignore[arg-type]


def run(args: argparse.Namespace) -> int:
    """Render the TrainJob and print it as YAML."""
    cfg = train_cli.train_config(args)  # every option spelt out in --config: the YAML says all
    spec = TrainJobSpec(
        name=args.name or trainjob_name(args.run_id, cfg.stage_name),
        train_args=train_argv(cfg, args.dataset, args.weights, args.out),
        image=args.image,
        nodes=args.nodes,
        gpus_per_node=args.gpus_per_node,
        accelerator=args.accelerator,
        cpu=args.cpu,
        memory=args.memory,
        namespace=args.namespace or None,
        workspace=Workspace(args.workspace_claim, args.workspace_path) if args.workspace_claim else None,
        minio_secret=args.minio_secret,
        labels={"yolo-kfp/run-id": args.run_id, "yolo-kfp/stage": cfg.stage_name},
        shm_size=args.shm_size,
        runtime=args.runtime,
    )
    sys.stdout.write(yaml.safe_dump(render_trainjob(spec), sort_keys=False, width=120))
    return 0
