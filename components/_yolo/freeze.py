"""Training callbacks and the frozen-layer proof: bit-exact comparisons of watched tensors.

Every rank checks its own model; rank 0 writes all verdicts to ``train_record.json``.
"""

from __future__ import annotations

# Patches first: they set YOLO_OFFLINE before Ultralytics is imported.
from components._yolo import patches  # noqa: F401

# isort: split

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from ultralytics.models.yolo.detect import DetectionTrainer
from ultralytics.utils import RANK
from ultralytics.utils.torch_utils import unwrap_model

from components._shared.fsio import write_json_atomic
from components._yolo.ddp import gather_objects, group_size
from components._yolo.validate import final_metrics

RECORD_NAME = "train_record.json"  # written by the rank-0 training process into the run folder
INITIAL_STATE_NAME = "initial_state.pt"  # watched tensors at the start (architecture YAML inputs only)
# Our callback event, run by OfflineDetectionTrainer on every rank once training is over (Ultralytics'
# on_train_end runs on rank 0 only, so it cannot take part in a collective).
ALL_RANKS_END = "on_train_end_all_ranks"


def watched_state(state: Mapping[str, torch.Tensor], pre: Sequence[str]) -> dict[str, torch.Tensor]:
    """The tensors (parameters and buffers) of ``state`` under the given prefixes, copied to the CPU."""
    return {k: v.detach().clone().cpu() for k, v in state.items() if k.startswith(tuple(pre))}


def param_counts(model: torch.nn.Module, pre: Sequence[str]) -> tuple[int, int]:
    """(total parameters, parameters under the prefixes)."""
    total = sum(p.numel() for p in model.parameters())
    inside = sum(p.numel() for n, p in model.named_parameters() if n.startswith(tuple(pre)))
    return total, inside


def compare_states(
    actual: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], dtype: torch.dtype | None = None
) -> dict[str, Any]:
    """Bit-exact comparison of the expected keys (optionally cast to ``dtype``).

    Returns ``identical``, ``tensors``, ``max_abs_diff`` and up to five ``mismatched`` (or missing) keys.
    """
    mismatched: list[str] = []
    max_diff = 0.0
    for k, e in expected.items():
        a = actual.get(k)
        if a is None or a.shape != e.shape:
            mismatched.append(f"{k} (missing or reshaped)")
            max_diff = float("inf")
            continue
        a, e = a.detach().cpu(), e.detach().cpu()
        if dtype is not None and e.is_floating_point():
            a, e = a.to(dtype), e.to(dtype)
        if not torch.equal(a, e):
            mismatched.append(k)
            if e.is_floating_point() or a.is_floating_point():
                max_diff = max(max_diff, float((a.double() - e.double()).abs().max()))
            else:
                max_diff = max(max_diff, float((a.long() - e.long()).abs().max()))
    return {
        "identical": not mismatched,
        "tensors": len(expected),
        "max_abs_diff": max_diff,
        "mismatched": mismatched[:5],
    }


def max_param_change(
    actual: Mapping[str, torch.Tensor], reference: Mapping[str, torch.Tensor], param_names: set[str]
) -> float:
    """Largest absolute change of the named parameters that exist in both states."""
    change = 0.0
    for k in param_names:
        if k in actual and k in reference and actual[k].shape == reference[k].shape:
            a, r = actual[k].detach().cpu().double(), reference[k].detach().cpu().double()
            change = max(change, float((a - r).abs().max()))
    return change


@dataclass
class TrainRecorder:
    """Callbacks of the training processes: frozen-layer proof on every rank, final metrics, checkpoint hook.

    Attributes:
        watch: state-dict prefixes to watch (the frozen layers, or the backbone when nothing is frozen).
        reference: the input's watched tensors; None (an architecture YAML): the first start's, saved.
    """

    run_dir: Path
    watch: tuple[str, ...]
    frozen: bool
    reference: dict[str, torch.Tensor] | None = None
    on_checkpoint: Callable[[Path, int], None] | None = None
    record: dict[str, Any] = field(default_factory=dict)
    _start: dict[str, torch.Tensor] = field(default_factory=dict)

    def attach(self, trainer: DetectionTrainer) -> None:
        """Register the callbacks on an Ultralytics trainer."""
        trainer.add_callback("on_pretrain_routine_end", self.on_pretrain_routine_end)
        trainer.add_callback("on_model_save", self.on_model_save)
        trainer.add_callback("on_train_end", self.on_train_end)
        trainer.add_callback(ALL_RANKS_END, self.on_train_end_all_ranks)

    def on_pretrain_routine_end(self, trainer: DetectionTrainer) -> None:
        """Capture the watched tensors as built (or resumed), before the first step (every rank)."""
        model = unwrap_model(trainer.model)
        self._start = watched_state(model.state_dict(), self.watch)
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        frozen_grad = [n for n, p in model.named_parameters() if n.startswith(self.watch) and p.requires_grad]
        initial = self.run_dir / INITIAL_STATE_NAME
        if self.reference is None:
            if not trainer.resume and RANK in (-1, 0):
                torch.save(self._start, initial)
            self.reference = (
                torch.load(initial, weights_only=True) if initial.is_file() else dict(self._start)
            )
        # A resumed start comes from an fp16 checkpoint: compare it at that precision.
        start_vs_input = compare_states(
            self._start, self.reference, torch.float16 if trainer.resume else None
        )
        self.record = {
            "resumed": bool(trainer.resume),
            "start_epoch": int(trainer.start_epoch),
            "total_params": total,
            "trainable_params": trainable,
            "watched_requires_grad": frozen_grad[:5] if self.frozen else [],
            "start_vs_input": start_vs_input,
            "world_size": group_size(),
        }

    def on_model_save(self, trainer: DetectionTrainer) -> None:
        """Hand the freshly written ``last.pt`` to the checkpoint hook (e.g. an upload)."""
        if self.on_checkpoint is not None and RANK in (-1, 0):
            self.on_checkpoint(Path(trainer.last), int(trainer.epoch) + 1)

    def on_train_end(self, trainer: DetectionTrainer) -> None:
        """Compare the final fp32 model and EMA with the start; save the final validation's numbers."""
        if RANK not in (-1, 0):
            return
        self.record.update(self._compare(trainer))
        self.record["final"] = final_metrics(trainer)
        self.record["epochs_run"] = int(trainer.epoch) + 1 - int(self.record.get("start_epoch", 0))
        write_json_atomic(self.run_dir / RECORD_NAME, self.record)

    def _compare(self, trainer: DetectionTrainer) -> dict[str, Any]:
        """Final fp32 model and EMA vs the start: frozen layers bit-exact, else how far the backbone moved."""
        model = unwrap_model(trainer.model)
        ema = trainer.ema.ema.state_dict()
        if self.frozen:
            return {
                "live_vs_start": compare_states(model.state_dict(), self._start),
                "ema_vs_start": compare_states(ema, self._start),
            }
        # in fp32: best.pt is fp16, and a short fine-tune can move weights by less than an fp16 step
        names = {n for n, _ in model.named_parameters() if n.startswith(self.watch)}
        return {"backbone_change_fp32": max_param_change(ema, self.reference or self._start, names)}

    def rank_verdict(self, trainer: DetectionTrainer) -> dict[str, Any]:
        """This rank's own verdict on its final fp32 model and EMA."""
        return {
            "rank": max(RANK, 0),
            "start_vs_input": self.record.get("start_vs_input"),
            "watched_requires_grad": self.record.get("watched_requires_grad", []),
            **self._compare(trainer),
        }

    def on_train_end_all_ranks(self, trainer: DetectionTrainer) -> None:
        """Gather every rank's verdict into rank 0's ``train_record.json`` (``ranks``, ``world_size``)."""
        verdicts = gather_objects(self.rank_verdict(trainer))
        if verdicts is None or RANK not in (-1, 0):
            return
        self.record["world_size"] = len(verdicts)
        self.record["ranks"] = verdicts
        write_json_atomic(self.run_dir / RECORD_NAME, self.record)
