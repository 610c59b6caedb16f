"""KFP component: resolve the training plan from the dataset size and the user's parameters."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Markdown, Output

from components._shared import images


@dsl.component(base_image=images.CPU, install_kfp_package=False)
def plan_training(
    yolo_dataset: Input[Dataset],
    weights: str,
    model_size: str,
    strategy: str,
    freeze: str,
    epochs_frozen: int,
    epochs_finetune: int,
    lr0: float,
    lr_finetune: float,
    gpus: int,
    accelerator: str,
    plan: Output[Artifact],
    plan_view: Output[Markdown],
    nodes: int = 1,
    workspace: str = "",
    imgsz: int = 640,
    train_args: dict = {},  # noqa: B006 - KFP needs a literal default; the body never mutates it
) -> NamedTuple(
    "PlanOutputs",
    weights=str,
    freeze=int,
    epochs_frozen=int,
    epochs_finetune=int,
    lr_frozen=float,
    lr_finetune=float,
    weights_digest=str,
    launcher_gpus=int,
):
    """Choose what to train: ``auto`` values come from the dataset-size table, explicit values win.

    Args:
        yolo_dataset: output of the split step (its train list is counted).
        weights: pretrained weights path or URI; ``{size}`` is replaced by the chosen model size, and only
            sizes whose file exists there are chosen (checked here, before training; reads MINIO_* for s3://).
        model_size: n, s, m, l, x or auto (the table's size, else the nearest one whose weights exist).
        strategy: two-stage, full, frozen or auto.
        freeze: layers frozen in the first stage (10 = the backbone), or auto.
        epochs_frozen: epochs of the frozen stage (-1: auto).
        epochs_finetune: epochs of the fine-tune stage (-1: auto).
        lr0: learning rate of the first stage.
        lr_finetune: learning rate of the fine-tune stage (-1: lr0).
        gpus: GPUs per training task (recorded in the plan).
        accelerator: the GPUs' Kubernetes resource name (recorded in the plan).
        nodes: nodes per training task; more than 1 and the training task's own pod requests no GPU
            (``launcher_gpus``): its TrainJob's pods hold them.
        workspace: the run workspace (``dsl.WORKSPACE_PATH_PLACEHOLDER``): KFP mounts it only into tasks
            given it, and ``yolo_dataset`` is a manifest pointing into it.
        imgsz: the training tasks' image size (checked here, before any GPU time).
        train_args: the training tasks' further Ultralytics arguments (checked here: a bad key or value
            fails this CPU task, which is not retried, instead of every retry of a GPU task).
        plan: plan.json (the request, the resolved plan and the table's row).
        plan_view: what was chosen and why, as the run page shows it.

    Returns:
        The plan's values the training tasks take, the weights' content token (``weights_digest``: the
        fetch task's cache key) and the GPUs of the training task's own pod (``launcher_gpus``).
    """
    from pathlib import Path

    from components._shared.kfp_io import publish_file, set_metadata
    from components.plan.core import PlanRequest, parse_freeze, plan_training

    request = PlanRequest(weights=weights, model_size=model_size, strategy=strategy, freeze=parse_freeze(freeze),
                          epochs_frozen=epochs_frozen, epochs_finetune=epochs_finetune, lr0=lr0,
                          lr_finetune=lr_finetune, imgsz=imgsz, train_args=dict(train_args or {}))  # fmt: skip
    resources = {"gpus": gpus, "accelerator": accelerator, "nodes": nodes}
    result = plan_training(Path(yolo_dataset.path), Path(plan.path), request, resources=resources)
    set_metadata(plan, result.plan.to_dict())
    publish_file(result.plan_md, plan_view)
    p = result.plan
    return (p.weights, p.freeze, p.epochs_frozen, p.epochs_finetune, p.lr_frozen, p.lr_finetune,
            result.weights_digest, result.launcher_gpus)  # fmt: skip
