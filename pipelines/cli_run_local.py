"""Run the whole pipeline locally through kfp.local (CPU, no cluster): the laptop demo.

Without --source it generates the built-in synthetic sample (task B: star/cross/ring style shapes) and
starts from the committed checkpoint pre-trained on task A, so you see transfer learning, not just
plumbing. Pass --weights to start from your own checkpoint (a path, or s3:// when MINIO_* is set).
Every other pipeline parameter can be set with --params FILE (YAML), -p KEY=VALUE or the flags below
(a flag wins over -p, -p over the file). One run per --out at a time: a second run into a folder in use
fails at once, naming the first one's pid (OUT/.run-local.lock)."""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import add_param_arguments, parse_key_values

HELP = "run the whole pipeline locally through kfp.local (the demo)"
DEPRECATED = {"--voc": "--source"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp run-local``."""
    p.add_argument(
        "--source",
        default=None,
        metavar="URI|PATH",
        help="the VOC data: a VOC tree or an s3:// URI (default: the built-in synthetic sample)",
    )
    p.add_argument("--out", type=Path, default=Path("runs/local"), metavar="DIR", help="output folder")
    add_param_arguments(p)
    p.add_argument(
        "--weights",
        default=None,
        metavar="PATH|URI",
        help="pretrained weights (.pt path, s3:// URI or ARCH.yaml)",
    )
    p.add_argument(
        "--strategy", choices=["auto", "two-stage", "full", "frozen"], default=None, metavar="NAME",
        help="two-stage, full, frozen or auto",
    )  # fmt: skip
    p.add_argument("--epochs-frozen", type=int, default=None, metavar="N", help="epochs of the frozen stage")
    p.add_argument(
        "--epochs-finetune", type=int, default=None, metavar="N", help="epochs of the fine-tune stage"
    )
    p.add_argument("--lr0", type=float, default=None, metavar="X", help="learning rate of the first stage")
    p.add_argument(
        "--lr-finetune", type=float, default=None, metavar="X", help="learning rate of the fine-tune stage"
    )
    p.add_argument(
        "--freeze",
        default=None,
        metavar="N|auto",
        help="layers frozen in the first stage, or auto (default: auto)",
    )
    p.add_argument("--imgsz", type=int, default=None, metavar="N", help="image size")
    p.add_argument("--batch", type=int, default=None, metavar="N", help="batch size")
    p.add_argument("--classes", default=None, metavar="a,b,c", help="comma-separated class order")
    p.add_argument("--min-map50-95", type=float, default=None, metavar="X", help="publishing gate threshold")
    p.add_argument(
        "--publish-dest", default=None, metavar="s3://bucket/name|DIR",
        help="where the model is published (default: OUT/models/yolo-transfer)",
    )  # fmt: skip
    p.add_argument("--seed", type=int, default=None, metavar="N", help="split seed")
    p.add_argument("--cold-start", action="store_true",
                   help="start every task in a fresh Python (kfp's own way) instead of forking a warm one")  # fmt: skip


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
