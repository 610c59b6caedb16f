"""Train YOLOv5 with the first N layers frozen (frozen stage) or all layers trainable (fine-tune stage).

Writes OUT/best.pt, OUT/last.pt, OUT/results.csv, OUT/curves.png, OUT/report.html and, last,
OUT/metrics.json (mAP, per-class AP, seconds per epoch, the frozen-layer proof). An interrupted run
in the same OUT resumes from OUT/run/weights/last.pt. Weights are never downloaded: pass a local
.pt, an architecture YAML (yolov5n.yaml: random weights) or an s3:// URI.

Examples:
  yolo-kfp train --dataset runs/dataset/dataset.yaml --weights pretrained.pt --out runs/frozen \\
      --freeze 10 --epochs 10 --imgsz 640 --batch 16 --lr0 0.01
  yolo-kfp train --dataset runs/dataset/dataset.yaml --weights runs/frozen/best.pt --out runs/finetune \\
      --freeze 0 --epochs 10 --imgsz 640 --batch 16 --lr0 0.001 --warmup-epochs 1 \\
      --train-arg mosaic=0.5 --train-arg optimizer=AdamW
  torchrun --nnodes 2 --nproc_per_node 4 ... --no-python yolo-kfp train --dataset ... --batch 64 ...

Under torchrun every process runs this command and one DDP trains over all of them (--batch is the
global batch); rank 0 alone writes OUT and prints the JSON summary.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

import yaml

from components._shared.cliutil import print_summary
from components._shared.errors import ConfigError
from components._yolo.ddp import world_from_env
from components.train.core import OPTIMIZERS, TrainConfig, train_model

HELP = "train YOLOv5 (frozen backbone or fine-tune), with metrics, curves and the frozen-layer proof"
DEPRECATED = {"--data": "--dataset"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp train``."""
    d = TrainConfig()
    parser.add_argument(
        "--dataset",
        type=Path,
        required=True,
        metavar="YAML|DIR",
        help="dataset.yaml of the split stage, or its folder",
    )
    parser.add_argument(
        "--weights",
        required=True,
        metavar="PATH|URI",
        help="initial weights: a .pt file, an s3:// URI, or an architecture YAML such as yolov5n.yaml",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--freeze",
        type=int,
        default=d.freeze,
        metavar="N",
        help="leading layers frozen: 10 is the backbone, 0 none",
    )
    parser.add_argument("--epochs", type=int, default=d.epochs, metavar="N", help="epochs")
    parser.add_argument("--imgsz", type=int, default=d.imgsz, metavar="N", help="image size")
    parser.add_argument(
        "--batch",
        type=int,
        default=d.batch,
        metavar="N",
        help="batch size, global under torchrun; -1: auto on one GPU",
    )
    parser.add_argument("--lr0", type=float, default=d.lr0, metavar="X", help="initial learning rate")
    parser.add_argument(
        "--lrf", type=float, default=d.lrf, metavar="X", help="final learning rate as a fraction of lr0"
    )
    parser.add_argument(
        "--warmup-epochs",
        type=float,
        default=d.warmup_epochs,
        metavar="X",
        help="warm-up epochs",
    )
    parser.add_argument("--optimizer", default=d.optimizer, choices=OPTIMIZERS, help="optimizer")
    parser.add_argument(
        "--device", default=d.device, metavar="DEVICE", help="auto (all GPUs, else CPU), cpu, 0 or 0,1"
    )
    parser.add_argument(
        "--patience",
        type=int,
        default=d.patience,
        metavar="N",
        help="early-stopping patience in epochs",
    )
    parser.add_argument("--seed", type=int, default=d.seed, metavar="N", help="random seed")
    parser.add_argument(
        "--workers",
        type=int,
        default=d.workers,
        metavar="N",
        help="data-loader workers per process (default: the CPUs this process may use, minus one, at most 8)",
    )
    parser.add_argument(
        "--train-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a further Ultralytics training argument, e.g. mosaic=0.5 (repeatable; the value is read as YAML)",
    )
    parser.add_argument(
        "--stage-name", default=d.stage_name, metavar="NAME", help="name in reports: frozen or finetune"
    )
    parser.add_argument(
        "--no-resume", action="store_true", help="start fresh even if OUT holds an unfinished run"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="train into an --out folder holding files this stage did not write",
    )


def parse_train_args(items: list[str]) -> dict[str, Any]:
    """``["mosaic=0.5", "cos_lr=true"]`` -> ``{"mosaic": 0.5, "cos_lr": True}`` (values read as YAML scalars).

    Raises:
        ConfigError: an item without ``=`` or an unreadable value.
    """
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


def run(args: argparse.Namespace) -> int:
    """Translate the flags into ``TrainConfig``, train, and print the result as JSON."""
    cfg = TrainConfig(
        freeze=args.freeze,
        epochs=args.epochs,
        imgsz=args.imgsz,
        batch=args.batch,
        lr0=args.lr0,
        lrf=args.lrf,
        optimizer=args.optimizer,
        warmup_epochs=args.warmup_epochs,
        device=args.device,
        patience=args.patience,
        seed=args.seed,
        workers=args.workers,
        stage_name=args.stage_name,
        resume=not args.no_resume,
        overwrite=args.overwrite,
        train_args=parse_train_args(args.train_arg),
    )
    result = train_model(args.dataset, args.weights, args.out, cfg)
    if world_from_env().is_main:  # under torchrun one summary, from the rank that wrote OUT
        with contextlib.redirect_stdout(sys.__stdout__):  # a DDP worker's sys.stdout is stderr (patches)
            print_summary(result)
    return 0
