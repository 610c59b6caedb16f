"""Resolve the training plan for a split dataset: model size, strategy, freeze depth, epochs, rates.

Values left at auto (-1 for numbers) come from the dataset-size table in components/plan/core.py;
an explicit value always wins. Writes OUT/plan.json and OUT/plan.md and prints the plan as JSON.

Example:
  yolo-kfp plan --data runs/dataset/dataset.yaml --out runs/plan --freeze auto
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import print_summary
from components.plan.core import PlanRequest, parse_freeze, plan_training

HELP = "the training plan (auto values from the dataset size; explicit values win)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp plan`` (defaults: ``PlanRequest``)."""
    d = PlanRequest()
    parser.add_argument(
        "--data", type=Path, required=True, metavar="YAML", help="dataset.yaml of the split stage"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write (replaced)")
    parser.add_argument(
        "--weights", default=d.weights, help=f"pretrained weights; {{size}} = model size ({d.weights})"
    )
    parser.add_argument("--model-size", default=d.model_size, help="n, s, m, l, x or auto (auto)")
    parser.add_argument("--strategy", default=d.strategy, help="two-stage, full, frozen or auto (auto)")
    parser.add_argument("--freeze", default="auto", help="layers frozen in the first stage, or auto (auto)")
    parser.add_argument("--epochs-frozen", type=int, default=d.epochs_frozen, help="-1: auto (-1)")
    parser.add_argument("--epochs-finetune", type=int, default=d.epochs_finetune, help="-1: auto (-1)")
    parser.add_argument(
        "--lr0", type=float, default=d.lr0, help=f"learning rate of the first stage ({d.lr0})"
    )
    parser.add_argument("--lr-finetune", type=float, default=d.lr_finetune, help="-1: lr0 (-1)")
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
    print_summary(plan_training(args.data, args.out, request, overwrite=args.overwrite))
    return 0
