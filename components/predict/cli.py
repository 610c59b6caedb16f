"""Run a YOLO ONNX model (or a served one, --url) on images, videos or an s3:// prefix (see its README).

Examples:
  yolo-kfp predict --model runs/local/models/yolo-transfer@production --source photos/ --out runs/predict
  yolo-kfp predict --url http://localhost:8080/v2/models/yolo-transfer --classes star,cross,ring \\
    --source photos/ --out runs/predict-served
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from components._shared.cliutil import add_classes, add_imgsz, add_out, add_overwrite, add_source
from components._shared.errors import ConfigError
from components.predict.core import PredictConfig, predict
from components.predict.remote import URL_FORM, is_url

HELP = "run a YOLO ONNX model (file, folder, DEST@production) on images/videos: drawn images, JSON, COCO"


def parse_class_list(value: str) -> tuple[str, ...]:
    """``a,b,c`` or a file with one name per line (blank and ``#`` lines ignored), trimmed, in order."""
    path = Path(value).expanduser()
    if path.is_file():
        names = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
        names = [n for n in names if n and not n.startswith("#")]
    else:
        names = [n.strip() for n in value.split(",") if n.strip()]
    if not names:
        raise ConfigError(
            f"--classes {value!r}: no class names (give a,b,c or a file with one name per line)"
        )
    return tuple(names)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``yolo-kfp predict``."""
    d = PredictConfig()
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--model",
        metavar="MODEL",
        help="model.onnx, a folder holding it, DEST@production or DEST@VERSION (DEST: folder or s3://bucket/name)",
    )
    which.add_argument(
        "--url",
        metavar="URL",
        help="a served model, http(s)://HOST/v2/models/NAME (KServe v2); each request ends within "
        "$YOLO_KFP_PREDICT_CALL_LIMIT s (30), bearer token from $YOLO_KFP_PREDICT_TOKEN",
    )
    add_source(parser, "an image, a folder of images/videos, a video file or an s3:// prefix")
    add_out(parser)
    parser.add_argument("--conf", type=float, default=d.conf, metavar="X", help="keep scores above this")
    parser.add_argument("--iou", type=float, default=d.iou, metavar="X", help="NMS IoU threshold")
    parser.add_argument("--max-det", type=int, default=d.max_det, metavar="N", help="detections per image")
    add_classes(
        parser,
        "class names, in order, the model must have (default: any; with --url: the names, "
        "required when the server's metadata has none)",
    )
    add_imgsz(
        parser,
        None,
        "with --url: the input size when the server's metadata gives none (the version manifest's imgsz)",
    )
    add_overwrite(parser)


def run(args: argparse.Namespace) -> int:
    """Translate the flags into ``PredictConfig``, predict, and print the throughput as the last line."""
    cfg = PredictConfig(
        conf=args.conf,
        iou=args.iou,
        max_det=args.max_det,
        classes=parse_class_list(args.classes) if args.classes is not None else None,
        overwrite=args.overwrite,
        imgsz=args.imgsz,
    )
    if args.url is not None and not is_url(args.url):
        raise ConfigError(f"--url {args.url!r}: not an http(s):// URL; give {URL_FORM}")
    result = predict(args.url or args.model, args.source, args.out, cfg)
    print(result.summary_line(), file=sys.stdout)  # noqa: T201 - the CLI's summary: throughput last
    return 0
