"""Resolve the training plan of a split dataset; explicit values win over auto (components/plan/README.md).

Example:
  yolo-kfp plan --dataset runs/dataset/dataset.yaml --out runs/plan --freeze auto
"""

from __future__ import annotations

import argparse

from components._shared.cliutil import add_dataset, add_out, add_overwrite, add_weights, print_summary
from components.plan.core import AUTO, STRATEGIES, PlanRequest, parse_freeze, plan_training

HELP = "the training plan (auto values from the dataset size; explicit values win)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp plan`` (defaults: ``PlanRequest``)."""
    d = PlanRequest()
    add_dataset(parser)
    add_out(parser, "folder to write (replaced)")
    add_weights(
        parser,
        "pretrained weights the training starts from; {size} is replaced by the model size",
        default=d.weights,
        required=False,
    )
    parser.add_argument("--model-size", default=d.model_size, metavar="SIZE", help="n, s, m, l, x or auto")
    add_plan_arguments(parser, d)
    add_overwrite(parser)


def add_plan_arguments(parser: argparse.ArgumentParser, request: PlanRequest | None) -> None:
    """The plan's choices, shared with ``run-local``: defaults from ``request``, or none (None: run-local's)."""
    d = request.to_dict() if request is not None else {}
    group = parser.add_argument_group(
        "training plan" if d else "training plan (default: --params/-p, else as in `yolo-kfp plan`)"
    )
    group.add_argument(
        "--strategy",
        choices=(AUTO, *STRATEGIES),
        default=d.get("strategy"),
        metavar="NAME",
        help="two-stage, full, frozen or auto",
    )
    group.add_argument(
        "--freeze",
        default=d.get("freeze"),
        metavar="N|auto",
        help="layers frozen in the first stage, or auto",
    )
    group.add_argument(
        "--epochs-frozen",
        type=int,
        default=d.get("epochs_frozen"),
        metavar="N",
        help="epochs of the frozen stage; -1: auto",
    )
    group.add_argument(
        "--epochs-finetune",
        type=int,
        default=d.get("epochs_finetune"),
        metavar="N",
        help="epochs of the fine-tune stage; -1: auto",
    )
    group.add_argument(
        "--lr0", type=float, default=d.get("lr0"), metavar="X", help="learning rate of the first stage"
    )
    group.add_argument(
        "--lr-finetune",
        type=float,
        default=d.get("lr_finetune"),
        metavar="X",
        help="learning rate of the fine-tune stage; -1: lr0",
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
