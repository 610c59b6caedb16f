"""Point DEST/production.json at an existing version, checked as `publish --promote` checks it (see README).

Example:
  yolo-kfp promote --dest s3://models/helmet --model-version 20250101T000000Z-1a2b3c4d
"""

from __future__ import annotations

import argparse

from components._shared.cliutil import print_summary
from components._shared.errors import ConfigError
from components.publish.cli import add_dest_argument, add_promotion_arguments
from components.publish.core import list_versions, promote_version

HELP = "verify a published version, then make it the production model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp promote``."""
    add_dest_argument(parser)
    parser.add_argument(
        "--model-version", required=True, metavar="VERSION", help="the complete version to promote"
    )
    add_promotion_arguments(parser)


def promote(dest: str, version: str, allow_class_change: bool, triton_model: str | None) -> int:
    """Promote ``version`` of ``dest``, print the new production pointer as JSON; ConfigError if not complete."""
    versions = list_versions(dest)
    if version not in versions:
        raise ConfigError(
            f"{dest}: version {version!r} is not complete or does not exist "
            f"(complete versions: {', '.join(versions[-5:]) or 'none'})"
        )
    print_summary(
        promote_version(dest, version, allow_class_change=allow_class_change, triton_model=triton_model)
    )
    return 0


def run(args: argparse.Namespace) -> int:
    """Promote the version and print the production pointer as JSON."""
    return promote(args.dest, args.model_version, args.allow_class_change, args.triton_model)
