"""The pipeline's tasks called directly in one process: the overhead baseline (docs/benchmarks.md, "pipeline")."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DirectRunResult:
    """Seconds per task and the numbers that show the run did the same work as the pipeline."""

    out_dir: Path
    seconds: float
    step_seconds: dict[str, float] = field(default_factory=dict)
    map50_95: dict[str, float] = field(default_factory=dict)
    gate_passed: bool = False
    published: str | None = None


def artifacts(root: Path) -> Callable[[type, str, str], Any]:
    """KFP artifact objects on folders ``<root>/<task>/<key>``, as kfp.local lays them out."""

    def art(kind: type, task: str, key: str) -> Any:
        (root / task).mkdir(parents=True, exist_ok=True)
        return kind(name=key, uri=str(root / task / key), metadata={})

    return art


def run_direct(params: Any, out_dir: Path, run_id: str = "direct") -> DirectRunResult:
    """Run every task of the pipeline with ``params`` (``PipelineParams``) in this process, in local-run order."""
    from kfp import dsl

    from components._shared import images
    from components.export.component import export_onnx
    from components.plan.component import plan_training
    from components.publish.component import publish_model
    from components.summary.component import summarize_run
    from components.train.component import fetch_weights
    from components.validate.component import validate_model
    from pipelines.stage_args import task_params

    out = Path(out_dir)
    art = artifacts(out / "artifacts")
    args = task_params(params, workspace=str(out / "workspace"), run_id=run_id, trainjob_image=images.GPU)
    steps: dict[str, float] = {}
    t0 = time.perf_counter()

    def task(name: str, component: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        value = component.python_func(**args[name], **kwargs)
        steps[name] = round(time.perf_counter() - start, 2)
        return value

    def validate(name: str, model: Any) -> tuple[bool, Any]:
        metrics = art(dsl.Metrics, name, "metrics")
        passed = task(name, validate_model, model=model, yolo_dataset=data, metrics=metrics,
                      confusion_matrix=art(dsl.ClassificationMetrics, name, "confusion_matrix"),
                      validation_report=art(dsl.HTML, name, "validation_report"),
                      validation=art(dsl.Dataset, name, "validation"))  # fmt: skip
        return passed, metrics

    fingerprint, data = _data(task, art)
    plan = dict(zip(("weights", "freeze", "epochs_frozen", "epochs_finetune", "lr_frozen", "lr_finetune",
                     "weights_digest", "launcher_gpus"),
                    task("plan-training", plan_training, yolo_dataset=data,
                         plan=art(dsl.Artifact, "plan-training", "plan"),
                         plan_view=art(dsl.Markdown, "plan-training", "plan_view")), strict=True))  # fmt: skip
    pretrained = art(dsl.Model, "fetch-weights", "pretrained")
    task("fetch-weights", fetch_weights, weights=plan["weights"], weights_digest=plan["weights_digest"],
         pretrained=pretrained)  # fmt: skip
    frozen, fine = _train(task, art, data, pretrained, plan)
    _, val_pt = validate("validate-model", fine)
    onnx = art(dsl.Model, "export-onnx", "onnx_model")
    task("export-onnx", export_onnx, weights=fine, yolo_dataset=data, onnx_model=onnx)
    passed, val_onnx = validate("validate-model-2", onnx)
    published = None
    if passed:
        _, published = task("publish-model", publish_model, onnx_model=onnx, weights=fine,
                            validation=art(dsl.Dataset, "validate-model-2", "validation"),
                            fingerprint=fingerprint)  # fmt: skip
    status = dsl.PipelineTaskFinalStatus("SUCCEEDED", run_id, "exit-handler-1", None, None)
    summary = art(dsl.Markdown, "summarize-run", "run_summary")
    task("summarize-run", summarize_run, status=status, run_summary=summary)
    maps = {name: model.metadata.get("map50_95") for name, model in
            (("frozen", frozen), ("finetune", fine), ("pytorch", val_pt), ("onnx", val_onnx))}  # fmt: skip
    return DirectRunResult(out_dir=out, seconds=round(time.perf_counter() - t0, 2), step_seconds=steps,
                           map50_95=maps, gate_passed=bool(passed), published=published)  # fmt: skip


def _data(task: Callable[..., Any], art: Callable[..., Any]) -> tuple[str, Any]:
    from kfp import dsl

    from components.convert.component import convert_voc
    from components.ingest.component import ingest_dataset
    from components.split.component import split_dataset
    from components.stats.component import dataset_stats

    voc = art(dsl.Dataset, "ingest-dataset", "voc_tree")
    (fingerprint,) = task("ingest-dataset", ingest_dataset, voc_tree=voc)
    labels = art(dsl.Dataset, "convert-voc", "yolo_labels")
    task("convert-voc", convert_voc, voc_tree=voc, fingerprint=fingerprint, yolo_labels=labels,
         convert_report=art(dsl.Markdown, "convert-voc", "convert_report"))  # fmt: skip
    data = art(dsl.Dataset, "split-dataset", "yolo_dataset")
    task("split-dataset", split_dataset, yolo_labels=labels, yolo_dataset=data)
    task("dataset-stats", dataset_stats, yolo_dataset=data, stats=art(dsl.Metrics, "dataset-stats", "stats"),
         stats_report=art(dsl.HTML, "dataset-stats", "stats_report"))  # fmt: skip
    return fingerprint, data


def _train(
    task: Callable[..., Any], art: Callable[..., Any], data: Any, pretrained: Any, plan: dict[str, Any]
) -> tuple[Any, Any]:
    from kfp import dsl

    from components.train.component import train_model

    weights = {}
    for name, init, extra in (
        ("train-model", pretrained, {"freeze": plan["freeze"], "epochs": plan["epochs_frozen"],
                                     "lr0": plan["lr_frozen"]}),
        ("train-model-2", None, {"epochs": plan["epochs_finetune"], "lr0": plan["lr_finetune"]}),
    ):  # fmt: skip
        weights[name] = art(dsl.Model, name, "weights")
        task(name, train_model, yolo_dataset=data, init_weights=init or weights["train-model"],
             weights=weights[name], metrics=art(dsl.Metrics, name, "metrics"), curves=art(dsl.HTML, name, "curves"),
             task_config=None, **extra)  # fmt: skip
    return weights["train-model"], weights["train-model-2"]
