"""Train a YOLO detector with the first N layers frozen, and prove they stayed bit-identical.

``train_model`` serves both training stages and ``yolo-kfp train`` (alone or under torchrun); outputs,
the frozen proof, resume and DDP: ``components/train/README.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from components._shared.artifacts import BEST_PT, LAST_PT
from components._shared.dataset import (
    DatasetSpec,
    label_path,
    load_dataset,
    read_list,
    resolve_dataset_yaml,
    resolve_list_entry,
)
from components._shared.errors import ConfigError, YoloKfpError
from components._shared.fsio import (
    OUTPUT_MARKER,
    foreign_files,
    guard_out_dir,
    no_room_as_storage_error,
    write_json_atomic,
    write_text_atomic,
)
from components._shared.weights import ResolvedWeights, resolve_weights
from components._yolo.ddp import World, process_group, run_on_main, world_from_env
from components._yolo.layers import BACKBONE_LAYERS, prefixes
from components._yolo.preflight import PIPELINE_OWNED_ARGS as PIPELINE_OWNED_ARGS  # re-exported
from components._yolo.preflight import (
    check_dataset_shape,
    check_freeze,
    check_train_args_keys,
    check_training_setup,
    parse_device,
)
from components._yolo.results import (
    EPOCH,
    RESULTS_CSV,
    epoch_seconds,
    last_metrics,
    read_results,
    results_csv_text,
)
from components.train.live import LiveMonitor, LogsHook
from components.train.report import previous_stage, write_report
from components.train.tensorboard import LOG_DIR

log = logging.getLogger(__name__)

OPTIMIZERS = ("SGD", "Adam", "AdamW", "NAdam", "RAdam", "RMSProp")
RUN_DIR = "run"
# Arguments that must match for a checkpoint to be resumed (the rest may change, e.g. device, batch).
RESUME_KEYS = ("epochs", "freeze", "lr0", "lrf", "optimizer", "momentum", "warmup_epochs", "seed")
STATE_DIR = ".state"  # beside run/: Ultralytics' DDP launcher deletes run/ before a fresh multi-GPU run
STAGE_FILE = "stage.json"  # the weights a run started from; a resume must come from the same ones
# What train writes into its --out (besides run/ and .state/, which are always its own): listed in the
# folder's output marker, so a re-run into the same folder (a resume) is allowed and foreign files are not.
OUTPUT_FILES = (
    BEST_PT,
    LAST_PT,
    RESULTS_CSV,
    ".results.csv.tmp",
    "curves.png",
    "report.html",
    "metrics.json",
    "frozen_check.json",
)

# The run page's scalars (KFP Metrics); the last three are None where the proof measured no such thing.
SUMMARY_KEYS = ("map50", "map50_95", "precision", "recall", "epochs", "seconds_per_epoch", "freeze",
                "trainable_params", "frozen_params", "frozen_verified", "backbone_max_abs_change",
                "backbone_max_abs_change_fp32")  # fmt: skip

CheckpointHook = Callable[[Path, int], None]

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"
MAX_WORKERS = 8  # data-loader workers per training process, at most


class FrozenLayersChanged(YoloKfpError):
    """A layer that was meant to be frozen changed during training (or was never loaded)."""


@dataclass(frozen=True)
class TrainConfig:
    """Options of ``train_model`` (defaults: the frozen stage on a GPU); ``components/train/README.md``.

    Attributes:
        freeze: leading layers to freeze; ``BACKBONE_LAYERS`` (10) = the YOLOv5 backbone, 0 = train everything.
        epochs: epochs to train in total (a resumed run ends at the same number).
        imgsz: training image size (pixels, multiple of 32).
        batch: batch size (global under torchrun); -1 lets Ultralytics pick one for a single GPU.
        lr0: initial learning rate (the plan gives the fine-tune stage the same one unless told otherwise).
        lrf: final learning rate as a fraction of ``lr0``.
        optimizer: explicit optimizer (Ultralytics' ``auto`` would ignore ``lr0``).
        momentum: SGD momentum / Adam beta1.
        warmup_epochs: warm-up epochs (the pipeline's fine-tune stage uses 0).
        device: ``auto`` (every visible GPU, DDP when more than one; else the CPU), ``cpu``, ``0``, ``0,1``.
        patience: epochs without improvement before stopping early.
        seed: random seed (deterministic training).
        workers: data-loader workers per process; None: ``default_workers`` (Ultralytics uses 0 on the CPU).
        stage_name: name of this stage in reports (``frozen``, ``finetune``).
        cos_lr: cosine learning-rate schedule instead of linear.
        cache: cache decoded images in RAM.
        amp: mixed precision on CUDA (checked locally first).
        resume: continue ``out_dir/run/weights/last.pt`` when it is an unfinished run of this config.
        overwrite: train into an ``out_dir`` holding foreign files (kept; same names replaced).
        train_args: further Ultralytics arguments (``{"mosaic": 0.5}``); they win over the fields above.
    """

    freeze: int = BACKBONE_LAYERS
    epochs: int = 10
    imgsz: int = 640
    batch: int = 16
    lr0: float = 0.01
    lrf: float = 0.01
    optimizer: str = "SGD"
    momentum: float = 0.937
    warmup_epochs: float = 3.0
    device: str = "auto"
    patience: int = 50
    seed: int = 0
    workers: int | None = None
    stage_name: str = "train"
    cos_lr: bool = False
    cache: bool = False
    amp: bool = True
    resume: bool = True
    overwrite: bool = False
    train_args: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (``metrics.json``'s ``config``)."""
        return asdict(self)

    def to_json(self) -> str:
        """One line of JSON that ``from_json`` reads back (``yolo-kfp train --config``)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """The config of a JSON object of its fields (``to_json``'s, ``metrics.json``'s ``config``).

        Raises:
            ConfigError: not a JSON object, an unknown field or a value of the wrong type.
        """
        try:
            data = json.loads(text)
        except ValueError as err:
            raise ConfigError(f"--config: not JSON ({err})") from None
        if not isinstance(data, dict):
            raise ConfigError(
                f"--config: expected a JSON object of TrainConfig fields, not {type(data).__name__}"
            )
        default = cls().to_dict()
        unknown = sorted(set(data) - set(default))
        if unknown:
            raise ConfigError(f"--config: unknown field(s) {', '.join(unknown)}; known: {', '.join(default)}")
        bad = [f"{k}={v!r}" for k, v in data.items() if not _same_kind(v, default[k])]
        if bad:
            raise ConfigError(f"--config: wrong type for {', '.join(bad)} (defaults: {cls().to_json()})")
        return cls(**data)


def _same_kind(value: Any, default: Any) -> bool:
    """Whether ``value`` may stand for a field whose default is ``default`` (None: an optional int)."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if default is None:
        return value is None or isinstance(value, int)
    if isinstance(default, float):
        return isinstance(value, int | float)
    return isinstance(value, type(default))


@dataclass(frozen=True)
class TrainResult:
    """What ``train_model`` wrote into ``out_dir``: ``to_json()`` is its ``metrics.json``."""

    out_dir: Path
    stage: str
    architecture: str = ""
    map50: float = 0.0
    map50_95: float = 0.0
    precision: float = 0.0
    recall: float = 0.0
    per_class: dict[str, dict[str, Any]] = field(default_factory=dict)
    epochs: int = 0
    epochs_this_run: int = 0
    resumed_from_epoch: int | None = None
    seconds_per_epoch: float = 0.0
    epoch_seconds: list[float] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "none"
    workers: int = 0
    freeze: int = 0
    total_params: int = 0
    trainable_params: int = 0
    frozen_params: int = 0
    frozen_verified: bool | None = None
    frozen_checks: dict[str, Any] | None = None
    frozen_ranks: list[dict[str, Any]] | None = None
    world_size: int = 1
    backbone_changed: bool | None = None
    backbone_max_abs_change: float | None = None
    backbone_max_abs_change_fp32: float | None = None
    names: tuple[str, ...] = ()
    weights: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    diagnosis: list[dict[str, Any]] = field(default_factory=list)
    tensorboard: str = ""
    previous_stage: dict[str, Any] | None = None  # absent from metrics.json when None

    @classmethod
    def read(cls, out_dir: Path) -> TrainResult:
        """The result whose ``metrics.json`` is in ``out_dir`` (what a TrainJob's rank 0 wrote)."""
        data = json.loads((out_dir / "metrics.json").read_text(encoding="utf-8"))
        known = {f.name for f in fields(cls)} - {"out_dir"}
        values = {k: v for k, v in data.items() if k in known}
        return cls(out_dir=out_dir, **{**values, "names": tuple(values.get("names", ()))})

    @property
    def best(self) -> Path:
        """``best.pt``."""
        return self.out_dir / BEST_PT

    @property
    def last(self) -> Path:
        """``last.pt`` (a skipped stage has only ``best.pt``)."""
        last = self.out_dir / LAST_PT
        return last if last.is_file() else self.best

    @property
    def metrics_json(self) -> Path:
        """``metrics.json``."""
        return self.out_dir / "metrics.json"

    @property
    def report_html(self) -> Path:
        """``report.html``."""
        return self.out_dir / "report.html"

    def to_json(self) -> dict[str, Any]:
        """``metrics.json``: every field but ``out_dir`` (``previous_stage`` only when there was one)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "out_dir"}
        data["names"] = list(self.names)
        if self.previous_stage is None:
            del data["previous_stage"]
        return data

    def to_dict(self) -> dict[str, Any]:
        """The CLI's JSON summary: ``metrics.json`` plus where the files are, ``stage_name`` and ``imgsz``."""
        paths = {k: str(getattr(self, k)) for k in ("out_dir", "best", "last", "metrics_json", "report_html")}
        return {**self.to_json(), **paths, "stage_name": self.stage, "imgsz": self.config.get("imgsz")}

    def summary(self) -> dict[str, float]:
        """Scalars for the run page (KFP ``Metrics``); the proof's numbers only where they apply."""
        values = {k: getattr(self, k) for k in SUMMARY_KEYS}
        return {k: float(v) for k, v in values.items() if v is not None}

    def card(self) -> dict[str, Any]:
        """Metadata for the weights artifact (KFP ``Model``); ``names`` are the class names in index order."""
        return {
            "framework": "pytorch",
            "format": "ultralytics-checkpoint",
            "architecture": self.architecture,
            "stage": self.stage,
            "names": list(self.names),
            "classes": list(self.names),
            "imgsz": self.config.get("imgsz"),
            "epochs": self.epochs,
            "freeze": self.freeze,
            "map50": round(self.map50, 5),
            "map50_95": round(self.map50_95, 5),
            "frozen_verified": self.frozen_verified,
            "backbone_changed": self.backbone_changed,
        }


def resolve_device(device: str) -> str:
    """``auto`` -> every visible CUDA GPU (``0`` or ``0,1,...``), else ``cpu``; other values unchanged."""
    if device != "auto":
        return device
    import torch

    n = torch.cuda.device_count()
    return ",".join(str(i) for i in range(n)) if n else "cpu"


def usable_cpus(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """CPUs this process may use: its affinity, capped by the cgroup v2 quota (a Kubernetes CPU limit)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = Path(cpu_max).read_text(encoding="ascii").split()[:2]
        if quota != "max" and int(period) > 0:
            cpus = min(cpus, max(1, int(quota) // int(period)))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def default_workers(processes: int = 1, *, cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """Data-loader workers per process: its share of ``usable_cpus`` minus one, at most ``MAX_WORKERS``."""
    share = usable_cpus(cpu_max) // max(1, processes)
    return max(0, min(MAX_WORKERS, share - 1))


def check_train_args(args: Mapping[str, Any], known: Collection[str] | None = None) -> dict[str, Any]:
    """``args`` checked as extra Ultralytics training arguments (``known``: the accepted keys, None: all).

    Raises:
        ConfigError: a key the pipeline owns or Ultralytics lacks, or a value of the wrong type or range.
    """
    if not args:
        return {}
    if known is not None:
        return check_train_args_keys(args, known)
    from components._yolo.cfg import check_values

    return check_values(check_training_setup(freeze=0, imgsz=640, train_args=args))


def _check_config(cfg: TrainConfig) -> None:
    if cfg.epochs < 1:
        raise ConfigError(f"--epochs {cfg.epochs}: train at least 1 epoch")
    check_training_setup(
        freeze=cfg.freeze, imgsz=cfg.imgsz, train_args=cfg.train_args, device=cfg.device, cli=True
    )
    if cfg.batch == 0 or cfg.batch < -1:
        raise ConfigError(f"--batch {cfg.batch}: use a positive batch size (or -1: automatic on one GPU)")
    if not (cfg.lr0 > 0 and math.isfinite(cfg.lr0)):
        raise ConfigError(f"--lr0 {cfg.lr0}: the learning rate must be positive")
    if cfg.lr0 > 1:  # Ultralytics' own check raises a bare ValueError once the trainer is built
        raise ConfigError(
            f"--lr0 {cfg.lr0:g}: Ultralytics takes a learning rate in (0, 1]; the default is 0.01"
        )
    if not 0 < cfg.lrf <= 1:
        raise ConfigError(f"--lrf {cfg.lrf}: the final learning-rate fraction must be in (0, 1]")
    if cfg.optimizer not in OPTIMIZERS:
        raise ConfigError(
            f"--optimizer {cfg.optimizer}: choose one of {', '.join(OPTIMIZERS)} (explicit, not auto)"
        )
    if cfg.warmup_epochs < 0 or cfg.patience < 1 or (cfg.workers is not None and cfg.workers < 0):
        raise ConfigError("--warmup-epochs and --workers must be >= 0 and --patience >= 1")


def train_model(
    data_yaml: Path,
    weights: str,
    out_dir: Path,
    cfg: TrainConfig = TrainConfig(),  # noqa: B008
    *,
    on_checkpoint: CheckpointHook | None = None,
    resume_from: Path | None = None,
    on_logs: LogsHook | None = None,
) -> TrainResult:
    """Train a detector from ``weights`` on ``data_yaml`` and write the outputs to ``out_dir``.

    Args:
        data_yaml: the split stage's ``dataset.yaml`` (or its folder).
        weights: a ``.pt``, an ``s3://`` URI or an architecture YAML (``yolov5n.yaml``: random weights).
        on_checkpoint: ``(last_pt, finished_epochs)`` after every epoch's ``last.pt`` is saved.
        resume_from: a ``last.pt`` of an interrupted run of this stage (copied in and continued).
        on_logs: ``(log_dir, diagnosis)`` after every epoch's TensorBoard file and doctor's findings.

    Raises:
        ConfigError, UnsafeCheckpoint, DatasetError: bad options, weights, ``out_dir`` or dataset.
        FrozenLayersChanged: a frozen parameter or BatchNorm buffer changed (or was not loaded).
        StorageError: no room to write; ``out_dir/run`` keeps the last epoch saved whole.
    """
    t0 = time.perf_counter()
    _check_config(cfg)
    check_train_args(cfg.train_args)
    _check_device(cfg.device)
    world = world_from_env()
    _check_world(cfg, world)
    spec = load_dataset(Path(data_yaml))
    out_dir = Path(out_dir)
    no_room = no_room_as_storage_error(out_dir, "training stopped, no checkpoint was left half-written")
    with no_room, process_group(world, resolve_device(cfg.device)):
        run_on_main(world, lambda: _prepare_out(out_dir, spec, weights, cfg, resume_from))
        if not world.is_main:  # trains in a rank-private folder; out_dir is rank 0's alone
            with tempfile.TemporaryDirectory(prefix=f"yolo-kfp-train-rank{world.rank}-") as tmp:
                return _train_into(spec, weights, Path(tmp), cfg, None, None, t0, world)
        try:
            hooks = (on_checkpoint, on_logs)
            result = _train_into(spec, weights, out_dir, cfg, hooks, resume_from, t0, world)
        except BaseException:
            with contextlib.suppress(OSError):  # a full disk must not hide the error that stopped the run
                _write_marker(out_dir)
            raise
        _write_marker(out_dir)
        return result


def _check_device(device: str) -> None:
    """Refuse CUDA GPUs this machine lacks: one line instead of Ultralytics' traceback."""
    wanted = parse_device(device, "--device")
    if not wanted:
        return
    import torch

    have = torch.cuda.device_count()
    if any(int(i) >= have for i in wanted):
        seen = f"{have} CUDA GPU(s) (0-{have - 1})" if have else "no CUDA GPU"
        raise ConfigError(
            f"--device {device}: this machine has {seen}; use --device cpu, auto or an index it has"
        )


def _check_world(cfg: TrainConfig, world: World) -> None:
    """Under torchrun the batch is the global one: Ultralytics gives each rank ``batch // world_size``."""
    if not world.distributed:
        return
    if cfg.batch < world.size or cfg.batch % world.size:
        example = world.size * (max(1, round(cfg.batch / world.size)) if cfg.batch > 0 else 8)
        raise ConfigError(
            f"--batch {cfg.batch}: under torchrun ({world.size} processes) the batch is global and split "
            f"evenly; use a multiple of {world.size}, e.g. {example}"
        )


def _prepare_out(
    out_dir: Path, spec: DatasetSpec, weights: str, cfg: TrainConfig, resume_from: Path | None
) -> None:
    """Rank 0 (or the only process): check the inputs against ``out_dir`` and create it."""
    _guard_out(out_dir, spec, weights, cfg.overwrite)
    check_dataset_shape(spec)
    if resume_from is not None and not Path(resume_from).is_file():
        raise ConfigError(f"resume_from {resume_from}: checkpoint not found")
    out_dir.mkdir(parents=True, exist_ok=True)


def _guard_out(out_dir: Path, spec: DatasetSpec, weights: str, overwrite: bool) -> None:
    """Refuse an ``--out`` overlapping an input, or holding foreign files (``run/``, ``.state/`` are ours)."""
    local = Path(str(weights)).expanduser()
    inputs = [spec.root, spec.yaml_path, local if local.suffix == ".pt" and local.exists() else None]
    guard_out_dir(out_dir, inputs, overwrite=True)  # overlapping an input is refused even with --overwrite
    own = (f"{RUN_DIR}/", f"{STATE_DIR}/")
    foreign = [f for f in foreign_files(out_dir) if not f.startswith(own)]
    if foreign and not overwrite:
        raise ConfigError(
            f"--out {out_dir} holds {len(foreign)} file(s) this stage did not write (e.g. {foreign[0]}); "
            "choose an empty folder or pass --overwrite to train into it anyway"
        )


def _write_marker(out_dir: Path) -> None:
    """List train's files in ``OUTPUT_MARKER``: a re-run into ``out_dir`` is then allowed."""
    if not out_dir.is_dir():
        return
    own = (f"{RUN_DIR}/", f"{STATE_DIR}/")
    files = sorted(
        p.relative_to(out_dir).as_posix()
        for p in out_dir.rglob("*")
        if p.is_file()
        and (
            p.parent == out_dir
            and p.name in OUTPUT_FILES
            or p.relative_to(out_dir).as_posix().startswith(own)
        )
    )
    write_json_atomic(out_dir / OUTPUT_MARKER, {"files": files})


def _train_into(
    spec: DatasetSpec,
    weights: str,
    out_dir: Path,
    cfg: TrainConfig,
    hooks: tuple[CheckpointHook | None, LogsHook | None] | None,
    resume_from: Path | None,
    t0: float,
    world: World,
) -> TrainResult:
    """``train_model`` after the checks (``out_dir``: this rank's; ``hooks``: rank 0's, else None)."""
    on_checkpoint, on_logs = hooks or (None, None)
    resolved = resolve_weights(weights, out_dir / STATE_DIR / "fetched")

    from components._yolo import freeze, train  # heavy: torch + ultralytics
    from components._yolo.model import model_architecture

    run_dir = out_dir / RUN_DIR
    init_model, n_layers = _initial_model(resolved, len(spec.names))
    architecture = model_architecture(init_model)
    check_freeze(cfg.freeze, n_layers, "--freeze")
    if cfg.freeze and not resolved.is_checkpoint:
        log.warning(
            "freezing %d randomly initialised layers (--weights %s is an architecture)", cfg.freeze, weights
        )
    device = resolve_device(cfg.device)
    state_dir = out_dir / STATE_DIR
    identity = dataset_identity(spec)
    resume_ckpt = (
        _resume_point(run_dir, state_dir, cfg, resolved.spec, resume_from, identity)
        if world.is_main
        else None
    )
    if resume_ckpt is None and run_dir.exists():
        shutil.rmtree(run_dir)  # a fresh run must not inherit results.csv rows or checkpoints
    run_dir.mkdir(parents=True, exist_ok=True)
    started_at = float(_read_stage(state_dir / STAGE_FILE).get("started_at") or time.time())
    if resume_ckpt is None:
        started_at = time.time()
        stage = {
            "weights": resolved.spec,
            "config": cfg.to_dict(),
            "dataset": identity,
            "started_at": started_at,
        }
        write_json_atomic(state_dir / STAGE_FILE, stage)
    resume_ckpt = _share_resume_point(world, run_dir, resume_ckpt)
    data_resolved = resolve_dataset_yaml(spec.yaml_path, state_dir)

    watch = prefixes(cfg.freeze or BACKBONE_LAYERS)
    reference = freeze.watched_state(init_model.state_dict(), watch) if resolved.is_checkpoint else None
    recorder = freeze.TrainRecorder(
        run_dir=run_dir, watch=watch, frozen=cfg.freeze > 0, reference=reference, on_checkpoint=on_checkpoint
    )
    log.info(
        "train[%s]: %s from %s (%s), freeze=%d, %d epochs at %d px on %s%s%s",
        cfg.stage_name,
        spec.yaml_path,
        resolved.spec,
        architecture,
        cfg.freeze,
        cfg.epochs,
        cfg.imgsz,
        device,
        f", DDP rank {world.rank} of {world.size}" if world.distributed else "",
        f", resuming {resume_ckpt}" if resume_ckpt else "",
    )
    overrides = _overrides(cfg, device, processes=world.local_size if world.distributed else None)
    monitor = None
    if world.is_main:
        weights_names = list(getattr(init_model, "names", {}).values()) if resolved.is_checkpoint else []
        monitor = LiveMonitor(run_dir, stage=cfg.stage_name, freeze=cfg.freeze, started_at=started_at,
                              weights_names=weights_names, dataset_names=spec.names, on_logs=on_logs)  # fmt: skip
    run = train.train(
        data_yaml=data_resolved,
        run_dir=run_dir,
        model=init_model if resolved.is_checkpoint else None,
        model_arg=resolved.spec,
        arch=resolved.arch,
        overrides=overrides,
        recorder=recorder,
        resume_ckpt=resume_ckpt,
        on_epoch=monitor,
    )

    def conclude() -> TrainResult:  # rank 0: prove, report; the other ranks receive the result
        proof = _prove(run, recorder.reference or {}, cfg.freeze, out_dir)
        facts = {"architecture": architecture, "workers": overrides["workers"], "monitor": monitor}
        return _finish(
            run, out_dir, cfg, spec.names, resolved, device, proof, facts, time.perf_counter() - t0
        )

    return run_on_main(world, conclude)


def _share_resume_point(world: World, run_dir: Path, resume_ckpt: Path | None) -> Path | None:
    """Rank 0's resume decision on every rank (the others receive its ``last.pt`` and initial state)."""
    if not world.distributed:
        return resume_ckpt
    from components._yolo.ddp import share_files
    from components._yolo.freeze import INITIAL_STATE_NAME

    names = [f"weights/{LAST_PT}", INITIAL_STATE_NAME] if resume_ckpt is not None else []
    sent = share_files(run_dir, names)
    if world.is_main:
        return resume_ckpt
    return run_dir / "weights" / LAST_PT if f"weights/{LAST_PT}" in sent else None


def _initial_model(resolved: ResolvedWeights, nc: int) -> tuple[Any, int]:
    """The model whose weights the trainer starts from (or a scratch build, for counting layers)."""
    from components._yolo.model import build_model, layer_count, load_model

    if resolved.is_checkpoint:
        assert resolved.path is not None
        model, _ = load_model(resolved.path)
    else:
        assert resolved.arch is not None
        model = build_model(resolved.arch, nc)
    return model, layer_count(model)


def _overrides(cfg: TrainConfig, device: str, *, processes: int | None = None) -> dict[str, Any]:
    """Ultralytics' arguments for ``cfg``; ``processes`` share the CPUs (default: one per GPU)."""
    workers = cfg.workers
    if workers is None:
        if processes is None:
            processes = len(device.split(",")) if device not in ("", "cpu", "mps") else 1
        workers = default_workers(processes)
    base = {
        "epochs": cfg.epochs,
        "imgsz": cfg.imgsz,
        "batch": cfg.batch,
        "lr0": cfg.lr0,
        "lrf": cfg.lrf,
        "optimizer": cfg.optimizer,
        "momentum": cfg.momentum,
        "warmup_epochs": cfg.warmup_epochs,
        "device": device,
        "patience": cfg.patience,
        "seed": cfg.seed,
        "deterministic": True,
        "workers": workers,
        "cos_lr": cfg.cos_lr,
        "cache": "ram" if cfg.cache else False,
        "amp": cfg.amp,
        "freeze": cfg.freeze,
    }
    return {**base, **cfg.train_args}


def dataset_identity(spec: DatasetSpec) -> dict[str, Any]:
    """What a checkpoint must have been trained on to be resumed: ``{"names", "fingerprint"}``."""
    digest = hashlib.sha256(json.dumps(list(spec.names)).encode("utf-8"))
    for split in ("train", "val"):
        lst = spec.splits.get(split)
        entries = read_list(lst) if lst is not None and lst.is_file() else []
        digest.update(f"\n{split}:{len(entries)}\n".encode())
        for entry in entries:
            label = label_path(resolve_list_entry(lst, entry)) if lst is not None else None
            body = label.read_bytes() if label is not None and label.is_file() else b"<missing>"
            digest.update(f"{entry}\n{len(body)}\n".encode() + body)
    return {"names": list(spec.names), "fingerprint": digest.hexdigest()}


def dataset_mismatch(found: Mapping[str, Any] | None, expected: Mapping[str, Any]) -> str | None:
    """How the checkpoint's dataset ``found`` differs from ``expected`` (None: same, or not recorded).

    ``found`` has ``dataset_identity``'s keys, or ``names`` alone for a checkpoint that carries only those.
    """
    if not found:
        return None
    names = found.get("names")
    if names is not None and list(names) != list(expected["names"]):
        return f"classes {list(names)} differ from the dataset's {list(expected['names'])}"
    fingerprint = found.get("fingerprint")
    if fingerprint is not None and fingerprint != expected["fingerprint"]:
        return (
            f"dataset fingerprint {str(fingerprint)[:12]} differs from this dataset's "
            f"{expected['fingerprint'][:12]} (other images or labels)"
        )
    return None


def _refuse_foreign(where: str, problem: str, fix: str) -> None:
    raise ConfigError(f"{where} was trained on another dataset: {problem}; {fix}")


def _resume_point(
    run_dir: Path,
    state_dir: Path,
    cfg: TrainConfig,
    weights_spec: str,
    resume_from: Path | None,
    identity: Mapping[str, Any],
) -> Path | None:
    """The ``last.pt`` to continue, or None for a fresh run; ConfigError for another dataset's checkpoint."""
    from components._yolo.model import checkpoint_progress, copy_checkpoint

    last = run_dir / "weights" / LAST_PT
    if resume_from is not None:
        incoming = checkpoint_progress(Path(resume_from))
        local = checkpoint_progress(last) if last.is_file() else None
        if incoming is not None and (problem := dataset_mismatch({"names": incoming["names"]}, identity)):
            _refuse_foreign(
                f"resume_from {resume_from}",
                problem,
                "delete that checkpoint (or use another run id) to start fresh",
            )
        if incoming is None:
            log.warning("resume_from %s is not a resumable checkpoint; ignoring it", resume_from)
        elif local is None or local["epoch"] < incoming["epoch"]:
            copy_checkpoint(Path(resume_from), last)
            _restore_results_csv(run_dir / RESULTS_CSV, incoming["train_results"])
    if not (cfg.resume and last.is_file()):
        return None
    progress = checkpoint_progress(last)
    if progress is None:
        log.info("%s is finished or unreadable: starting a fresh run", last)
        return None
    stage = _read_stage(state_dir / STAGE_FILE)
    problem = dataset_mismatch(stage.get("dataset"), identity) or dataset_mismatch(
        {"names": progress["names"]}, identity
    )
    if problem:
        if cfg.overwrite:
            log.warning("%s was trained on another dataset (%s): --overwrite, starting fresh", last, problem)
            return None
        _refuse_foreign(
            f"{last} (an interrupted run in --out)",
            problem,
            "use a new --out, or pass --overwrite (or --no-resume) to discard it and start fresh",
        )
    wanted = _overrides(cfg, "")
    keys = dict.fromkeys([*RESUME_KEYS, *cfg.train_args])  # an extra argument must match too
    differ = [k for k in keys if str(progress["train_args"].get(k)) != str(wanted[k])]
    if stage and stage.get("weights") != weights_spec:
        differ.append("weights")
    if differ:
        log.warning("%s was trained with other %s: starting a fresh run", last, ", ".join(differ))
        return None
    if progress["epoch"] >= cfg.epochs:
        return None
    # Ultralytics appends an epoch's row to results.csv before it saves last.pt: a kill in between
    # leaves a row the checkpoint never saw. The rows stored inside the checkpoint are the ones to keep.
    _restore_results_csv(run_dir / RESULTS_CSV, progress["train_results"], replace=True)
    log.info("resuming %s after epoch %d of %d", last, progress["epoch"], cfg.epochs)
    return last


def _read_stage(path: Path) -> dict[str, Any]:
    try:
        stage = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stage if isinstance(stage, dict) else {}


def _restore_results_csv(path: Path, columns: Mapping[str, Sequence[Any]], *, replace: bool = False) -> None:
    """Rebuild results.csv from the checkpoint's copy: if missing (new pod), or with ``replace`` (a kill)."""
    if (path.is_file() and not replace) or not columns:
        return
    write_text_atomic(path, results_csv_text(columns))


def _prove(run: Any, reference: Mapping[str, Any], freeze: int, out_dir: Path) -> dict[str, Any]:
    """Check the frozen layers (freeze > 0) or measure how far the backbone moved (freeze = 0)."""
    import torch

    from components._yolo.freeze import compare_states, max_param_change
    from components._yolo.model import ULTRALYTICS_VERSION, checkpoint_state

    record = run.record
    if not record:
        raise YoloKfpError(f"{run.run_dir}: the training process left no record; see the log above")
    if freeze == 0:
        best = checkpoint_state(run.best)
        names = {k for k in reference if k.endswith((".weight", ".bias")) and "running" not in k}
        change = max_param_change({k: v.float() for k, v in best.items()}, reference, names)
        change_fp32 = float(record.get("backbone_change_fp32", 0.0))
        if max(change, change_fp32) == 0:
            log.warning(
                "freeze=0 but the backbone did not change: no optimizer step was taken (Ultralytics accumulates "
                "gradients to 64 images per step, and AMP skips steps whose gradients overflow); train longer"
            )
        return {
            "backbone_changed": max(change, change_fp32) > 0,
            "backbone_max_abs_change": change,
            "backbone_max_abs_change_fp32": change_fp32,
        }
    checks = {
        "trainer_start_vs_input": record["start_vs_input"],
        "final_fp32_model_vs_start": record.get("live_vs_start"),
        "final_ema_vs_start": record.get("ema_vs_start"),
        "best_pt_vs_input_fp16": compare_states(checkpoint_state(run.best), reference, torch.float16),
        "last_pt_vs_input_fp16": compare_states(checkpoint_state(run.last), reference, torch.float16),
    }
    if record.get("resumed"):
        checks["final_fp32_model_vs_start"] = checks["final_fp32_model_vs_start"] or {
            "identical": True,
            "tensors": 0,
        }
    failed = [name for name, c in checks.items() if not (c and c["identical"])]
    if record.get("watched_requires_grad"):
        failed.append(f"requires_grad left on: {', '.join(record['watched_requires_grad'])}")
    ranks = [_rank_proof(v) for v in record.get("ranks", [])]
    failed += [f"rank {r['rank']}: {name}" for r in ranks for name in r["failed"]]
    proof = {
        "frozen_verified": not failed,
        "frozen_checks": checks,
        "frozen_tensors": len(reference),
        "frozen_ranks": ranks,
    }
    if failed:
        write_json_atomic(out_dir / "frozen_check.json", proof)
        first: list[str] = next(
            (c["mismatched"][:2] for c in checks.values() if c and c.get("mismatched")), []
        )
        raise FrozenLayersChanged(
            f"freeze={freeze}: frozen layers changed or were not loaded ({'; '.join(failed)}; e.g. {first}); "
            f"details in {out_dir / 'frozen_check.json'} - check the Ultralytics version ({ULTRALYTICS_VERSION})"
        )
    return proof


def _rank_proof(verdict: Mapping[str, Any]) -> dict[str, Any]:
    """One rank's frozen-layer verdict on its own model: ``{rank, verified, failed, checks}``."""
    checks = {k: verdict.get(k) for k in ("start_vs_input", "live_vs_start", "ema_vs_start")}
    failed = [name for name, c in checks.items() if not (c and c.get("identical"))]
    if verdict.get("watched_requires_grad"):
        failed.append("requires_grad left on")
    return {"rank": int(verdict.get("rank", 0)), "verified": not failed, "failed": failed, "checks": checks}


def _finish(
    run: Any,
    out_dir: Path,
    cfg: TrainConfig,
    names: Sequence[str],
    resolved: ResolvedWeights,
    device: str,
    proof: Mapping[str, Any],
    facts: Mapping[str, Any],
    seconds: float,
) -> TrainResult:
    """Move the checkpoints up, plot, write the report and (last) metrics.json."""
    from components._yolo.freeze import param_counts
    from components._yolo.model import load_model, versions

    for src, dst in ((run.best, out_dir / BEST_PT), (run.last, out_dir / LAST_PT)):
        os.replace(src, dst)
    shutil.copyfile(run.results_csv, out_dir / ".results.csv.tmp")
    os.replace(out_dir / ".results.csv.tmp", out_dir / RESULTS_CSV)
    rows = read_results(out_dir / RESULTS_CSV)
    per_epoch = epoch_seconds(rows)
    record = run.record
    final: dict[str, Any] = record.get("final") or last_metrics(rows)
    total, frozen_params = param_counts(load_model(out_dir / BEST_PT)[0], prefixes(cfg.freeze))
    monitor = facts.get("monitor")
    previous = previous_stage(resolved.path) if resolved.is_checkpoint else None
    result = TrainResult(
        out_dir=out_dir,
        stage=cfg.stage_name,
        architecture=facts["architecture"],
        map50=float(final.get("map50", 0.0)),
        map50_95=float(final.get("map50_95", 0.0)),
        precision=float(final.get("precision", 0.0)),
        recall=float(final.get("recall", 0.0)),
        per_class=final.get("per_class", {}),
        epochs=int(rows[-1][EPOCH]) if rows else 0,
        epochs_this_run=int(record.get("epochs_run", 0)),
        resumed_from_epoch=record.get("start_epoch") if record.get("resumed") else None,
        seconds_per_epoch=round(sum(per_epoch) / len(per_epoch), 3) if per_epoch else 0.0,
        epoch_seconds=[round(s, 3) for s in per_epoch],
        seconds=round(seconds, 3),
        device=device,
        workers=facts["workers"],
        freeze=cfg.freeze,
        total_params=total,
        trainable_params=int(record.get("trainable_params", 0)),
        frozen_params=frozen_params,
        frozen_verified=proof.get("frozen_verified"),
        frozen_checks=proof.get("frozen_checks"),
        frozen_ranks=proof.get("frozen_ranks"),
        world_size=int(record.get("world_size", 1)),
        backbone_changed=proof.get("backbone_changed"),
        backbone_max_abs_change=proof.get("backbone_max_abs_change"),
        backbone_max_abs_change_fp32=proof.get("backbone_max_abs_change_fp32"),
        names=tuple(names),
        weights=resolved.to_dict(),
        config=cfg.to_dict(),
        versions=versions(),
        diagnosis=monitor.final_diagnosis(rows) if monitor is not None else [],
        tensorboard=str(out_dir / RUN_DIR / LOG_DIR),
        previous_stage=previous.to_dict() if previous is not None else None,
    )
    write_report(result.to_json(), rows, out_dir, previous)
    write_json_atomic(result.metrics_json, result.to_json())
    log.info(
        "train[%s]: %d epochs, mAP50-95 %.4f, mAP50 %.4f, %.2f s/epoch, %s in %.1fs -> %s",
        cfg.stage_name,
        result.epochs,
        result.map50_95,
        result.map50,
        result.seconds_per_epoch,
        "frozen layers verified"
        if result.frozen_verified
        else f"backbone max change {result.backbone_max_abs_change:.3g} (best.pt), "
        f"{result.backbone_max_abs_change_fp32:.3g} (fp32)",
        seconds,
        out_dir,
    )
    return result
