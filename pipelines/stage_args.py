"""The parameters each task of the DAG gets from the pipeline's own, in one place (for benchmarks/direct.py)."""

from __future__ import annotations

from typing import Any

from pipelines.config import PipelineParams

# the compiled task names, in the order a run executes them (kfp.local runs one task at a time)
TASKS = ("ingest-dataset", "convert-voc", "split-dataset", "dataset-stats", "plan-training", "fetch-weights",
         "train-model", "train-model-2", "validate-model", "export-onnx", "validate-model-2",
         "publish-model", "summarize-run")  # fmt: skip


def task_params(
    p: PipelineParams, *, workspace: str, run_id: str, trainjob_image: str
) -> dict[str, dict[str, Any]]:
    """Each task's parameters that do not come from another task's outputs, by compiled task name."""
    gate = {"min_map50_95": p.min_map50_95, "champion_tolerance": p.champion_tolerance,
            "class_tolerance": p.class_tolerance, "allow_class_change": p.allow_class_change}  # fmt: skip
    train = {"imgsz": p.imgsz, "batch": p.batch, "seed": p.seed, "checkpoint_root": p.checkpoint_root,
             "run_id": run_id, "train_args": dict(p.train_args), "nodes": p.nodes, "workspace_path": workspace,
             "trainjob_image": trainjob_image, "gpus_per_node": p.gpus, "accelerator": p.accelerator}  # fmt: skip
    validate = {"split": "auto", "imgsz": p.imgsz, "workspace": workspace, **gate}
    return {
        "ingest-dataset": {"source": p.source, "workspace": workspace},
        "convert-voc": {"classes": p.classes, "include_difficult": p.include_difficult, "workspace": workspace},
        "split-dataset": {"val": p.val, "test": p.test, "seed": p.seed, "group": p.group, "workspace": workspace},
        "dataset-stats": {"imgsz": p.imgsz, "workspace": workspace},
        "plan-training": {"weights": p.weights, "model_size": p.model_size, "strategy": p.strategy,
                          "freeze": p.freeze, "epochs_frozen": p.epochs_frozen,
                          "epochs_finetune": p.epochs_finetune, "lr0": p.lr0, "lr_finetune": p.lr_finetune,
                          "gpus": p.gpus, "accelerator": p.accelerator, "nodes": p.nodes,
                          "workspace": workspace, "imgsz": p.imgsz, "train_args": dict(p.train_args)},
        "fetch-weights": {},
        "train-model": {"stage": "frozen", "warmup_epochs": p.warmup_epochs, **train},
        "train-model-2": {"stage": "finetune", "freeze": 0, "warmup_epochs": p.warmup_finetune, **train},
        # the PyTorch model is measured, not gated against production: no champion, no run records
        "validate-model": {"champion_dest": "", "checkpoint_root": "", "run_id": "", **validate},
        "export-onnx": {"imgsz": p.imgsz, "workspace": workspace},
        "validate-model-2": {"champion_dest": p.publish_dest, "checkpoint_root": p.checkpoint_root,
                             "run_id": run_id, **validate},
        "publish-model": {"dest": p.publish_dest, "promote": True, "allow_class_change": p.allow_class_change,
                          "checkpoint_root": p.checkpoint_root, "run_id": run_id, "workspace": workspace},
        # the exit handler: its ``status`` is KFP's (the caller builds it)
        "summarize-run": {"checkpoint_root": p.checkpoint_root, "run_id": run_id},
    }  # fmt: skip
