"""Publish a model folder as a new version under --dest, and optionally promote it to production.

DEST is s3://bucket/name (MinIO, configured only from MINIO_ENDPOINT, MINIO_ACCESS_KEY,
MINIO_SECRET_KEY, MINIO_SECURE, MINIO_REGION) or a local folder with the same layout. The version is
<UTC timestamp>-<short dataset fingerprint> unless --model-version names it. Version objects are
written once (create-only): of two publishes of one version exactly one wins and the other is refused;
every upload is verified and manifest.json is written last (a version without it is incomplete and
never promoted). Publishing content that is already published returns that version and uploads
nothing. --promote points DEST/production.json at the new version (compare-and-swap) only when
metrics.json says the gate passed, the gate measured the model in production now (validate
--champion-dest DEST; else exit 2: the version stays published, not promoted) and the class list
matches production's (else --allow-class-change); the previous pointer is kept in its history. Promotion also lays the model out
in the Triton model repository DEST/triton/<model>/ (config.pbtxt serving the production version).

The other verbs on DEST:
  yolo-kfp promote --dest DEST --model-version VERSION   verify an existing version, then promote it
  yolo-kfp rollback --dest DEST [--model-version VERSION] back to the previous production version
  yolo-kfp production --dest DEST [--out FILE]           what is in production (FILE: its metrics.json)

Example:
  yolo-kfp publish --model runs/export --dest s3://models/helmet --promote
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import print_summary, warn_deprecated
from components.publish.core import PublishConfig, publish_model

HELP = "model folder -> DEST/<version>/ + manifest.json (last); --promote updates production.json"
DEPRECATED = {"--version": "--model-version"}


def add_dest_argument(parser: argparse.ArgumentParser) -> None:
    """``--dest``, shared by publish, promote, rollback and production."""
    parser.add_argument("--dest", required=True, metavar="s3://bucket/name|DIR", help="where versions live")


def add_promotion_arguments(parser: argparse.ArgumentParser) -> None:
    """``--allow-class-change`` and ``--triton-model``, shared by publish, promote and rollback."""
    parser.add_argument(
        "--allow-class-change",
        action="store_true",
        help="promote even when the class list (names, order) differs from production's",
    )
    parser.add_argument(
        "--triton-model",
        default=None,
        metavar="NAME",
        help="model name in DEST/triton/ (default: the last part of --dest)",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp publish``."""
    add_dest_argument(parser)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--model", type=Path, metavar="DIR", help="folder with model.onnx/best.pt, cards, reports"
    )
    # deprecated modes (one release): now the verbs `production` and `promote`
    mode.add_argument("--baseline-out", type=Path, help=argparse.SUPPRESS)
    mode.add_argument("--promote-version", help=argparse.SUPPRESS)
    parser.add_argument("--promote", action="store_true", help="update production.json if the gate passed")
    parser.add_argument(
        "--fingerprint", default=None, metavar="FP", help="dataset fingerprint (default: from model.json)"
    )
    parser.add_argument(
        "--model-version",
        default=None,
        metavar="VERSION",
        help="name of the new version (default: <UTC timestamp>-<fingerprint>)",
    )
    add_promotion_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Publish (or run a deprecated mode through its new verb) and print the result as JSON."""
    if args.baseline_out is not None:
        from components.publish import cli_production

        warn_deprecated(
            "publish", "publish --baseline-out FILE", "yolo-kfp production --dest DEST --out FILE"
        )
        return cli_production.show_production(args.dest, args.baseline_out)
    if args.promote_version is not None:
        from components.publish import cli_promote

        warn_deprecated(
            "publish",
            "publish --promote-version VERSION",
            "yolo-kfp promote --dest DEST --model-version VERSION",
        )
        return cli_promote.promote(
            args.dest, args.promote_version, args.allow_class_change, args.triton_model
        )
    cfg = PublishConfig(
        fingerprint=args.fingerprint,
        promote=args.promote,
        version=args.model_version,
        allow_class_change=args.allow_class_change,
        triton_model=args.triton_model,
    )
    print_summary(publish_model(args.model, args.dest, cfg))
    return 0
