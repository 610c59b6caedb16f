"""Run a published, exported or served YOLO ONNX model on images and videos, without torch (``README.md``)."""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from components._shared.errors import ConfigError
from components._shared.fsio import guard_out_dir, no_room_as_storage_error, staged_dir, write_json_atomic
from components._shared.report import class_label, draw_boxes
from components.predict.boxes import decode, end_to_end, letterbox
from components.predict.model import DetectorBackend, load_detector, resolve_model
from components.predict.remote import connect_remote, is_url
from components.predict.sources import Source, Unreadable, frame_count, open_source, read_frames

log = logging.getLogger(__name__)

DRAWN_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class PredictConfig:
    """Options of ``predict``.

    Attributes:
        conf: keep detections scoring strictly above this. iou: NMS IoU threshold (per class).
        max_det: detections kept per image. classes: the class names, in order, the model must have.
        overwrite: replace an ``out_dir`` holding files this stage did not write (never an input).
        imgsz: a served model's input size when its metadata gives none (``--url`` only).
    """

    conf: float = 0.25
    iou: float = 0.7
    max_det: int = 300
    classes: tuple[str, ...] | None = None
    overwrite: bool = False
    imgsz: int | None = None


@dataclass(frozen=True)
class PredictResult:
    """What ``predict`` wrote and how fast; details in ``predict.json``."""

    out_dir: Path
    model: str
    verified: bool
    classes: tuple[str, ...]
    images: int
    detections: int
    skipped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    images_per_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {**asdict(self), "out_dir": str(self.out_dir), "classes": list(self.classes)}

    def summary_line(self) -> str:
        """One line: images, detections, skipped by reason, throughput."""
        skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()))
        return (
            f"predict: {self.images} images, {self.detections} detections"
            f"{f', skipped {skipped}' if skipped else ''} -> {self.out_dir}; "
            f"{self.images_per_s:.1f} images/s"
        )


def check_config(cfg: PredictConfig) -> None:
    """Refuse thresholds outside their ranges, naming the flag and the range."""
    if not 0.0 <= cfg.conf < 1.0:
        raise ConfigError(f"--conf {cfg.conf}: must be in [0, 1), e.g. 0.25")
    if not 0.0 < cfg.iou <= 1.0:
        raise ConfigError(f"--iou {cfg.iou}: must be in (0, 1], e.g. 0.7")
    if cfg.max_det < 1:
        raise ConfigError(f"--max-det {cfg.max_det}: must be at least 1, e.g. 300")
    if cfg.imgsz is not None and not 32 <= cfg.imgsz <= 8192:
        raise ConfigError(f"--imgsz {cfg.imgsz}: must be in [32, 8192], the size the model was exported at")


def check_classes(detector: DetectorBackend, expected: tuple[str, ...] | None, model: str) -> None:
    """Refuse a model whose class names (in order) differ from ``--classes``."""
    if expected is None or tuple(expected) == detector.classes:
        return
    raise ConfigError(
        f"{'--url' if is_url(model) else '--model'} {model}: its classes ({', '.join(detector.classes)}) differ "
        f"from --classes ({', '.join(expected)}); pass the model's classes in order, or the model trained on yours"
    )


def _local_inputs(*specs: str) -> list[Path]:
    return [Path(s).expanduser() for s in specs if Path(s).expanduser().exists()]


def predict(model: str, source: str, out_dir: Path, cfg: PredictConfig = PredictConfig()) -> PredictResult:  # noqa: B008
    """Detect objects in every image and video frame of ``source`` with ``model``; draw and record them.

    ``model`` and ``source`` take the forms in the README. Raises ConfigError (a bad option or input),
    StorageError (a file differs, the store or disk failed) or InferenceServerError (a served model failed).
    """
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    check_config(cfg)
    guard_out_dir(out_dir, _local_inputs(model, source), overwrite=cfg.overwrite)
    with tempfile.TemporaryDirectory(prefix="yolo-kfp-predict-") as work:
        detector, origin, verified = _open_model(model, Path(work), cfg)
        check_classes(detector, cfg.classes, model)
        src = open_source(source, Path(work))
        with no_room_as_storage_error(out_dir, "nothing was written"), staged_dir(out_dir) as tmp:
            counts = _run(detector, src, tmp, cfg)
            record = {
                "model": origin,
                "verified": verified,
                "classes": list(detector.classes),
                "input": list(detector.size),
                "end_to_end": detector.end_to_end,
                "source": source,
                "settings": {"conf": cfg.conf, "iou": cfg.iou, "max_det": cfg.max_det},
                **counts,
                "seconds": round(time.perf_counter() - t0, 3),
            }
            write_json_atomic(tmp / "predict.json", record)
    result = PredictResult(
        out_dir=out_dir,
        model=origin,
        verified=verified,
        classes=detector.classes,
        images=len(counts["images"]),
        detections=counts["detections"],
        skipped=counts["skipped"],
        seconds=record["seconds"],
        images_per_s=counts["images_per_s"],
    )
    log.info(result.summary_line())
    return result


def _open_model(model: str, work: Path, cfg: PredictConfig) -> tuple[DetectorBackend, str, bool]:
    """The backend ``model`` names (a served model's URL, else an ONNX file run here), its origin, verified."""
    if is_url(model):
        return connect_remote(model, cfg.classes, cfg.imgsz), model, False
    if cfg.imgsz is not None:
        raise ConfigError(f"--imgsz {cfg.imgsz}: for --url only; --model {model} carries its own input size")
    model_file = resolve_model(model, work / "model")
    return load_detector(model_file), model_file.origin, model_file.verified


def detect(detector: DetectorBackend, image: np.ndarray, cfg: PredictConfig) -> np.ndarray:
    """Detections ``(n, 6)`` (``x1 y1 x2 y2 score class`` in ``image``'s pixels) for one RGB image."""
    batch, lb = letterbox(image, detector.size)
    out = detector.run(batch)[0]
    if detector.end_to_end:
        return end_to_end(out, lb, conf=cfg.conf, max_det=cfg.max_det)
    return decode(out, lb, conf=cfg.conf, iou=cfg.iou, max_det=cfg.max_det)


def _run(detector: DetectorBackend, src: Source, out: Path, cfg: PredictConfig) -> dict[str, Any]:
    from tqdm import tqdm

    images: list[dict[str, Any]] = []
    coco: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    total = sum(frame_count(p) for _, p in src.files)
    t0 = time.perf_counter()
    with tqdm(total=total, desc="predict", unit="img", disable=None) as bar:
        for name, path in src.files:
            for frame_name, frame in read_frames(name, path):
                bar.update(1)
                if isinstance(frame, Unreadable):
                    skipped[frame.reason] += 1
                    log.warning("skipped (%s): %s", frame.reason, frame)
                    continue
                dets = detect(detector, frame, cfg)
                image_id = len(images)
                images.append(
                    {"id": image_id, "name": frame_name, "height": frame.shape[0], "width": frame.shape[1]}
                )
                coco.extend(coco_rows(image_id, dets))
                _write_outputs(out, frame_name, frame, dets, detector.classes)
    seconds = time.perf_counter() - t0
    write_json_atomic(out / "predictions.json", coco)
    return {
        "images": images,
        "detections": len(coco),
        "skipped": dict(sorted(skipped.items())),
        "images_per_s": round(len(images) / seconds, 2) if seconds > 0 else 0.0,
    }


def coco_rows(image_id: int, dets: np.ndarray) -> list[dict[str, Any]]:
    """COCO detection results (``bbox`` as ``x y w h``) of one image."""
    return [
        {
            "image_id": image_id,
            "category_id": int(c),
            "bbox": [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
            "score": round(s, 5),
        }
        for x1, y1, x2, y2, s, c in dets.tolist()
    ]


def _write_outputs(
    out: Path, name: str, frame: np.ndarray, dets: np.ndarray, classes: tuple[str, ...]
) -> None:
    rel = Path(name)
    drawn = out / "images" / (rel if rel.suffix.lower() in DRAWN_SUFFIXES else rel.with_suffix(".jpg"))
    drawn.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(frame)
    draw_boxes(image, dets[:, :4], dets[:, 5], classes, scores=dets[:, 4], side=None).save(drawn)
    label = out / "labels" / f"{name}.json"
    label.parent.mkdir(parents=True, exist_ok=True)
    detections = [
        {
            "class": int(c),
            "name": class_label(classes, c),
            "score": round(s, 5),
            "box": [round(v, 2) for v in (x1, y1, x2, y2)],
        }
        for x1, y1, x2, y2, s, c in dets.tolist()
    ]
    body = {"image": name, "width": frame.shape[1], "height": frame.shape[0], "detections": detections}
    label.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
