"""Train YOLO with the first N layers frozen (frozen stage) or all layers trainable (fine-tune stage).

An interrupted run in the same OUT resumes; weights are never downloaded (components/train/README.md).

Examples:
  yolo-kfp train --dataset runs/dataset/dataset.yaml --weights pretrained.pt --out runs/frozen \\
      --freeze 10 --epochs 10 --imgsz 640 --batch 16 --lr0 0.01
  yolo-kfp train --dataset runs/dataset/dataset.yaml --weights runs/frozen/best.pt --out runs/finetune \\
      --freeze 0 --epochs 10 --lr0 0.01 --warmup-epochs 0 --train-arg mosaic=0.5
  torchrun --nnodes 2 --nproc_per_node 4 ... --no-python yolo-kfp train --dataset ... --batch 64 ...
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import fields, replace
from typing import Any

import yaml

from components._shared.cliutil import add_dataset, add_out, add_weights, print_summary
from components._shared.errors import ConfigError
from components._yolo.ddp import world_from_env
from components.train.core import OPTIMIZERS, TrainConfig, train_model

HELP = "train YOLOv5 (frozen backbone or fine-tune), with metrics, curves and the frozen-layer proof"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp train``: the paths, ``--config``, and one flag per ``TrainConfig`` option.

    An option left out stays None: ``train_config`` takes ``--config``'s value or the default (shown in help).
    """
    d = TrainConfig()

    def option(flag: str, text: str, **kwargs: Any) -> None:
        dest = kwargs.pop("dest", flag[2:].replace("-", "_"))
        shown = "" if "(default:" in text or "const" in kwargs else f" (default: {getattr(d, dest)})"
        parser.add_argument(flag, dest=dest, default=None, help=text + shown, **kwargs)

    add_dataset(parser)
    add_weights(
        parser, "initial weights: a .pt file, an s3:// URI, or an architecture YAML such as yolov5n.yaml"
    )
    add_out(parser, "output folder")
    parser.add_argument(
        "--config",
        metavar="JSON",
        help="every option at once, as the JSON of a TrainConfig (metrics.json's config; what a TrainJob "
        "node gets); the option flags below win over it",
    )
    option("--freeze", "leading layers frozen: 10 is the backbone, 0 none", type=int, metavar="N")
    option("--epochs", "epochs", type=int, metavar="N")
    option("--imgsz", "image size", type=int, metavar="N")
    option("--batch", "batch size, global under torchrun; -1: auto on one GPU", type=int, metavar="N")
    option("--lr0", "initial learning rate", type=float, metavar="X")
    option("--lrf", "final learning rate as a fraction of lr0", type=float, metavar="X")
    option("--warmup-epochs", "warm-up epochs", type=float, metavar="X")
    option("--optimizer", "optimizer", choices=OPTIMIZERS)
    option("--momentum", "SGD momentum / Adam beta1", type=float, metavar="X")
    option("--cos-lr", "cosine learning-rate schedule", action=argparse.BooleanOptionalAction)
    option("--cache", "cache decoded images in RAM", action=argparse.BooleanOptionalAction)
    option("--amp", "mixed precision on CUDA", action=argparse.BooleanOptionalAction)
    option("--device", "auto (all GPUs, else CPU), cpu, 0 or 0,1", metavar="DEVICE")
    option("--patience", "early-stopping patience in epochs", type=int, metavar="N")
    option("--seed", "random seed", type=int, metavar="N")
    option(
        "--workers",
        "data-loader workers per process (default: the CPUs this process may use, minus one, at most 8)",
        type=int,
        metavar="N",
    )
    parser.add_argument(
        "--train-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a further Ultralytics training argument, e.g. mosaic=0.5 (repeatable; the value is read as YAML)",
    )
    option("--stage-name", "name in reports: frozen or finetune", metavar="NAME")
    option(
        "--no-resume",
        "start fresh even if OUT holds an unfinished run",
        dest="resume",
        action="store_const",
        const=False,
    )
    option(
        "--overwrite",
        "train into an --out folder holding files this stage did not write",
        action="store_const",
        const=True,
    )


def parse_train_args(items: list[str]) -> dict[str, Any]:
    """``["mosaic=0.5", "cos_lr=true"]`` -> ``{"mosaic": 0.5, "cos_lr": True}``; ConfigError if malformed."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--train-arg {item!r}: expected KEY=VALUE, e.g. --train-arg mosaic=0.5")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError as err:
            raise ConfigError(
                f"--train-arg {item!r}: the value is not readable as YAML ({type(err).__name__})"
            ) from None
    return out


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The ``TrainConfig`` of the command line: ``--config`` (else the defaults), then each option flag given."""
    base = TrainConfig.from_json(args.config) if args.config else TrainConfig()
    given = {
        f.name: getattr(args, f.name) for f in fields(TrainConfig) if getattr(args, f.name, None) is not None
    }
    return replace(base, **given, train_args={**base.train_args, **parse_train_args(args.train_arg)})


def run(args: argparse.Namespace) -> int:
    """Train with the command line's ``TrainConfig`` and print the result as JSON."""
    result = train_model(args.dataset, args.weights, args.out, train_config(args))
    if world_from_env().is_main:  # under torchrun one summary, from the rank that wrote OUT
        with contextlib.redirect_stdout(sys.__stdout__):  # a DDP worker's sys.stdout is stderr (patches)
            print_summary(result)
    return 0
