"""The training image's pipeline tasks: fetch the pretrained weights, and one training stage.

These are what ``components/train/component.py`` calls: they turn KFP artifact folders into the
arguments of ``train_model`` and add what only a pipeline run needs (pass-through of a 0-epoch
stage, checkpoints under ``checkpoint_root/<run-id>/<stage>/`` that survive a preempted pod).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from components._shared.artifacts import ARCH_FILE, BEST_PT, weights_in
from components._shared.fsio import link_or_copy, write_json_atomic, write_text_atomic
from components._shared.report import escape, html_page
from components._shared.weights import resolve_weights
from components._yolo.pickles import check_pickle
from components.train.core import TrainConfig, TrainResult, train_model

log = logging.getLogger(__name__)


def fetch_weights(spec: str, out_dir: Path) -> dict[str, Any]:
    """Resolve ``spec`` (path, ``s3://`` URI or architecture YAML) into the folder ``out_dir``.

    Returns:
        Metadata for the model artifact (what the weights are and where they came from).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    resolved = resolve_weights(spec, out_dir / ".fetched")
    if resolved.is_checkpoint and resolved.path is not None:
        check_pickle(resolved.path)  # a crafted checkpoint is refused here, before any stage (no torch here)
        target = out_dir / (resolved.path.name if resolved.path.suffix == ".pt" else "weights.pt")
        if resolved.path.resolve() != target.resolve():
            link_or_copy(resolved.path, target)
    elif resolved.path is not None:
        shutil.copyfile(resolved.path, out_dir / resolved.path.name)
    else:
        write_text_atomic(out_dir / ARCH_FILE, f"{resolved.arch}\n")
    shutil.rmtree(out_dir / ".fetched", ignore_errors=True)
    log.info("weights %s -> %s (%s)", spec, out_dir, resolved.kind)
    return {"framework": "pytorch", "source": spec, "kind": resolved.kind}


def run_training_stage(
    dataset_dir: Path,
    init_weights: Path,
    out_dir: Path,
    cfg: TrainConfig,
    checkpoint_root: str = "",
    run_id: str = "",
) -> TrainResult:
    """Train one stage of the pipeline (``cfg.epochs == 0``: pass ``init_weights`` through unchanged).

    With ``checkpoint_root`` (``s3://bucket/prefix`` or a folder) and ``run_id``, ``last.pt`` is mirrored to
    ``<root>/<run_id>/<stage>/`` after every epoch, and a retried task (preempted pod) resumes from it,
    ending with exactly ``cfg.epochs`` epochs.
    """
    out_dir = Path(out_dir)
    spec = weights_in(Path(init_weights))
    if cfg.epochs == 0:
        return _pass_through(Path(init_weights), spec, out_dir, cfg)
    sync = resume_from = None
    if checkpoint_root and run_id:
        from components.train.checkpoints import CheckpointSync

        sync = CheckpointSync(f"{checkpoint_root.rstrip('/')}/{run_id}/{cfg.stage_name}/")
        with tempfile.TemporaryDirectory(prefix="ckpt-") as tmp:
            restored = Path(tmp) / "last.pt"
            resume_from = restored if sync.restore(restored) else None
            return train_model(dataset_dir, spec, out_dir, cfg, on_checkpoint=sync, resume_from=resume_from)
    return train_model(dataset_dir, spec, out_dir, cfg)


def _pass_through(init_weights: Path, spec: str, out_dir: Path, cfg: TrainConfig) -> TrainResult:
    """A skipped stage (strategy ``full`` or ``frozen``): copy the weights, say so in the reports."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for item in init_weights.iterdir() if init_weights.is_dir() else [init_weights]:
        if item.is_file() and (item.suffix in (".pt", ".yaml", ".yml") or item.name == ARCH_FILE):
            link_or_copy(item, out_dir / (BEST_PT if item.suffix == ".pt" else item.name))
    note = (
        f"stage '{cfg.stage_name}' skipped: 0 epochs planned (strategy), weights passed through from {spec}"
    )
    write_text_atomic(
        out_dir / "report.html", html_page(f"Training report: {cfg.stage_name}", f"<p>{escape(note)}</p>")
    )
    metrics = {
        "stage_name": cfg.stage_name,
        "skipped": True,
        "epochs": 0,
        "reason": note,
        "config": cfg.to_dict(),
    }
    write_json_atomic(out_dir / "metrics.json", metrics)
    log.info(note)
    best = out_dir / BEST_PT
    return TrainResult(
        out_dir=out_dir, best=best, last=best, metrics_json=out_dir / "metrics.json",
        report_html=out_dir / "report.html", stage_name=cfg.stage_name, names=(), imgsz=cfg.imgsz, epochs=0,
        epochs_this_run=0, resumed_from_epoch=None, map50=0.0, map50_95=0.0, precision=0.0, recall=0.0,
        seconds_per_epoch=0.0, seconds=0.0, device="none", freeze=cfg.freeze, total_params=0,
        trainable_params=0, frozen_params=0, frozen_verified=None, backbone_changed=None,
        backbone_max_abs_change=None,
    )  # fmt: skip
