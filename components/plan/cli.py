"""Resolve the training plan for a split dataset: model size, strategy, freeze depth, epochs, rates.

Values left at auto (-1 for numbers) come from the dataset-size table in components/plan/core.py;
an explicit value always wins. Writes OUT/plan.json and OUT/plan.md and prints the plan as JSON.

Example:
  yolo-kfp plan --dataset runs/dataset/dataset.yaml --out runs/plan --freeze auto
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import print_summary
from components.plan.core import PlanRequest, parse_freeze, plan_training

HELP = "the training plan (auto values from the dataset size; explicit values win)"
DEPRECATED = {"--data": "--dataset"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp plan`` (defaults: ``PlanRequest``)."""
    d = PlanRequest()
    parser.add_argument(
        "--dataset",
        type=Path,
        required=True,
        metavar="YAML|DIR",
        help="dataset.yaml of the split stage, or its folder",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write (replaced)")
    parser.add_argument(
        "--weights",
        default=d.weights,
        metavar="PATH|URI",
        help="pretrained weights the training starts from; {size} is replaced by the model size",
    )
    parser.add_argument("--model-size", default=d.model_size, metavar="SIZE", help="n, s, m, l, x or auto")
    parser.add_argument(
        "--strategy", default=d.strategy, metavar="NAME", help="two-stage, full, frozen or auto"
    )
    parser.add_argument(
        "--freeze", default="auto", metavar="N|auto", help="layers frozen in the first stage, or auto"
    )
    parser.add_argument(
        "--epochs-frozen",
        type=int,
        default=d.epochs_frozen,
        metavar="N",
        help="epochs of the frozen stage; -1: auto",
    )
    parser.add_argument(
        "--epochs-finetune",
        type=int,
        default=d.epochs_finetune,
        metavar="N",
        help="epochs of the fine-tune stage; -1: auto",
    )
    parser.add_argument(
        "--lr0", type=float, default=d.lr0, metavar="X", help="learning rate of the first stage"
    )
    parser.add_argument(
        "--lr-finetune",
        type=float,
        default=d.lr_finetune,
        metavar="X",
        help="learning rate of the fine-tune stage; -1: lr0",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an --out folder holding files this stage did not write",
    )


def run(args: argparse.Namespace) -> int:
    """Translate the flags into ``PlanRequest``, resolve and write the plan, print it as JSON."""
    request = PlanRequest(
        weights=args.weights,
        model_size=args.model_size,
        strategy=args.strategy,
        freeze=parse_freeze(args.freeze),
        epochs_frozen=args.epochs_frozen,
        epochs_finetune=args.epochs_finetune,
        lr0=args.lr0,
        lr_finetune=args.lr_finetune,
    )
    print_summary(plan_training(args.dataset, args.out, request, overwrite=args.overwrite))
    return 0
