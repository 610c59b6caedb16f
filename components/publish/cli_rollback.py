"""Point DEST/production.json back at the previous production version (or --model-version), checked as promote.

Example:
  yolo-kfp rollback --dest s3://models/helmet
"""

from __future__ import annotations

import argparse

from components._shared.errors import ConfigError
from components._shared.production import read_production
from components.publish.cli import add_dest_argument, add_promotion_arguments
from components.publish.cli_promote import promote

HELP = "make the previous production version (or --model-version) the production model again"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp rollback``."""
    add_dest_argument(parser)
    parser.add_argument(
        "--model-version",
        default=None,
        metavar="VERSION",
        help="version to roll back to (default: the previous production version, from the history)",
    )
    add_promotion_arguments(parser)


def previous_version(dest: str) -> str:
    """The version production pointed at before the current one; ConfigError when there is none."""
    pointer = read_production(dest)
    if pointer is None:
        raise ConfigError(f"{dest}: nothing is in production yet, so there is nothing to roll back to")
    for entry in pointer.get("history") or []:
        if isinstance(entry, dict) and entry.get("version") and entry["version"] != pointer.get("version"):
            return str(entry["version"])
    raise ConfigError(
        f"{dest}: production ({pointer.get('version')}) has no earlier version in its history; "
        "name one with --model-version"
    )


def run(args: argparse.Namespace) -> int:
    """Roll back and print the new production pointer as JSON."""
    version = args.model_version or previous_version(args.dest)
    return promote(args.dest, version, args.allow_class_change, args.triton_model)
