"""Resolve the training plan: the user's parameters, with ``auto`` filled in from the dataset stats.

The pipeline always runs two training tasks (frozen backbone, then fine-tune) so its DAG is static;
the strategy decides how the epoch budget is shared between them. A stage with 0 epochs passes its
input weights through unchanged, so all three strategies spend the same total number of epochs:

    two-stage  frozen: freeze=F, epochs_frozen, lr0       fine-tune: freeze=0, epochs_finetune, lr_finetune
    full       frozen: skipped (0 epochs)                 fine-tune: freeze=0, all epochs, lr0
    frozen     frozen: freeze=F, all epochs, lr0          fine-tune: skipped (0 epochs)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from components._shared.errors import ConfigError

STRATEGIES = ("two-stage", "full", "frozen")
MODEL_SIZES = ("n", "s", "m", "l", "x")
AUTO = "auto"


@dataclass(frozen=True)
class PlanRequest:
    """What the user asked for; ``auto`` / -1 mean "take it from the dataset statistics"."""

    weights: str = "yolov5{size}u.pt"
    model_size: str = AUTO
    strategy: str = AUTO
    freeze: int = 10
    epochs_frozen: int = -1
    epochs_finetune: int = -1
    lr0: float = 0.01
    lr_finetune: float = -1.0  # -1: lr0 (10x lower lost in the transfer study, docs/transfer.md)


@dataclass(frozen=True)
class TrainingPlan:
    """The resolved plan both training tasks follow."""

    weights: str
    model: str
    strategy: str
    freeze: int
    epochs_frozen: int
    epochs_finetune: int
    lr_frozen: float
    lr_finetune: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for reports and KFP metadata."""
        return asdict(self)


def _size_of(model: str) -> str:
    size = model.removeprefix("yolov5")[:1]
    if size not in MODEL_SIZES:
        raise ConfigError(f"model {model!r} is not a YOLOv5 size (use one of yolov5n/s/m/l/x)")
    return size


def resolve_plan(req: PlanRequest, recommended: Mapping[str, Any]) -> TrainingPlan:
    """Fill ``auto`` values of ``req`` from ``recommended`` (the stats stage's plan) and split the epochs.

    Args:
        req: the user's request.
        recommended: mapping with ``model``, ``freeze``, ``epochs_frozen``, ``epochs_finetune``,
            ``strategy`` and ``reason`` (``stats.json["recommended"]``).

    Raises:
        ConfigError: an unknown strategy or model size, or a negative epoch count other than -1.
    """
    strategy = recommended.get("strategy", "two-stage") if req.strategy == AUTO else req.strategy
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy {req.strategy!r} is not one of auto, {', '.join(STRATEGIES)}")
    size = _size_of(str(recommended.get("model", "yolov5s"))) if req.model_size == AUTO else req.model_size
    if size not in MODEL_SIZES:
        raise ConfigError(f"model_size {req.model_size!r} is not one of auto, {', '.join(MODEL_SIZES)}")
    for name in ("epochs_frozen", "epochs_finetune"):
        if getattr(req, name) < -1:
            raise ConfigError(f"{name}={getattr(req, name)} must be >= 0 (or -1 for auto)")
    e_frozen = int(recommended.get("epochs_frozen", 20)) if req.epochs_frozen == -1 else req.epochs_frozen
    e_fine = int(recommended.get("epochs_finetune", 20)) if req.epochs_finetune == -1 else req.epochs_finetune
    freeze = int(recommended.get("freeze", 10)) if req.freeze < 0 else req.freeze
    lr_fine = req.lr0 if req.lr_finetune <= 0 else req.lr_finetune
    total = e_frozen + e_fine
    if total < 1:
        raise ConfigError("epochs_frozen + epochs_finetune must be at least 1")
    if strategy == "two-stage" and (freeze == 0 or e_frozen == 0):
        strategy = "full"  # nothing to freeze: a frozen stage would be a no-op
    if strategy == "full":
        e_frozen, e_fine, lr_fine = 0, total, req.lr0
    elif strategy == "frozen":
        e_frozen, e_fine = total, 0
    reason = recommended.get("reason", "") if AUTO in (req.strategy, req.model_size) else "as requested"
    return TrainingPlan(
        weights=req.weights.replace("{size}", size),
        model=f"yolov5{size}u",
        strategy=strategy,
        freeze=freeze if strategy != "full" else 0,
        epochs_frozen=e_frozen,
        epochs_finetune=e_fine,
        lr_frozen=req.lr0,
        lr_finetune=lr_fine,
        reason=str(reason),
    )
