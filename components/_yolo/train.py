"""One Ultralytics training run (a fresh run or a resume), on the CPU, one GPU or several (DDP).

The trainer subclass lives here so that DDP workers, which unpickle it, import this module and with it
the offline patches.
"""

from __future__ import annotations

# Patches first: they set YOLO_OFFLINE before Ultralytics is imported.
from components._yolo.patches import quiet_stdout  # isort: split

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.nn.tasks import DetectionModel

from components._shared.errors import ConfigError, YoloKfpError
from components._yolo.freeze import RECORD_NAME, TrainRecorder


class OfflineDetectionTrainer(DetectionTrainer):
    """Ultralytics' detection trainer; defined here so DDP workers import this package (and its patches)."""


@dataclass(frozen=True)
class TrainRun:
    """What one call of ``train`` produced in the run folder."""

    run_dir: Path
    best: Path
    last: Path
    results_csv: Path
    record: dict[str, Any]
    resumed: bool


def train(
    *,
    data_yaml: Path,
    run_dir: Path,
    model: DetectionModel | None,
    model_arg: str,
    arch: str | None,
    overrides: Mapping[str, Any],
    recorder: TrainRecorder,
    resume_ckpt: Path | None,
) -> TrainRun:
    """Run Ultralytics training into ``run_dir`` (a fresh run, or a resume of ``resume_ckpt``).

    Args:
        data_yaml: dataset YAML with an absolute ``path``.
        run_dir: Ultralytics save_dir (``weights/``, ``results.csv``, ``args.yaml``).
        model: the loaded input checkpoint (its weights are transferred into a model built for the
            dataset's classes, as ``YOLO(...).train`` does); None to build ``arch`` from scratch.
        model_arg: what to record as ``model`` in the run's arguments.
        arch: architecture YAML used when ``model`` is None.
        overrides: Ultralytics training arguments (epochs, imgsz, lr0, freeze, ...).
        recorder: callbacks (frozen proof, metrics, checkpoint hook).
        resume_ckpt: a ``last.pt`` with the trainer's state to continue from.
    """
    args: dict[str, Any] = {
        **overrides,
        "data": str(data_yaml),
        "task": "detect",
        "mode": "train",
        "model": model_arg,
        "save_dir": str(run_dir),
        "exist_ok": True,
        "plots": False,  # Ultralytics' plots draw labels with a downloaded font; we plot ourselves
        "val": True,
    }
    if resume_ckpt is not None:
        args["resume"] = str(resume_ckpt)
        args["model"] = str(resume_ckpt)
    if "," in str(overrides.get("device", "")):
        _require_ddp_support()
    with quiet_stdout():
        return _train(args, run_dir, model, arch, recorder, resume_ckpt)


def _train(
    args: dict[str, Any],
    run_dir: Path,
    model: DetectionModel | None,
    arch: str | None,
    recorder: TrainRecorder,
    resume_ckpt: Path | None,
) -> TrainRun:
    try:
        trainer = OfflineDetectionTrainer(overrides=args)
    except (FileNotFoundError, RuntimeError) as err:
        if isinstance(
            err.__cause__, YoloKfpError
        ):  # e.g. an UnsafeCheckpoint behind "resume checkpoint not found"
            raise err.__cause__ from None
        raise ConfigError(f"Ultralytics refused the run: {' '.join(str(err).split())[:300]}") from err
    if resume_ckpt is None:
        cfg = model.yaml if model is not None else arch
        trainer.model = trainer.get_model(cfg=cfg, weights=model, verbose=False)
    recorder.attach(trainer)
    trainer.train()
    record_path = run_dir / RECORD_NAME
    record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.is_file() else {}
    return TrainRun(
        run_dir=run_dir,
        best=Path(trainer.best),
        last=Path(trainer.last),
        results_csv=run_dir / "results.csv",
        record=record,
        resumed=resume_ckpt is not None,
    )


def _require_ddp_support() -> None:
    """Multi-GPU runs pickle the trainer with cloudpickle>=3.1.1; Ultralytics would pip-install it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("cloudpickle")
    except PackageNotFoundError:
        found = None
    parts = tuple(int(x) for x in found.split(".")[:3] if x.isdigit()) if found else ()
    if parts < (3, 1, 1):
        raise ConfigError(
            f"multi-GPU training needs cloudpickle>=3.1.1 (found {found or 'none'}); add it to the training "
            f"image, or train on one GPU with --device 0"
        )
