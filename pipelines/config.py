"""Pipeline parameters (defaults from the stage configs, overridden by a file, then flags) and task resources."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from components._shared.errors import ConfigError
from components._shared.safe_yaml import read_user_yaml
from components.convert.core import ConvertConfig
from components.plan.core import AUTO, PlanRequest
from components.split.core import SplitConfig
from components.train.core import TrainConfig
from components.validate.gate import GatePolicy

SECRET_WORDS = ("secret", "password", "passwd", "access_key", "token", "credential")
PIPELINE_NAME = "yolo-transfer"
PARAMS_DIR = Path(__file__).resolve().parent / "params"
LOCAL_PARAMS = PARAMS_DIR / "local.yaml"  # what run-local (the demo) changes from the defaults below

_CONVERT, _SPLIT, _PLAN, _TRAIN, _GATE = (
    ConvertConfig(),
    SplitConfig(),
    PlanRequest(),
    TrainConfig(),
    GatePolicy(),
)


@dataclass(frozen=True)
class PipelineParams:
    """Every parameter of the yolo-transfer pipeline, with cluster defaults that work."""

    source: str = "s3://datasets/voc/"
    classes: str = ""
    include_difficult: bool = _CONVERT.include_difficult
    weights: str = _PLAN.weights
    model_size: str = _PLAN.model_size
    strategy: str = _PLAN.strategy
    imgsz: int = _TRAIN.imgsz
    batch: int = _TRAIN.batch
    freeze: str = AUTO if _PLAN.freeze is None else str(_PLAN.freeze)
    epochs_frozen: int = _PLAN.epochs_frozen
    epochs_finetune: int = _PLAN.epochs_finetune
    lr0: float = _PLAN.lr0
    lr_finetune: float = _PLAN.lr_finetune
    warmup_epochs: float = _TRAIN.warmup_epochs
    warmup_finetune: float = 0.0  # the recipe's fine-tune stage starts at full rate (docs/transfer.md)
    val: float = _SPLIT.val
    test: float = _SPLIT.test
    group: str = _SPLIT.group or ""
    seed: int = _SPLIT.seed
    gpus: int = 1
    nodes: int = 1  # >1: a Kubeflow Trainer TrainJob per training task (components/train)
    accelerator: str = "nvidia.com/gpu"
    node_selector: dict = field(default_factory=dict)
    train_args: dict = field(default_factory=dict)
    min_map50_95: float = 0.2  # the pipeline's floor; a bare `yolo-kfp validate` has none
    champion_tolerance: float = _GATE.champion_tolerance
    class_tolerance: float = _GATE.class_tolerance
    allow_class_change: bool = _GATE.allow_class_change
    publish_dest: str = "s3://models/yolo-transfer"
    checkpoint_root: str = "s3://runs/checkpoints"

    def to_dict(self) -> dict[str, Any]:
        """Parameters as the flat dict KFP takes."""
        return asdict(self)


def check_not_secret(key: str, where: str = "parameter") -> None:
    """Refuse a parameter name that looks like a credential: secrets come only from the Kubernetes Secret."""
    if any(w in key.lower() for w in SECRET_WORDS):
        raise ConfigError(
            f"{where} {key!r} looks like a secret: secrets come only from the Kubernetes Secret"
        )


def _coerce(key: str, value: Any, default: Any, where: str) -> Any:
    """``value`` as the parameter's type (a YAML ``freeze: 8`` is the string "8"), or ConfigError."""
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif isinstance(default, str):
        ok = isinstance(value, str | int) and not isinstance(value, bool)
        value = str(value) if ok else value
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(f"{where}: parameter {key!r} must be {type(default).__name__}, got {value!r}")
    return value


def read_params_file(path: Path) -> dict[str, Any]:
    """The mapping in a YAML/JSON parameters file (unchecked), read in bounded time and memory."""
    data = read_user_yaml(Path(path)) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: parameters file must be a mapping of name: value")
    return data


def load_params(
    path: Path | None, overrides: dict[str, Any] | None = None, base: PipelineParams | None = None
) -> PipelineParams:
    """Defaults <- YAML/JSON file <- overrides (``None`` ignored); ConfigError for unknown or mistyped keys."""
    defaults = PipelineParams().to_dict()
    values = (base or PipelineParams()).to_dict()
    layers: list[tuple[str, dict[str, Any]]] = []
    if path is not None:
        layers.append((str(path), read_params_file(path)))
    layers.append(("overrides", {k: v for k, v in (overrides or {}).items() if v is not None}))
    for where, layer in layers:
        for key, value in layer.items():
            check_not_secret(str(key))
            if key not in defaults:
                raise ConfigError(
                    f"{where}: unknown pipeline parameter {key!r} (known: {', '.join(sorted(defaults))})"
                )
            values[key] = _coerce(key, value, defaults[key], where)
    return PipelineParams(**values)


def local_defaults() -> dict[str, Any]:
    """What the demo (``run-local``) changes from the cluster defaults: ``pipelines/params/local.yaml``."""
    data = read_params_file(LOCAL_PARAMS)
    load_params(None, data)  # checked like any parameters file
    return data


@dataclass(frozen=True)
class Resources:
    """CPU/memory requests and limits of one kind of task (and /dev/shm size for GPU tasks)."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    shm: str = "2Gi"


@dataclass(frozen=True)
class WorkspaceSettings:
    """The run workspace (one PVC per run): compile-time constants (docs/kubeflow.md)."""

    size: str = "50Gi"
    storage_class: str = ""
    access_modes: tuple[str, ...] = ("ReadWriteMany",)

    def pvc_spec_patch(self) -> dict[str, Any]:
        """The ``pvcSpecPatch`` of ``dsl.KubernetesWorkspaceConfig``."""
        patch: dict[str, Any] = {"accessModes": list(self.access_modes)}
        if self.storage_class:
            patch["storageClassName"] = self.storage_class
        return patch


WORKSPACE = WorkspaceSettings()

DATA = Resources("500m", "2", "1Gi", "4Gi")  # convert, split, stats, ingest, publish, fetch
EXPORT = Resources("2", "4", "4Gi", "8Gi")  # ONNX export and ONNX Runtime validation (CPU)
TRAIN = Resources("4", "8", "16Gi", "32Gi", shm="8Gi")  # training and GPU validation


@dataclass(frozen=True)
class RetrySettings:
    """Retries of the GPU tasks (a preempted pod resumes from its last checkpoint).

    Argo's ``backoff.maxDuration`` is a deadline from the *first* attempt's start (argoproj/argo-workflows#13044),
    so it is derived from ``attempt_budget_s``.
    """

    num_retries: int = 3
    backoff_s: int = 60
    factor: float = 2.0
    attempt_budget_s: int = 48 * 3600

    def waits_s(self) -> list[float]:
        """The waits before each retry."""
        return [self.backoff_s * self.factor**i for i in range(self.num_retries)]

    def max_duration_s(self) -> int:
        """Argo's deadline: every attempt at its full budget plus every wait fits inside it."""
        return int((self.num_retries + 1) * self.attempt_budget_s + sum(self.waits_s()))


RETRY = RetrySettings()
# Argo deletes a failed run's Workflow (and with it the workspace PVC it owns) this long after it
# ended; Argo's volumeClaimGC alone deletes the PVC only when the run succeeded (OnWorkflowSuccess).
FAILED_RUN_TTL_S = 3 * 24 * 3600
