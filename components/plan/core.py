"""The training plan, chosen from the dataset size unless the user said otherwise (rules: ``README.md``)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from components._shared.dataset import DatasetSpec, load_dataset, read_list
from components._shared.errors import ConfigError
from components._shared.fsio import guard_out_dir, staged_dir, write_json_atomic, write_text_atomic
from components._shared.weights import resolve_weights, weights_digest, weights_exist, weights_folder
from components._yolo.layers import BACKBONE_LAYERS
from components._yolo.preflight import check_training_setup, checkpoint_layers

log = logging.getLogger(__name__)

AUTO = "auto"
STRATEGIES = ("two-stage", "full", "frozen")
MODEL_SIZES = ("n", "s", "m", "l", "x")
FINETUNE_SHARE = 0.75  # share of a two-stage plan's epochs that train the whole model (docs/transfer.md)
SATURATE = 50_000  # train images at which the table's last row reaches its upper end
PLAN_JSON = "plan.json"
PLAN_MD = "plan.md"
SIZE_FIELD = "{size}"  # in ``weights``: replaced by the chosen model size
FROM_CHECKPOINT = "from checkpoint"  # ``Plan.model`` when ``weights`` names one file (no ``{size}``)
NEAREST = "auto (nearest present)"  # ``Plan.chosen["model_size"]`` when the table's size has no weights
WEIGHTS_DOC = "components/plan/README.md, 'Pretrained weights'"

Strategy = Literal["two-stage", "full", "frozen"]


@dataclass(frozen=True)
class Recommendation:
    """One row of the table for a number of training images (``epochs = epochs_frozen + epochs_finetune``)."""

    model: str
    freeze: int
    epochs: int
    epochs_frozen: int
    epochs_finetune: int
    strategy: Strategy
    reason: str


@dataclass(frozen=True)
class PlanRequest:
    """What the user asked for (the plan stage's config; the pipeline parameters derive from it).

    Attributes:
        weights: pretrained weights (path, ``s3://`` URI or architecture YAML); ``{size}``: the chosen size.
        model_size: ``n``, ``s``, ``m``, ``l``, ``x`` or ``auto``; ignored when ``weights`` has no ``{size}``.
        strategy: ``two-stage``, ``full``, ``frozen`` or ``auto``.
        freeze: layers frozen in the first stage, or ``None`` for auto.
        epochs_frozen: epochs of the frozen stage; -1 for auto.
        epochs_finetune: epochs of the fine-tune stage; -1 for auto.
        lr0: learning rate of the frozen stage (and of a ``full`` plan).
        lr_finetune: learning rate of the fine-tune stage; -1 for lr0 (``docs/transfer.md``).
        imgsz: training image size (checked here, before any GPU time).
        train_args: further Ultralytics training arguments of both stages (checked here).
    """

    weights: str = "s3://models/pretrained/yolov5{size}u.pt"
    model_size: str = AUTO
    strategy: str = AUTO
    freeze: int | None = None
    epochs_frozen: int = -1
    epochs_finetune: int = -1
    lr0: float = 0.01
    lr_finetune: float = -1.0
    imgsz: int = 640
    train_args: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (``freeze`` None shown as ``auto``)."""
        d = asdict(self)
        d["freeze"] = AUTO if self.freeze is None else self.freeze
        return d


@dataclass(frozen=True)
class Plan:
    """The resolved plan both training tasks follow (``plan.json`` ``plan``; fields in the README)."""

    weights: str
    model: str
    strategy: Strategy
    freeze: int
    epochs_frozen: int
    epochs_finetune: int
    lr_frozen: float
    lr_finetune: float
    train_images: int
    chosen: dict[str, str] = field(default_factory=dict)
    recommended: Recommendation | None = None
    reason: str = ""
    sizes_present: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``plan.json`` and KFP metadata."""
        return asdict(self)


@dataclass(frozen=True)
class PlanResult:
    """What ``plan_training`` wrote: the plan, its two files, the weights' cache key and the launcher's GPUs."""

    plan: Plan
    out_dir: Path
    plan_json: Path
    plan_md: Path
    weights_digest: str = ""
    launcher_gpus: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the CLI's JSON summary (paths as strings)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


def launcher_gpus(gpus: int, nodes: int) -> int:
    """GPUs the training task's own pod requests: ``gpus`` on one node, none when it launches a TrainJob."""
    return gpus if nodes <= 1 else 0


def _lerp(lo: float, hi: float, t: float) -> int:
    return math.floor(lo + (hi - lo) * min(max(t, 0.0), 1.0) + 0.5)


def recommend(n_train_images: int) -> Recommendation:
    """The table's row (README) for ``n_train_images`` training images; ConfigError when negative."""
    n = n_train_images
    if n < 0:
        raise ConfigError(f"n_train_images={n} must be >= 0")
    half = BACKBONE_LAYERS // 2
    if n < 1000:
        model, freeze, epochs = "yolov5s", BACKBONE_LAYERS, _lerp(30, 50, n / 1000)
        why = "small dataset: small model, backbone frozen so the pretrained features are not overfitted"
        row = "< 1000"
    elif n <= 5000:
        t = (n - 1000) / 4000
        model, freeze, epochs = "yolov5m", _lerp(BACKBONE_LAYERS, half, t), _lerp(50, 80, t)
        why = "medium dataset: medium model, part of the backbone frozen"
        row = "1000-5000"
    else:
        t = (n - 5000) / (SATURATE - 5000)
        model, freeze, epochs = "yolov5l", _lerp(half, 0, t), _lerp(80, 150, t)
        why = "large dataset: large model, little or no freezing"
        row = "> 5000"
    if freeze > 0:
        strategy: Strategy = "two-stage"
        finetune = _lerp(0, epochs, FINETUNE_SHARE)
        frozen = epochs - finetune
    else:
        strategy, frozen, finetune = "full", 0, epochs
    reason = f"{n} train images ({row}): {model}, freeze {freeze}, {epochs} epochs, {strategy}; {why}"
    return Recommendation(model, freeze, epochs, frozen, finetune, strategy, reason)


def parse_freeze(value: str | int | None) -> int | None:
    """``auto``/empty/None/-1 -> None (auto), else a non-negative layer count (ConfigError otherwise)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", AUTO, "-1")):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(
            f"freeze={value!r} must be 'auto' or a number of layers (0-{BACKBONE_LAYERS}+)"
        ) from err
    if n == -1:
        return None
    if n < 0:
        raise ConfigError(f"freeze={n} must be >= 0 ('auto' or -1 for the table's choice)")
    return n


def _check(req: PlanRequest) -> None:
    if req.strategy not in (AUTO, *STRATEGIES):
        raise ConfigError(f"strategy {req.strategy!r} is not one of auto, {', '.join(STRATEGIES)}")
    if req.model_size not in (AUTO, *MODEL_SIZES):
        raise ConfigError(f"model_size {req.model_size!r} is not one of auto, {', '.join(MODEL_SIZES)}")
    for name in ("epochs_frozen", "epochs_finetune"):
        if getattr(req, name) < -1:
            raise ConfigError(f"{name}={getattr(req, name)} must be >= 0 (or -1 for auto)")
    if req.freeze is not None and req.freeze < 0:
        raise ConfigError(f"freeze={req.freeze} must be >= 0 (or auto)")
    if req.lr0 <= 0:
        raise ConfigError(f"lr0={req.lr0} must be > 0")


def weights_for(template: str, size: str) -> str:
    """``template`` with ``{size}`` replaced: ``s3://m/yolov5{size}u.pt``, ``s`` -> ``s3://m/yolov5su.pt``."""
    return template.replace(SIZE_FIELD, size)


def sizes_with_weights(template: str) -> list[str]:
    """The model sizes whose weights file exists at ``template`` (stat only, no download)."""
    found = weights_exist([weights_for(template, s) for s in MODEL_SIZES])
    return [s for s in MODEL_SIZES if found[weights_for(template, s)]]


def _missing_weights(template: str, sizes: tuple[str, ...] | list[str]) -> str:
    names = ", ".join(Path(weights_for(template, s)).name for s in sizes)
    where = weights_folder(weights_for(template, sizes[0]))
    return f"upload {'one of ' if len(sizes) > 1 else ''}{names} to {where} (see {WEIGHTS_DOC})"


def _pick_size(req: PlanRequest, table_size: str, present: list[str] | None) -> tuple[str, str, str]:
    """The model size, how it was chosen, and a note for the reason; ConfigError without weights."""
    if req.model_size != AUTO:
        if present is not None and req.model_size not in present:
            others = f"present: {', '.join(present)}" if present else "no size is present"
            raise ConfigError(
                f"model_size={req.model_size}: no weights at {weights_for(req.weights, req.model_size)} "
                f"({others}); {_missing_weights(req.weights, (req.model_size,))}, or use model_size=auto"
            )
        return req.model_size, "requested", ""
    if present is None or table_size in present:
        return table_size, AUTO, ""
    if not present:
        raise ConfigError(f"no weights at {req.weights}: {_missing_weights(req.weights, MODEL_SIZES)}")
    order = MODEL_SIZES.index(table_size)
    size = min(present, key=lambda s: (abs(MODEL_SIZES.index(s) - order), MODEL_SIZES.index(s)))
    note = (
        f"the table's size {table_size} has no weights at {weights_for(req.weights, table_size)}: "
        f"nearest present size {size} (present: {', '.join(present)})"
    )
    return size, NEAREST, note


def resolve_plan(req: PlanRequest, train_images: int, *, sizes_present: list[str] | None = None) -> Plan:
    """Fill the ``auto`` values of ``req`` from the table's row for ``train_images`` and share the epochs.

    ``sizes_present``: sizes whose weights exist (``sizes_with_weights``); None: every size.
    """
    _check(req)
    rec = recommend(train_images)
    notes = []
    templated = SIZE_FIELD in req.weights
    table_size = rec.model.removeprefix("yolov5")[:1]
    if templated:
        size, size_chosen, note = _pick_size(req, table_size, sizes_present)
        weights = weights_for(req.weights, size)
        model = Path(weights).stem
        notes += [note] if note else []
    else:
        size_chosen, weights, model = FROM_CHECKPOINT, req.weights, FROM_CHECKPOINT
        if req.model_size != AUTO:
            notes.append(f"model_size={req.model_size} ignored: weights has no {SIZE_FIELD}")
    chosen = {
        "model_size": size_chosen,
        "strategy": AUTO if req.strategy == AUTO else "requested",
        "freeze": AUTO if req.freeze is None else "requested",
        "epochs_frozen": AUTO if req.epochs_frozen == -1 else "requested",
        "epochs_finetune": AUTO if req.epochs_finetune == -1 else "requested",
        "lr_finetune": AUTO if req.lr_finetune <= 0 else "requested",
    }
    strategy: Strategy = rec.strategy if req.strategy == AUTO else req.strategy  # type: ignore[assignment]
    e_frozen = rec.epochs_frozen if req.epochs_frozen == -1 else req.epochs_frozen
    e_fine = rec.epochs_finetune if req.epochs_finetune == -1 else req.epochs_finetune
    freeze = rec.freeze if req.freeze is None else req.freeze
    lr_fine = req.lr0 if req.lr_finetune <= 0 else req.lr_finetune
    total = e_frozen + e_fine
    if total < 1:
        raise ConfigError("epochs_frozen + epochs_finetune must be at least 1")
    if strategy == "two-stage" and (freeze == 0 or e_frozen == 0):
        strategy = "full"  # nothing to freeze: a frozen stage would be a no-op
        notes.append("two-stage with nothing frozen becomes full")
    if strategy == "full":
        e_frozen, e_fine, lr_fine, freeze = 0, total, req.lr0, 0
    elif strategy == "frozen":
        e_frozen, e_fine = total, 0
    auto = [k for k, v in chosen.items() if v == AUTO]
    why = f"auto ({', '.join(auto)}) from the table: {rec.reason}" if auto else "everything as requested"
    reason = f"{strategy}, freeze {freeze}, {e_frozen}+{e_fine} epochs, {model}; {why}"
    if notes:
        reason += "; " + "; ".join(notes)
    return Plan(
        weights=weights,
        model=model,
        strategy=strategy,
        freeze=freeze,
        epochs_frozen=e_frozen,
        epochs_finetune=e_fine,
        lr_frozen=req.lr0,
        lr_finetune=lr_fine,
        train_images=train_images,
        chosen=chosen,
        recommended=rec,
        reason=reason,
        sizes_present=list(sizes_present or []) if templated else [],
    )


def render_markdown(plan: Plan, request: PlanRequest) -> str:
    """The plan as the Kubeflow UI shows it: what was chosen, from where, and why."""
    rec = plan.recommended
    rows = [
        ("model", plan.model, request.model_size, rec.model if rec else "", plan.chosen.get("model_size")),
        ("strategy", plan.strategy, request.strategy, rec.strategy if rec else "", plan.chosen.get("strategy")),
        ("freeze", plan.freeze, request.to_dict()["freeze"], rec.freeze if rec else "", plan.chosen.get("freeze")),
        ("epochs frozen", plan.epochs_frozen, request.epochs_frozen, rec.epochs_frozen if rec else "",
         plan.chosen.get("epochs_frozen")),
        ("epochs fine-tune", plan.epochs_finetune, request.epochs_finetune, rec.epochs_finetune if rec else "",
         plan.chosen.get("epochs_finetune")),
        ("lr frozen", plan.lr_frozen, request.lr0, "", "requested"),
        ("lr fine-tune", plan.lr_finetune, request.lr_finetune, "lr0", plan.chosen.get("lr_finetune")),
    ]  # fmt: skip
    lines = [
        "# Training plan",
        "",
        f"**{plan.reason}**",
        "",
        f"Weights: `{plan.weights}`{_present_note(plan, request)}. Training images: {plan.train_images}.",
        "",
        "| decision | used | requested | table | chosen by |",
        "|---|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows),
        "",
        "`auto` (or -1) takes the table's value; an explicit value always wins (`components/plan/README.md`).",
    ]
    return "\n".join(lines) + "\n"


def _present_note(plan: Plan, request: PlanRequest) -> str:
    if SIZE_FIELD not in request.weights:
        return " (the architecture is the checkpoint's own; the training report names it)"
    if not plan.sizes_present:
        return ""
    return f" (sizes with weights at `{request.weights}`: {', '.join(plan.sizes_present)})"


def count_train_images(spec: DatasetSpec) -> int:
    """Distinct images listed in the dataset's train split (0 when it has none)."""
    lst = spec.splits.get("train")
    return len(set(read_list(lst))) if lst is not None else 0


def plan_training(
    data_yaml: Path,
    out_dir: Path,
    request: PlanRequest = PlanRequest(),  # noqa: B008
    *,
    overwrite: bool = False,
    resources: Mapping[str, Any] | None = None,
) -> PlanResult:
    """Resolve the training plan for a split dataset and write ``plan.json`` and ``plan.md`` into ``out_dir``.

    ``resources`` (``gpus``, ``nodes``, ``accelerator``...) is recorded in ``plan.json`` and shown in ``plan.md``.
    ConfigError, DatasetError or StorageError for a bad request, ``out_dir``, dataset, weights or store.
    """
    _check(request)
    spec = load_dataset(Path(data_yaml))
    out_dir = Path(out_dir)
    guard_out_dir(out_dir, [spec.root], overwrite=overwrite)
    present = _check_weights(request)
    plan = resolve_plan(request, count_train_images(spec), sizes_present=present)
    _preflight(plan, request, spec)
    res = dict(resources or {})
    digest = weights_digest(plan.weights)
    task_gpus = launcher_gpus(int(res.get("gpus", 0)), int(res.get("nodes", 1)))
    with staged_dir(out_dir) as tmp:
        view = render_markdown(plan, request)
        if res:
            view += "\nTraining tasks run on: " + ", ".join(f"{k} {v}" for k, v in res.items()) + ".\n"
        write_text_atomic(tmp / PLAN_MD, view)
        record = {"request": request.to_dict(), "plan": plan.to_dict(), "resources": res,
                  "weights_digest": digest, "launcher_gpus": task_gpus}  # fmt: skip
        write_json_atomic(tmp / PLAN_JSON, record)
    log.info("plan: %s", plan.reason)
    return PlanResult(plan=plan, out_dir=out_dir, plan_json=out_dir / PLAN_JSON, plan_md=out_dir / PLAN_MD,
                      weights_digest=digest, launcher_gpus=task_gpus)  # fmt: skip


def _preflight(plan: Plan, request: PlanRequest, spec: DatasetSpec) -> None:
    """What ``train`` would refuse, refused here (CPU, not retried), freeze depth checked against the checkpoint."""
    layers = _layers(plan.weights) if plan.freeze and plan.epochs_frozen else None
    check_training_setup(
        freeze=plan.freeze, imgsz=request.imgsz, train_args=request.train_args, layers=layers, spec=spec
    )


def _layers(weights: str) -> int | None:
    """The layer count of the checkpoint ``weights`` names (None: an architecture YAML, or unreadable)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="yolo-kfp-plan-") as tmp:
        resolved = resolve_weights(weights, Path(tmp))
        if not resolved.is_checkpoint or resolved.path is None:
            return None
        return checkpoint_layers(resolved.path)


def _check_weights(request: PlanRequest) -> list[str] | None:
    """The sizes whose weights exist (``{size}`` weights), or None after checking that the one file exists."""
    if SIZE_FIELD in request.weights:
        return sizes_with_weights(request.weights)
    if not weights_exist([request.weights])[request.weights]:
        raise ConfigError(
            f"weights {request.weights}: not found; upload the checkpoint there or pass another path or URI "
            f"(see {WEIGHTS_DOC})"
        )
    return None
