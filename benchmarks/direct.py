"""The pipeline's stages called directly, in one process, with no orchestrator (the overhead baseline).

``run_direct`` does what the eleven tasks of ``pipelines/yolo_transfer.py`` do, in the same order and
with the same parameter values (a ``PipelineParams``, e.g. from ``pipelines.local_run.local_params``):
each step calls the same function the task's component body calls, on folders under ``out_dir``
instead of KFP artifacts. What it leaves out is exactly what ``kfp.local`` adds: one Python process
per task (imports included), executor input/output files, artifact folders and metadata.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class DirectRunResult:
    """Seconds per step and the numbers that show the run did the same work as the pipeline."""

    out_dir: Path
    seconds: float
    step_seconds: dict[str, float] = field(default_factory=dict)
    map50_95: dict[str, float] = field(default_factory=dict)
    gate_passed: bool = False
    published: str | None = None


def run_direct(params: Any, out_dir: Path, run_id: str = "direct") -> DirectRunResult:
    """Run ingest -> convert -> split -> stats -> plan -> fetch -> train frozen -> train fine-tune ->
    validate -> export -> validate ONNX -> publish, in this process.

    Args:
        params: a ``pipelines.config.PipelineParams`` (only its fields are read; kfp is not imported).
        out_dir: folder for every step's output (one sub-folder per step).
        run_id: names the checkpoint folder under ``params.checkpoint_root`` (the pipeline uses its job id).
    """
    from components.convert.core import ConvertConfig, convert_voc, parse_classes
    from components.export.core import ExportConfig, export_onnx
    from components.ingest.core import IngestConfig, ingest
    from components.plan.core import PlanRequest, parse_freeze, plan_training
    from components.publish.core import run_publish_stage
    from components.split.core import SplitConfig, split_dataset
    from components.stats.core import StatsConfig, dataset_stats
    from components.train.core import TrainConfig
    from components.train.stage import fetch_weights, run_training_stage
    from components.validate.stage import run_validation_stage

    p, out = params, Path(out_dir)
    steps: dict[str, float] = {}
    t0 = time.perf_counter()

    def step(name: str, fn: Callable[[], T]) -> T:
        start = time.perf_counter()
        value = fn()
        steps[name] = round(time.perf_counter() - start, 2)
        return value

    src = step("ingest", lambda: ingest(p.source, out / "voc_tree", IngestConfig()))
    classes = parse_classes(p.classes) if p.classes else None
    convert_cfg = ConvertConfig(classes=classes, include_difficult=p.include_difficult)
    step("convert", lambda: convert_voc([out / "voc_tree"], out / "yolo_labels", convert_cfg))
    split_cfg = SplitConfig(val=p.val, test=p.test, seed=p.seed, group=p.group or None)
    step("split", lambda: split_dataset(out / "yolo_labels", out / "yolo_dataset", split_cfg))
    data = out / "yolo_dataset"
    request = PlanRequest(p.weights, p.model_size, p.strategy, parse_freeze(p.freeze), p.epochs_frozen,
                          p.epochs_finetune, p.lr0, p.lr_finetune)  # fmt: skip
    step("stats", lambda: dataset_stats(data, out / "stats", StatsConfig(imgsz=p.imgsz)))
    plan = step("plan", lambda: plan_training(data, out / "plan", request)).plan
    step("fetch_weights", lambda: fetch_weights(plan.weights, out / "pretrained"))
    common = {"imgsz": p.imgsz, "batch": p.batch, "seed": p.seed}
    frozen_cfg = TrainConfig(freeze=plan.freeze, epochs=plan.epochs_frozen, lr0=plan.lr_frozen,
                             warmup_epochs=p.warmup_epochs, stage_name="frozen", **common)  # fmt: skip
    frozen = step("train_frozen", lambda: run_training_stage(
        data, out / "pretrained", out / "frozen", frozen_cfg, p.checkpoint_root, run_id))  # fmt: skip
    fine_cfg = TrainConfig(freeze=0, epochs=plan.epochs_finetune, lr0=plan.lr_finetune,
                           warmup_epochs=p.warmup_finetune, stage_name="finetune", **common)  # fmt: skip
    fine = step("train_finetune", lambda: run_training_stage(
        data, out / "frozen", out / "finetune", fine_cfg, p.checkpoint_root, run_id))  # fmt: skip
    val_pt = step("validate", lambda: run_validation_stage(
        out / "finetune", data, out / "validation_pt", "val", p.imgsz, p.min_map50_95, ""))  # fmt: skip
    export_cfg = ExportConfig(imgsz=p.imgsz, parity_images=data / "dataset.yaml")
    step("export", lambda: export_onnx(out / "finetune" / "best.pt", out / "onnx_model", export_cfg))
    val_onnx = step("validate_onnx", lambda: run_validation_stage(
        out / "onnx_model", data, out / "validation", "val", p.imgsz, p.min_map50_95, p.publish_dest))  # fmt: skip
    published = None
    if val_onnx.gate_passed:
        pub = step("publish", lambda: run_publish_stage(
            out / "onnx_model", out / "finetune", out / "validation", p.publish_dest, src.fingerprint, True))  # fmt: skip
        published = pub.uri
    return DirectRunResult(
        out_dir=out,
        seconds=round(time.perf_counter() - t0, 2),
        step_seconds=steps,
        map50_95={
            "frozen": frozen.map50_95,
            "finetune": fine.map50_95,
            "pytorch": val_pt.map50_95,
            "onnx": val_onnx.map50_95,
        },  # fmt: skip
        gate_passed=val_onnx.gate_passed,
        published=published,
    )
