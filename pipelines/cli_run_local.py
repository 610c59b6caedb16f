"""Run the whole pipeline locally through kfp.local (CPU, no cluster): the laptop demo.

Without --voc it generates the built-in synthetic sample (task B: star/cross/ring style shapes) and
starts from the committed checkpoint pre-trained on task A, so you see transfer learning, not just
plumbing. Pass --weights to start from your own checkpoint (a path, or s3:// when MINIO_* is set).
Every other pipeline parameter can be set with --params FILE (YAML) or the flags below."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "run the whole pipeline locally through kfp.local (the demo)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp run-local``."""
    p.add_argument("--voc", default=None, help="VOC tree or s3:// URI (default: built-in synthetic sample)")
    p.add_argument("--out", type=Path, default=Path("runs/local"), help="output folder (default runs/local)")
    p.add_argument("--params", type=Path, default=None, help="YAML file of pipeline parameters")
    p.add_argument("--weights", default=None, help="pretrained weights (.pt path, s3:// URI or ARCH.yaml)")
    p.add_argument("--strategy", choices=["auto", "two-stage", "full", "frozen"], default=None)
    p.add_argument("--epochs-frozen", type=int, default=None)
    p.add_argument("--epochs-finetune", type=int, default=None)
    p.add_argument("--lr0", type=float, default=None)
    p.add_argument("--lr-finetune", type=float, default=None)
    p.add_argument("--freeze", default=None, help="layers frozen in the first stage, or auto (default: auto)")
    p.add_argument("--imgsz", type=int, default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--classes", default=None, help="comma-separated class order")
    p.add_argument("--min-map50-95", type=float, default=None, help="publishing gate threshold")
    p.add_argument("--publish-dest", default=None, help="folder or s3://bucket/name (default OUT/models/...)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--cold-start", action="store_true",
                   help="start every task in a fresh Python (kfp's own way) instead of forking a warm one")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Run, then print where things are and a one-screen summary."""
    from pipelines.local_run import run_local
    from pipelines.summary import format_summary

    keys = ("weights", "strategy", "epochs_frozen", "epochs_finetune", "lr0", "lr_finetune", "freeze", "imgsz",
            "batch", "classes", "min_map50_95", "publish_dest", "seed")  # fmt: skip
    overrides = {k: getattr(args, k) for k in keys}
    overrides["params_file"] = args.params
    voc = Path(args.voc) if args.voc and "://" not in args.voc else args.voc
    result = run_local(voc, args.out, overrides, warm_start=not args.cold_start)
    print(format_summary(result))  # noqa: T201
    return 0
