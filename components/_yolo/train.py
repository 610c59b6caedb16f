"""One Ultralytics training run (a fresh run or a resume), on the CPU, one GPU or several (DDP, torchrun).

What ``OfflineDetectionTrainer`` changes in Ultralytics 8.4: ``components/_yolo/README.md``.
"""

from __future__ import annotations

# Patches first: they set YOLO_OFFLINE before Ultralytics is imported.
from components._yolo.patches import quiet_stdout  # isort: split

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import ultralytics.engine.trainer as _ul_trainer
import ultralytics.engine.validator as _ul_validator
import ultralytics.models.yolo.detect.val as _ul_detect_val
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.nn.tasks import DetectionModel
from ultralytics.utils import LOCAL_RANK, RANK
from ultralytics.utils.torch_utils import strip_optimizer as _ul_strip_optimizer

from components._shared.errors import ConfigError, YoloKfpError
from components._yolo.ddp import device_index
from components._yolo.freeze import ALL_RANKS_END, RECORD_NAME, TrainRecorder
from components._yolo.results import RESULTS_CSV


class _CpuDistributedDataParallel(torch.nn.parallel.DistributedDataParallel):
    """DDP of a CPU module: Ultralytics passes ``device_ids=[device.index]``, ``[None]`` on the CPU, which torch refuses."""

    def __init__(self, module: torch.nn.Module, device_ids: Any = None, **kwargs: Any) -> None:
        super().__init__(module, device_ids=None if device_ids == [None] else device_ids, **kwargs)


@contextlib.contextmanager
def _cpu_ddp() -> Iterator[None]:
    """Let Ultralytics' ``_setup_train`` wrap a CPU model in DDP (the class is swapped back afterwards)."""
    parallel = torch.nn.parallel
    original = parallel.DistributedDataParallel
    parallel.DistributedDataParallel = _CpuDistributedDataParallel  # type: ignore[misc]
    try:
        yield
    finally:
        parallel.DistributedDataParallel = original  # type: ignore[misc]


@contextlib.contextmanager
def _single_process_validation() -> Iterator[None]:
    """Run the final validation as one process would (``RANK``/``LOCAL_RANK`` -1 in the validators)."""
    modules = (_ul_validator, _ul_detect_val)
    saved = [(m, m.RANK, m.LOCAL_RANK) for m in modules]
    for m in modules:
        m.RANK = m.LOCAL_RANK = -1  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for m, rank, local_rank in saved:
            m.RANK, m.LOCAL_RANK = rank, local_rank  # type: ignore[attr-defined]


def _write_refusal(path: Path) -> OSError | None:
    """The file system's reason for refusing writes into ``path`` (append and see); None when it accepts them."""
    try:
        with path.open("ab") as fh:
            fh.write(bytes(1 << 20))
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as err:
        return err
    return None


def _strip_optimizer_atomic(
    f: str | Path = "best.pt", s: str = "", updates: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Ultralytics' ``strip_optimizer`` through a temp name; a failed write raises the file system's OSError.

    torch's writer reports it as ``RuntimeError("... unexpected pos ...")`` without the cause.
    """
    target = Path(s or f)
    tmp = target.with_name(f".{target.name}.partial")
    try:
        ckpt = _ul_strip_optimizer(f, s=str(tmp), updates=updates)
        if tmp.exists():  # upstream writes nothing when ``f`` is not a checkpoint
            os.replace(tmp, target)
        return ckpt
    except RuntimeError as err:
        refusal = _write_refusal(tmp)
        if refusal is None:
            raise
        raise OSError(refusal.errno, refusal.strerror, str(target)) from err
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _atomic_strip() -> Iterator[None]:
    _ul_trainer.strip_optimizer = _strip_optimizer_atomic  # type: ignore[assignment]
    try:
        yield
    finally:
        _ul_trainer.strip_optimizer = _ul_strip_optimizer


class OfflineDetectionTrainer(DetectionTrainer):
    """Ultralytics' detection trainer; defined here so DDP workers import this package (and its patches).

    Under torchrun it trains in the process group ``ddp.process_group`` joined; it never writes a
    checkpoint in place. Every override and why: ``components/_yolo/README.md``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.torchrun = dist.is_available() and dist.is_initialized() and LOCAL_RANK != -1
        if self.torchrun:
            self.ddp = False
            self.world_size = dist.get_world_size()

    def _setup_ddp(self) -> None:
        if not self.torchrun:
            super()._setup_ddp()
            return
        index = device_index(self.args.device, LOCAL_RANK) if self.device.type == "cuda" else None
        if index is not None:
            self.device = torch.device("cuda", index)
            torch.cuda.set_device(index)

    def _setup_train(self) -> None:
        if self.world_size > 1 and self.device.type == "cpu":
            with _cpu_ddp():
                super()._setup_train()
        else:
            super()._setup_train()

    def save_model(self) -> bool:
        """Ultralytics' ``save_model`` into a temp folder, renamed when complete, ``last.pt`` last."""
        wdir, last, best = self.wdir, self.last, self.best
        wdir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=wdir))
        self.wdir, self.last, self.best = staging, staging / last.name, staging / best.name
        try:
            saved = super().save_model()
            for new in sorted(staging.iterdir(), key=lambda p: p.name == last.name):
                os.replace(new, wdir / new.name)
        except OSError as err:
            if err.filename is not None:
                raise
            written = [n for n in (last.name, best.name, f"epoch{self.epoch}.pt") if (staging / n).exists()]
            raise OSError(err.errno, err.strerror, str(wdir / (written[-1] if written else ""))) from err
        finally:
            self.wdir, self.last, self.best = wdir, last, best
            shutil.rmtree(staging, ignore_errors=True)
        return saved

    def final_eval(self) -> None:
        with _atomic_strip():
            if not self.torchrun:
                super().final_eval()
                return
            if self.validator is not None:  # the training loader holds this rank's shard only: load them all
                self.validator.dataloader = None
            with _single_process_validation():
                super().final_eval()

    def _do_train(self) -> None:
        super()._do_train()
        self.run_callbacks(ALL_RANKS_END)


EpochHook = Callable[[int, dict[str, dict[str, Any]]], None]  # (epochs done, per-class P/R/AP/instances)


def epoch_callback(hook: EpochHook) -> Callable[[DetectionTrainer], None]:
    """``on_fit_epoch_end`` (row and checkpoint saved) calling ``hook(epoch, per_class)`` on rank 0."""

    def on_fit_epoch_end(trainer: DetectionTrainer) -> None:
        if RANK not in (-1, 0):
            return
        from components._yolo.validate import metrics_dict

        metrics = getattr(trainer.validator, "metrics", None)
        per_class = metrics_dict(metrics, trainer.data["names"])["per_class"] if metrics is not None else {}
        hook(int(trainer.epoch) + 1, per_class)

    return on_fit_epoch_end


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
    on_epoch: EpochHook | None = None,
) -> TrainRun:
    """Run Ultralytics training into ``run_dir`` (a fresh run, or a resume of ``resume_ckpt``).

    Args:
        data_yaml: dataset YAML with an absolute ``path``.
        model: the input checkpoint, transferred into a model built for the dataset's classes (as
            ``YOLO(...).train`` does); None: build ``arch`` from scratch.
        model_arg: what to record as ``model`` in the run's arguments.
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
    if "," in str(overrides.get("device", "")) and not (dist.is_available() and dist.is_initialized()):
        _require_ddp_support()  # Ultralytics spawns its own launcher (not under torchrun)
    with quiet_stdout():
        return _train(args, run_dir, model, arch, recorder, resume_ckpt, on_epoch)


def _train(
    args: dict[str, Any],
    run_dir: Path,
    model: DetectionModel | None,
    arch: str | None,
    recorder: TrainRecorder,
    resume_ckpt: Path | None,
    on_epoch: EpochHook | None = None,
) -> TrainRun:
    try:
        trainer = OfflineDetectionTrainer(overrides=args)
    except (FileNotFoundError, RuntimeError) as err:
        # e.g. an UnsafeCheckpoint behind "resume checkpoint not found"
        if isinstance(err.__cause__, YoloKfpError):
            raise err.__cause__ from None
        raise ConfigError(f"Ultralytics refused the run: {' '.join(str(err).split())[:300]}") from err
    if resume_ckpt is None:
        cfg = model.yaml if model is not None else arch
        trainer.model = trainer.get_model(cfg=cfg, weights=model, verbose=False)
    recorder.attach(trainer)
    if on_epoch is not None:
        trainer.add_callback("on_fit_epoch_end", epoch_callback(on_epoch))
    trainer.train()
    record_path = run_dir / RECORD_NAME
    record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.is_file() else {}
    return TrainRun(
        run_dir=run_dir,
        best=Path(trainer.best),
        last=Path(trainer.last),
        results_csv=run_dir / RESULTS_CSV,
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
