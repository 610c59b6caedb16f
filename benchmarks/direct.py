"""The pipeline's tasks called directly, in one process, with no orchestrator (the overhead baseline).

``run_direct`` runs the thirteen tasks of ``pipelines/yolo_transfer.py`` (the exit handler's summary
last, as after a run that succeeded) in the order ``kfp.local`` does,
each by calling the very function of its component (``component.python_func``), with the parameters
``pipelines.stage_args.task_params`` gives for it: the component body builds the stage configs
(``GatePolicy``, ``TrainConfig``, ``ExportConfig`` ...) exactly as in a pod, so this cannot drift from
the DAG (``tests/bench/test_direct.py`` checks ``task_params`` against the compiled pipeline and a tiny
direct run against a tiny ``run-local``). Artifacts are plain folders under ``out_dir/<task>/<key>``;
the data goes to a workspace folder, as in the run's workspace. What it leaves out is what ``kfp.local``
adds: one process per task, executor input/output files, artifact metadata on disk.

Calling the components imports ``kfp.dsl`` once (about 0.3-0.6 s here), which the local run also pays.
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
    """Seconds per task and the numbers that show the run did the same work as the pipeline."""

    out_dir: Path
    seconds: float
    step_seconds: dict[str, float] = field(default_factory=dict)
    map50_95: dict[str, float] = field(default_factory=dict)
    gate_passed: bool = False
    published: str | None = None


class _Artifacts:
    """KFP artifact objects on folders ``<root>/<task>/<key>``, as kfp.local lays them out."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def __call__(self, kind: type, task: str, key: str) -> Any:
        (self.root / task).mkdir(parents=True, exist_ok=True)
        return kind(name=key, uri=str(self.root / task / key), metadata={})


def run_direct(params: Any, out_dir: Path, run_id: str = "direct") -> DirectRunResult:
    """Run every task of the pipeline in this process, in the order of a local run.

    Args:
        params: a ``pipelines.config.PipelineParams`` (e.g. ``pipelines.local_run.local_params``).
        out_dir: folder for the artifacts (``artifacts/<task>/<key>``) and the workspace.
        run_id: the run's id (the pipeline uses its job id): names the checkpoint and record folders.
    """
    from kfp.dsl import (
        HTML,
        Artifact,
        ClassificationMetrics,
        Dataset,
        Markdown,
        Metrics,
        Model,
        PipelineTaskFinalStatus,
    )

    from components._shared import images
    from components.export.component import export_onnx
    from components.plan.component import plan_training
    from components.publish.component import publish_model
    from components.summary.component import summarize_run
    from components.train.component import fetch_weights
    from components.validate.component import validate_model
    from pipelines.stage_args import task_params

    out = Path(out_dir)
    art = _Artifacts(out / "artifacts")
    args = task_params(params, workspace=str(out / "workspace"), run_id=run_id, trainjob_image=images.GPU)
    steps: dict[str, float] = {}
    t0 = time.perf_counter()

    def task(name: str, component: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        value = component.python_func(**args[name], **kwargs)
        steps[name] = round(time.perf_counter() - start, 2)
        return value

    def validate(name: str, model: Any) -> tuple[bool, Any]:
        metrics = art(Metrics, name, "metrics")
        passed = task(name, validate_model, model=model, yolo_dataset=data, metrics=metrics,
                      confusion_matrix=art(ClassificationMetrics, name, "confusion_matrix"),
                      validation_report=art(HTML, name, "validation_report"),
                      validation=art(Dataset, name, "validation"))  # fmt: skip
        return passed, metrics

    fingerprint, data = _data(task, art)
    plan = dict(zip(("weights", "freeze", "epochs_frozen", "epochs_finetune", "lr_frozen", "lr_finetune",
                     "weights_digest", "launcher_gpus"),
                    task("plan-training", plan_training, yolo_dataset=data,
                         plan=art(Artifact, "plan-training", "plan"),
                         plan_view=art(Markdown, "plan-training", "plan_view")), strict=True))  # fmt: skip
    pretrained = art(Model, "fetch-weights", "pretrained")
    task("fetch-weights", fetch_weights, weights=plan["weights"], weights_digest=plan["weights_digest"],
         pretrained=pretrained)  # fmt: skip
    frozen, fine = _train(task, art, data, pretrained, plan)
    _, val_pt = validate("validate-model", fine)
    onnx = art(Model, "export-onnx", "onnx_model")
    task("export-onnx", export_onnx, weights=fine, yolo_dataset=data, onnx_model=onnx)
    passed, val_onnx = validate("validate-model-2", onnx)
    published = None
    if passed:
        _, published = task("publish-model", publish_model, onnx_model=onnx, weights=fine,
                            validation=art(Dataset, "validate-model-2", "validation"),
                            fingerprint=fingerprint)  # fmt: skip
    status = PipelineTaskFinalStatus("SUCCEEDED", run_id, "exit-handler-1", None, None)
    task(
        "summarize-run",
        summarize_run,
        status=status,
        run_summary=art(Markdown, "summarize-run", "run_summary"),
    )
    return DirectRunResult(
        out_dir=out,
        seconds=round(time.perf_counter() - t0, 2),
        step_seconds=steps,
        map50_95={
            "frozen": frozen.metadata.get("map50_95"),
            "finetune": fine.metadata.get("map50_95"),
            "pytorch": val_pt.metadata.get("map50_95"),
            "onnx": val_onnx.metadata.get("map50_95"),
        },  # fmt: skip
        gate_passed=bool(passed),
        published=published,
    )


def _data(task: Callable[..., Any], art: _Artifacts) -> tuple[str, Any]:
    """Ingest, convert, split and stats; the dataset fingerprint and the split dataset artifact."""
    from kfp.dsl import HTML, Dataset, Markdown, Metrics

    from components.convert.component import convert_voc
    from components.ingest.component import ingest_dataset
    from components.split.component import split_dataset
    from components.stats.component import dataset_stats

    voc = art(Dataset, "ingest-dataset", "voc_tree")
    (fingerprint,) = task("ingest-dataset", ingest_dataset, voc_tree=voc)
    labels = art(Dataset, "convert-voc", "yolo_labels")
    task("convert-voc", convert_voc, voc_tree=voc, fingerprint=fingerprint, yolo_labels=labels,
         convert_report=art(Markdown, "convert-voc", "convert_report"))  # fmt: skip
    data = art(Dataset, "split-dataset", "yolo_dataset")
    task("split-dataset", split_dataset, yolo_labels=labels, yolo_dataset=data)
    task("dataset-stats", dataset_stats, yolo_dataset=data, stats=art(Metrics, "dataset-stats", "stats"),
         stats_report=art(HTML, "dataset-stats", "stats_report"))  # fmt: skip
    return fingerprint, data


def _train(
    task: Callable[..., Any], art: _Artifacts, data: Any, pretrained: Any, plan: dict[str, Any]
) -> tuple[Any, Any]:
    """The two training tasks: the frozen stage from the fetched weights, the fine-tune from its output."""
    from kfp.dsl import HTML, Metrics, Model

    from components.train.component import train_model

    weights = {}
    for name, init, extra in (
        ("train-model", pretrained, {"freeze": plan["freeze"], "epochs": plan["epochs_frozen"],
                                     "lr0": plan["lr_frozen"]}),
        ("train-model-2", None, {"epochs": plan["epochs_finetune"], "lr0": plan["lr_finetune"]}),
    ):  # fmt: skip
        weights[name] = art(Model, name, "weights")
        task(name, train_model, yolo_dataset=data, init_weights=init or weights["train-model"],
             weights=weights[name], metrics=art(Metrics, name, "metrics"), curves=art(HTML, name, "curves"),
             task_config=None, **extra)  # fmt: skip
    return weights["train-model"], weights["train-model-2"]
