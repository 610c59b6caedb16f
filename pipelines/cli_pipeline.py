"""Compile the pipeline to KFP IR YAML for the images that will run it (the committed YAML: default images only).

Example:
  yolo-kfp compile --image-registry ghcr.io/me --image-tag "$(git rev-parse --short=7 HEAD)" --out /tmp/p.yaml
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import add_out

HELP = "compile the pipeline for a registry/tag (default: pipelines/compiled/yolo_transfer.yaml)"


def add_image_arguments(p: argparse.ArgumentParser) -> None:
    """``--image-registry``/``--image-tag``, shared by compile, submit and schedule."""
    group = p.add_argument_group("images")
    group.add_argument(
        "--image-registry",
        default=None,
        metavar="REGISTRY",
        help="repository prefix of the yolo-kfp-data/-train images "
        "(default: $IMAGE_REGISTRY, else ghcr.io/yolo-kfp)",
    )
    group.add_argument(
        "--image-tag",
        default=None,
        metavar="TAG",
        help="tag `make images` pushed, e.g. the git SHA (default: $IMAGE_TAG, else the project version); "
        "'latest' is refused",
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp compile``."""
    from pipelines.compile import COMPILED

    add_out(p, "output file", metavar="FILE", default=COMPILED, required=False)
    add_image_arguments(p)


def check_out_file(out: Path) -> Path:
    """``out`` when a file can be written there; ConfigError when it is a folder or lies under a file."""
    from components._shared.errors import ConfigError

    if out.is_dir():
        raise ConfigError(
            f"--out {out} is a folder: compile writes one file; pass a file path such as {out}/p.yaml"
        )
    parent = next((p for p in out.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ConfigError(f"--out {out} lies under {parent}, which is a file: pass a file path in a folder")
    return out


def run(args: argparse.Namespace) -> int:
    """Check --out, compile and print the output path."""
    from pipelines.compile import compile_pipeline

    out = compile_pipeline(check_out_file(args.out), registry=args.image_registry, tag=args.image_tag)
    print(out)  # noqa: T201
    return 0
