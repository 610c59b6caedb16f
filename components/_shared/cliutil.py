"""Helpers shared by the CLI modules: the flag grammar (``GRAMMAR``), ``add_*`` flags, help format, types."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components._shared.errors import ConfigError
from components._shared.safe_yaml import load_user_yaml


@dataclass(frozen=True)
class Flag:
    """One flag of the grammar: what it means wherever it appears, and the metavars it may show."""

    meaning: str
    metavars: tuple[str | None, ...] = (None,)


GRAMMAR: dict[str, Flag] = {
    "--source": Flag(
        "what the command reads: raw Pascal VOC, a VOC tree, an s3:// prefix or an archive (the pipeline "
        "parameter `source`); predict: images, videos or an s3:// prefix",
        ("URI|PATH", "DIR"),
    ),
    "--converted": Flag("the output folder of `convert`", ("DIR",)),
    "--dataset": Flag("a split dataset: the dataset.yaml of `split`, or its folder", ("YAML|DIR",)),
    "--parity-images": Flag(
        "images the ONNX/PyTorch parity check runs on: a dataset.yaml (val) or a folder", ("YAML|DIR",)
    ),  # fmt: skip
    "--out": Flag(
        "where the command writes its result (a folder, replaced; a file for `compile` and `production`)",
        ("DIR", "FILE"),
    ),
    "--overwrite": Flag("replace an --out folder holding files the command did not write"),
    "--weights": Flag(
        "model weights the command reads: a .pt (or .onnx to validate), an s3:// URI or an architecture YAML",
        ("PATH|URI", "PATH"),
    ),
    "--classes": Flag(
        "class order: comma-separated names (or a file with one name per line)", ("a,b,c|FILE", "a,b,c")
    ),
    "--seed": Flag("random seed", ("N",)),
    "--workers": Flag("parallel workers (processes, threads or data loaders)", ("N",)),
    "--imgsz": Flag("image size in pixels (the side of the square the model sees)", ("N",)),
    "--batch": Flag("batch size (global under torchrun)", ("N",)),
    "--device": Flag("auto, cpu, or CUDA device ids such as 0 or 0,1", ("DEVICE",)),
    "--freeze": Flag(
        "leading layers frozen in the first training stage (auto: from the plan)", ("N", "N|auto")
    ),
    "--strategy": Flag("training strategy: two-stage, full, frozen or auto", ("NAME",)),
    "--epochs-frozen": Flag("epochs of the frozen stage (-1: auto)", ("N",)),
    "--epochs-finetune": Flag("epochs of the fine-tune stage (-1: auto)", ("N",)),
    "--lr0": Flag("initial learning rate (of the first stage)", ("X",)),
    "--lr-finetune": Flag("learning rate of the fine-tune stage (-1: lr0)", ("X",)),
    "--min-map50-95": Flag("the gate's threshold on mAP50-95", ("X",)),
    "--allow-class-change": Flag("accept a class list (names, order) that differs from production's"),
    "--dest": Flag("where model versions live: s3://bucket/name or a folder", ("s3://bucket/name|DIR",)),
    "--model-version": Flag("a model version name under --dest", ("VERSION",)),
    "--triton-model": Flag("the model's name in DEST/triton/", ("NAME",)),
    "--model": Flag(
        "the model the command reads: an export output folder (predict also: model.onnx, DEST@production, "
        "DEST@VERSION)",
        ("DIR", "MODEL"),
    ),
    "--params": Flag("YAML/JSON file of pipeline parameters", ("FILE",)),
    "-p": Flag(
        "one pipeline parameter KEY=VALUE (repeatable; the value is read as YAML; wins over --params)",
        ("KEY=VALUE",),
    ),  # fmt: skip
    "--experiment": Flag("KFP experiment", ("NAME",)),
    "--pipeline-version": Flag("KFP pipeline version name", ("NAME",)),
    "--package": Flag("compiled pipeline YAML", ("FILE",)),
    "--image-registry": Flag("repository prefix of the yolo-kfp images", ("REGISTRY",)),
    "--image-tag": Flag("tag of the yolo-kfp images", ("TAG",)),
    "--host": Flag("KFP API/UI URL", ("URL",)),
    "--namespace": Flag("Kubernetes namespace of what the command creates or lists", ("NS",)),
    "--existing-token": Flag("KFP bearer token", ("TOKEN",)),
    "--kfp-namespace": Flag("namespace KFP is installed in", ("NS",)),
    "--name": Flag("name of the object the command creates", ("NAME",)),
    "--log-level": Flag(
        "logging level: DEBUG, INFO, WARNING or ERROR (before or after the subcommand)", ("LEVEL",)
    ),
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps descriptions as written and ends an option help with ``(default: X)``.

    Not for helps that already say ``(default: ...)``, ``store_true`` flags or required flags.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or action.required
            or "(default:" in text
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or default == []
        ):
            return action.help
        return f"{text} (default: %(default)s)".lstrip()


def add_global_options(parser: argparse.ArgumentParser, *, after_command: bool = False) -> None:
    """``--log-level``, on the top-level parser and again on each subcommand's (where it wins)."""
    target = parser.add_argument_group("global options") if after_command else parser
    target.add_argument(
        "--log-level",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        default=argparse.SUPPRESS if after_command else None,
        metavar="LEVEL",
        help="DEBUG, INFO, WARNING or ERROR (default: $YOLO_KFP_LOG_LEVEL, else INFO)",
    )


def add_out(
    parser: argparse.ArgumentParser,
    help: str = "output folder (replaced)",
    *,
    metavar: str = "DIR",
    default: Path | None = None,
    required: bool = True,
) -> None:
    """``--out``: where the command writes its result."""
    parser.add_argument("--out", type=Path, required=required, default=default, metavar=metavar, help=help)


def add_overwrite(
    parser: argparse.ArgumentParser,
    help: str = "replace an --out folder holding files this stage did not write",
) -> None:
    """``--overwrite``: the command may write into an --out folder it did not create."""
    parser.add_argument("--overwrite", action="store_true", help=help)


def add_source(parser: argparse.ArgumentParser, help: str, *, required: bool = True) -> None:
    """``--source URI|PATH``: what the command reads, local or ``s3://``."""
    parser.add_argument("--source", required=required, default=None, metavar="URI|PATH", help=help)


def add_dataset(parser: argparse.ArgumentParser) -> None:
    """``--dataset YAML|DIR``: the split stage's dataset.yaml or its folder."""
    parser.add_argument(
        "--dataset",
        type=Path,
        required=True,
        metavar="YAML|DIR",
        help="dataset.yaml of the split stage, or its folder",
    )


def add_weights(
    parser: argparse.ArgumentParser,
    help: str,
    *,
    default: str | None = None,
    required: bool = True,
    local: bool = False,
) -> None:
    """``--weights``: a checkpoint; ``local``: a path only, else also an s3:// URI or an architecture YAML."""
    parser.add_argument(
        "--weights",
        type=Path if local else str,
        required=required,
        default=default,
        metavar="PATH" if local else "PATH|URI",
        help=help,
    )


def add_classes(parser: argparse.ArgumentParser, help: str) -> None:
    """``--classes a,b,c|FILE``: class names in order, comma-separated or one per line in a file."""
    parser.add_argument("--classes", default=None, metavar="a,b,c|FILE", help=help)


def add_imgsz(parser: argparse.ArgumentParser, default: int | None, help: str = "image size") -> None:
    """``--imgsz N``: image size in pixels."""
    parser.add_argument("--imgsz", type=int, default=default, metavar="N", help=help)


def add_batch(parser: argparse.ArgumentParser, default: int | None, help: str = "batch size") -> None:
    """``--batch N``."""
    parser.add_argument("--batch", type=int, default=default, metavar="N", help=help)


def add_workers(parser: argparse.ArgumentParser, default: int | None, help: str) -> None:
    """``--workers N``: parallel workers."""
    parser.add_argument("--workers", type=int, default=default, metavar="N", help=help)


def add_seed(parser: argparse.ArgumentParser, default: int | None, help: str = "random seed") -> None:
    """``--seed N``."""
    parser.add_argument("--seed", type=int, default=default, metavar="N", help=help)


def add_param_arguments(p: argparse.ArgumentParser) -> None:
    """``--params FILE`` and ``-p KEY=VALUE``, shared by run-local, submit and schedule."""
    p.add_argument(
        "--params", type=Path, default=None, metavar="FILE", help="YAML/JSON file of pipeline parameters"
    )
    p.add_argument(
        "-p",
        dest="param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="one pipeline parameter, e.g. -p epochs_frozen=5 (repeatable; the value is read as YAML; "
        "wins over --params; checked like the file)",
    )


def fraction(value: str) -> float:
    """argparse type: a float in [0, 1)."""
    try:
        f = float(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from err
    if not 0.0 <= f < 1.0:
        raise argparse.ArgumentTypeError(f"{value} must be in [0, 1)")
    return f


def parse_key_values(items: list[str], flag: str = "-p") -> dict[str, Any]:
    """``["epochs_frozen=5", "classes=a,b"]`` -> ``{"epochs_frozen": 5, "classes": "a,b"}``.

    Values are YAML (empty: ""); a later key wins. ConfigError for an item without ``=`` or a name, or a
    value unreadable as YAML or with aliases.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{flag} {item!r}: expected KEY=VALUE, e.g. {flag} epochs_frozen=5")
        out[key] = load_user_yaml(value, f"{flag} {key}") if value.strip() else ""
    return out


def print_summary(result: Any) -> None:
    """Print a stage result as JSON on stdout (the CLI's only print: machine-readable summary)."""
    data = result.to_dict() if hasattr(result, "to_dict") else result
    print(json.dumps(data, indent=2, sort_keys=True, default=str), file=sys.stdout)  # noqa: T201
