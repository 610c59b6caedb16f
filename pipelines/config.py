"""Pipeline defaults and task resources: the single source of truth for parameters.

``PipelineParams`` holds the pipeline's parameter defaults (the compiled YAML carries them); a YAML
parameters file overrides them (``load_params``), and CLI flags override the file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from components._shared.errors import ConfigError

SECRET_WORDS = ("secret", "password", "access_key", "token")


@dataclass(frozen=True)
class PipelineParams:
    """Every parameter of the yolo-transfer pipeline, with cluster defaults that work."""

    source: str = "s3://datasets/voc/"
    classes: str = ""
    include_difficult: bool = False
    weights: str = "s3://models/pretrained/yolov5{size}u.pt"
    model_size: str = "auto"
    strategy: str = "auto"
    imgsz: int = 640
    batch: int = 16
    freeze: int = 10
    epochs_frozen: int = -1
    epochs_finetune: int = -1
    lr0: float = 0.01
    lr_finetune: float = -1.0
    warmup_epochs: float = 3.0
    warmup_finetune: float = 0.0
    val: float = 0.2
    test: float = 0.0
    group: str = ""
    seed: int = 0
    gpus: int = 1
    accelerator: str = "nvidia.com/gpu"
    node_selector: dict = field(default_factory=dict)
    min_map50_95: float = 0.2
    publish_dest: str = "s3://models/yolo-transfer"
    checkpoint_root: str = "s3://runs/checkpoints"

    def to_dict(self) -> dict[str, Any]:
        """Parameters as the flat dict KFP takes."""
        return asdict(self)


def load_params(
    path: Path | None, overrides: dict[str, Any] | None = None, base: PipelineParams | None = None
) -> PipelineParams:
    """Defaults <- YAML/JSON file <- overrides (``None`` values in overrides are ignored).

    Raises:
        ConfigError: unknown key, secret-looking key, or a file that is not a mapping.
    """
    values = (base or PipelineParams()).to_dict()
    known = {f.name for f in fields(PipelineParams)}
    layers: list[dict[str, Any]] = []
    if path is not None:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"{path}: cannot read parameters file ({err.__class__.__name__})") from err
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: parameters file must be a mapping of name: value")
        layers.append(data)
    layers.append({k: v for k, v in (overrides or {}).items() if v is not None})
    for layer in layers:
        for key, value in layer.items():
            if any(w in key.lower() for w in SECRET_WORDS):
                raise ConfigError(
                    f"parameter {key!r} looks like a secret: secrets come only from the Kubernetes Secret"
                )
            if key not in known:
                raise ConfigError(f"unknown pipeline parameter {key!r} (known: {', '.join(sorted(known))})")
            values[key] = value
    return PipelineParams(**values)


@dataclass(frozen=True)
class Resources:
    """CPU/memory requests and limits of one kind of task (and /dev/shm size for GPU tasks)."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    shm: str = "2Gi"


DATA = Resources("500m", "2", "1Gi", "4Gi")  # convert, split, stats, ingest, publish, fetch
EXPORT = Resources("2", "4", "4Gi", "8Gi")  # ONNX export and ONNX Runtime validation (CPU)
TRAIN = Resources("4", "8", "16Gi", "32Gi", shm="8Gi")  # training and GPU validation
