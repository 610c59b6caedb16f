"""Publish a model folder as a new version under DEST, and optionally promote it to production.

DEST is s3://bucket/name (MinIO, configured only from MINIO_ENDPOINT, MINIO_ACCESS_KEY,
MINIO_SECRET_KEY, MINIO_SECURE, MINIO_REGION) or a local folder with the same layout. The version is
<UTC timestamp>-<short dataset fingerprint>. Version objects are written once (create-only): of two
publishes of one version exactly one wins and the other is refused; every upload is verified and
manifest.json is written last (a version without it is incomplete and never promoted). Publishing
content that is already published returns that version and uploads nothing. --promote points
DEST/production.json at the new version (compare-and-swap) only when metrics.json says the gate
passed and the class list matches production's (else --allow-class-change); the previous pointer is
kept in its history. --promote-version first checks every file of the version against its manifest.
Promotion also lays the model out in the Triton model repository DEST/triton/<model>/ (config.pbtxt
serving the production version; <model> is --triton-model, default the last part of DEST).

Modes:
  yolo-kfp publish --model DIR --dest DEST [--promote] [--fingerprint FP] [--allow-class-change]
  yolo-kfp publish --dest DEST --baseline-out FILE       production metrics for validate --baseline
  yolo-kfp publish --dest DEST --promote-version VERSION promote (or roll back to) an existing version

Example:
  yolo-kfp publish --model runs/export --dest s3://models/helmet --promote
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components._shared.cliutil import print_summary
from components._shared.errors import ConfigError
from components._shared.production import production_baseline_metrics, read_production
from components.publish.core import PublishConfig, list_versions, promote_version, publish_model

HELP = "model folder -> DEST/<version>/ + manifest.json (last); --promote updates production.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp publish``."""
    parser.add_argument("--dest", required=True, metavar="s3://bucket/name|DIR", help="where versions live")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--model", type=Path, metavar="DIR", help="folder with model.onnx/best.pt, cards, reports"
    )
    mode.add_argument("--baseline-out", type=Path, metavar="FILE", help="write production metrics.json here")
    mode.add_argument("--promote-version", metavar="VERSION", help="promote an existing complete version")
    parser.add_argument("--promote", action="store_true", help="update production.json if the gate passed")
    parser.add_argument(
        "--fingerprint", default=None, metavar="FP", help="dataset fingerprint (default: model.json)"
    )
    parser.add_argument(
        "--version", default=None, help="explicit version name (default: timestamp-fingerprint)"
    )
    parser.add_argument(
        "--allow-class-change",
        action="store_true",
        help="promote even when the class list (names, order) differs from production's",
    )
    parser.add_argument(
        "--triton-model",
        default=None,
        metavar="NAME",
        help="model name in DEST/triton/ (default: the last part of DEST)",
    )


def run(args: argparse.Namespace) -> int:
    """Dispatch to publish, baseline export or promotion, and print the result as JSON."""
    if args.baseline_out is not None:
        path = production_baseline_metrics(args.dest, args.baseline_out)
        print_summary({"baseline": str(path) if path else None, "production": read_production(args.dest)})
        return 0
    if args.promote_version is not None:
        versions = list_versions(args.dest)
        if args.promote_version not in versions:
            raise ConfigError(
                f"{args.dest}: version {args.promote_version!r} is not complete or does not exist "
                f"(complete versions: {', '.join(versions[-5:]) or 'none'})"
            )
        print_summary(
            promote_version(
                args.dest,
                args.promote_version,
                allow_class_change=args.allow_class_change,
                triton_model=args.triton_model,
            )
        )
        return 0
    cfg = PublishConfig(
        fingerprint=args.fingerprint,
        promote=args.promote,
        version=args.version,
        allow_class_change=args.allow_class_change,
        triton_model=args.triton_model,
    )
    print_summary(publish_model(args.model, args.dest, cfg))
    return 0
