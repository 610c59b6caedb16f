"""Load, build and inspect Ultralytics detection models and checkpoints."""

from __future__ import annotations

# Patches first: they set YOLO_OFFLINE before Ultralytics is imported.
from components._yolo.patches import neutral_copy  # isort: split

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch
import ultralytics
from ultralytics.nn.tasks import DetectionModel, load_checkpoint

from components._shared.errors import ConfigError

log = logging.getLogger(__name__)

ULTRALYTICS_VERSION = ultralytics.__version__


def load_model(path: Path) -> tuple[DetectionModel, dict[str, Any]]:
    """Load an Ultralytics checkpoint as an fp32 model (eval mode) and its checkpoint dict.

    Raises:
        ConfigError: the file is not an Ultralytics detection checkpoint (with the reason).
    """
    try:
        with neutral_copy(path, ".pt") as tmp:
            model, ckpt = load_checkpoint(tmp)
    except (TypeError, ModuleNotFoundError, AttributeError, RuntimeError, EOFError, KeyError) as err:
        first = " ".join(str(err).split())[:200]
        raise ConfigError(
            f"{path}: not an Ultralytics checkpoint ({type(err).__name__}: {first}); original YOLOv5 "
            f"(ultralytics/yolov5) .pt files must be converted: use the 'u' models such as yolov5su.pt"
        ) from err
    if not isinstance(model, DetectionModel):
        raise ConfigError(f"{path}: a {type(model).__name__}, not a detection model")
    return model, ckpt


def build_model(arch: str, nc: int) -> DetectionModel:
    """Build a detection model from an architecture YAML (``yolov5n.yaml`` builds YOLOv5nu)."""
    try:
        return DetectionModel(arch, nc=nc, verbose=False)
    except (FileNotFoundError, OSError, KeyError, AttributeError) as err:
        raise ConfigError(
            f"--weights {arch}: unknown architecture YAML ({type(err).__name__}); use e.g. yolov5n.yaml, "
            f"yolov5s.yaml or a path to a model YAML"
        ) from err


def layer_count(model: DetectionModel) -> int:
    """Number of top-level layers (``model.0`` ... ``model.<n-1>``); the last one is the Detect head."""
    return len(model.model)


def checkpoint_state(path: Path) -> dict[str, torch.Tensor]:
    """State dict of a checkpoint's model (EMA when present) in its stored precision (fp16 for Ultralytics)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model = ckpt.get("ema") or ckpt.get("model")
    return {k: v.detach() for k, v in model.state_dict().items()}


def checkpoint_progress(path: Path) -> dict[str, Any] | None:
    """Resume facts of a ``last.pt``: ``{epoch, epochs, train_args}`` or None if it cannot resume.

    ``epoch`` is the number of finished epochs; a stripped (finished) checkpoint has no optimizer.
    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # a half-written file from a killed pod: Ultralytics writes last.pt in place
        log.warning("%s is unreadable (%s); it cannot be resumed", path, type(err).__name__)
        return None
    if not isinstance(ckpt, dict) or ckpt.get("optimizer") is None or int(ckpt.get("epoch", -1)) < 0:
        return None
    args = dict(ckpt.get("train_args") or {})
    return {
        "epoch": int(ckpt["epoch"]) + 1,
        "epochs": int(args.get("epochs", 0)),
        "train_args": args,
        "train_results": ckpt.get("train_results") or {},
    }


def copy_checkpoint(src: Path, dst: Path) -> None:
    """Copy a checkpoint byte for byte (to the run folder, before resuming from it)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def versions() -> dict[str, str]:
    """Versions of the libraries that shaped the result (for reports and model cards)."""
    import platform

    return {
        "ultralytics": ULTRALYTICS_VERSION,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
