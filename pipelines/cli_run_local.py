"""Run the whole pipeline through kfp.local on this machine (CPU, no cluster): the demo.

Without --source: the synthetic sample, from the task-A checkpoint. Flags win over -p, -p over --params.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import (
    add_batch,
    add_imgsz,
    add_out,
    add_param_arguments,
    add_seed,
    add_source,
    add_weights,
    parse_key_values,
)
from components.plan.cli import add_plan_arguments

HELP = "run the whole pipeline locally through kfp.local (the demo)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp run-local``."""
    add_source(
        p, "the VOC data: a VOC tree or an s3:// URI (default: the built-in synthetic sample)", required=False
    )
    add_out(p, "output folder", default=Path("runs/local"), required=False)
    add_param_arguments(p)
    add_weights(p, "pretrained weights (.pt path, s3:// URI or ARCH.yaml)", required=False)
    add_plan_arguments(p, None)
    add_imgsz(p, None)
    add_batch(p, None)
    p.add_argument("--classes", default=None, metavar="a,b,c", help="comma-separated class order")
    p.add_argument("--min-map50-95", type=float, default=None, metavar="X", help="publishing gate threshold")
    p.add_argument(
        "--publish-dest",
        default=None,
        metavar="s3://bucket/name|DIR",
        help="where the model is published (default: OUT/models/yolo-transfer)",
    )
    add_seed(p, None, "split seed")
    p.add_argument(
        "--cold-start",
        action="store_true",
        help="start every task in a fresh Python (kfp's own way) instead of forking a warm one",
    )


def run(args: argparse.Namespace) -> int:
    """Run, then print where things are and a one-screen summary."""
    from pipelines.local_run import run_local
    from pipelines.summary import format_summary

    keys = ("weights", "strategy", "epochs_frozen", "epochs_finetune", "lr0", "lr_finetune", "freeze", "imgsz",
            "batch", "classes", "min_map50_95", "publish_dest", "seed")  # fmt: skip
    overrides = parse_key_values(args.param)
    source = args.source or overrides.pop("source", None)
    overrides.update({k: getattr(args, k) for k in keys if getattr(args, k) is not None})
    overrides["params_file"] = args.params
    voc = Path(source) if source and "://" not in str(source) else source
    result = run_local(voc, args.out, overrides, warm_start=not args.cold_start)
    print(format_summary(result))  # noqa: T201
    return 0
