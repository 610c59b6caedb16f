"""Bring an s3:// prefix or archive, or a local path, into a local VOC tree with ingest.json (see README).

Example:
  MINIO_ENDPOINT=minio:9000 MINIO_SECURE=false yolo-kfp ingest --source s3://datasets/helmet/ --out runs/voc
"""

from __future__ import annotations

import argparse
import re

from components._shared.cliutil import add_out, add_overwrite, add_source, add_workers, print_summary
from components._shared.storage.limits import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_MIN_SPEED_BPS,
    DEFAULT_READ_TIMEOUT_S,
    DEFAULT_RETRY_BUDGET_S,
    DEFAULT_SPEED_WINDOW_S,
)
from components.ingest.core import IngestConfig, ingest

HELP = "s3:// prefix or archive, or local path -> local VOC tree + ingest.json (fingerprint)"

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


def byte_size(value: str) -> int:
    """argparse type: ``20G``, ``512M``, ``1000`` (bytes; K/M/G/T are powers of 1024)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", value, flags=re.IGNORECASE)
    if not m:
        raise argparse.ArgumentTypeError(f"{value!r} is not a size like 20G, 512M or 1000")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp ingest``."""
    add_source(parser, "the VOC data: s3://bucket/prefix/, an archive or a path")
    add_out(parser)
    add_overwrite(parser)
    add_workers(parser, IngestConfig.workers, "parallel downloads")
    parser.add_argument(
        "--max-bytes", type=byte_size, default=IngestConfig.max_bytes, metavar="SIZE",
        help="refuse archives expanding beyond this (default: 20G)",
    )  # fmt: skip
    parser.add_argument(
        "--max-files", type=int, default=IngestConfig.max_files, metavar="N",
        help="refuse archives with more members",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    s3 = parser.add_argument_group("S3 limits (default: the YOLO_KFP_S3_* environment, else the value shown)")
    s3.add_argument(
        "--connect-timeout", type=float, default=None, metavar="S",
        help=f"TCP/TLS connect timeout per request (default: {DEFAULT_CONNECT_TIMEOUT_S:g})",
    )  # fmt: skip
    s3.add_argument(
        "--read-timeout", type=float, default=None, metavar="S",
        help=f"time to first byte, and longest silence, per request (default: {DEFAULT_READ_TIMEOUT_S:g})",
    )  # fmt: skip
    s3.add_argument(
        "--min-speed", type=byte_size, default=None, metavar="SIZE",
        help=f"bytes/s a request must average over {DEFAULT_SPEED_WINDOW_S:g} s (YOLO_KFP_S3_SPEED_WINDOW), "
        f"0 for no limit (default: {DEFAULT_MIN_SPEED_BPS})",
    )  # fmt: skip
    s3.add_argument(
        "--retry-budget", type=float, default=None, metavar="S",
        help=f"no retry starts later than this after a call began (default: {DEFAULT_RETRY_BUDGET_S:g})",
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Translate the flags into ``IngestConfig``, ingest, and print the result as JSON."""
    cfg = IngestConfig(
        workers=args.workers,
        max_bytes=args.max_bytes,
        max_files=args.max_files,
        progress=not args.no_progress,
        overwrite=args.overwrite,
        connect_timeout_s=args.connect_timeout,
        read_timeout_s=args.read_timeout,
        min_speed_bps=args.min_speed,
        retry_budget_s=args.retry_budget,
    )
    print_summary(ingest(args.source, args.out, cfg))
    return 0
