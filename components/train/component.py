"""KFP components of the training image: fetch pretrained weights, and train (used for both stages)."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Metrics, Model, Output

from components._shared import images


@dsl.component(base_image=images.CPU, install_kfp_package=False)
def fetch_weights(weights: str, pretrained: Output[Model], weights_digest: str = ""):
    """Bring the pretrained weights into the pipeline as a model artifact (no download from the internet).

    Args:
        weights: a ``.pt`` path, an ``s3://`` URI, or an architecture YAML (``yolov5n.yaml``: from scratch).
        pretrained: folder holding the weights file (or the architecture YAML).
        weights_digest: the weights' content token from the plan task; unused here, it is what makes
            KFP's cache key change when new weights are uploaded under the same URI.
    """
    from pathlib import Path

    from components._shared.kfp_io import set_metadata
    from components.train.stage import fetch_weights

    set_metadata(pretrained, fetch_weights(weights, Path(pretrained.path)))


# The task's own settings reach the TrainJob of a multi-node run through KFP's TaskConfig; every field is
# also applied to the task itself, so the single-pod run (nodes=1, the default) is the same as without it.
_PASSTHROUGH = [
    dsl.TaskConfigPassthrough(field=f, apply_to_task=True)
    for f in (
        dsl.TaskConfigField.RESOURCES,
        dsl.TaskConfigField.ENV,
        dsl.TaskConfigField.KUBERNETES_TOLERATIONS,
        dsl.TaskConfigField.KUBERNETES_NODE_SELECTOR,
        dsl.TaskConfigField.KUBERNETES_AFFINITY,
        dsl.TaskConfigField.KUBERNETES_VOLUMES,
    )
]


@dsl.component(base_image=images.GPU, install_kfp_package=False, task_config_passthroughs=_PASSTHROUGH)
def train_model(
    yolo_dataset: Input[Dataset],
    init_weights: Input[Model],
    stage: str,
    freeze: int,
    epochs: int,
    imgsz: int,
    batch: int,
    lr0: float,
    warmup_epochs: float,
    seed: int,
    checkpoint_root: str,
    run_id: str,
    weights: Output[Model],
    metrics: Output[Metrics],
    curves: Output[HTML],
    task_config: dsl.TaskConfig,
    train_args: dict = {},  # noqa: B006 - KFP needs a literal default; the body never mutates it
    nodes: int = 1,
    workspace_path: str = "",
    trainjob_image: str = "",
    gpus_per_node: int = 0,
    accelerator: str = "nvidia.com/gpu",
) -> NamedTuple("TrainOutputs", map50_95=float):
    """Train a YOLO detector from ``init_weights`` with the first ``freeze`` layers frozen (0 epochs: pass through).

    Any Ultralytics detection checkpoint works (YOLOv5u, YOLOv8, YOLO11); the weights' metadata and
    metrics.json name its real ``architecture``.

    Args:
        yolo_dataset: output of the split step.
        init_weights: pretrained weights, or the previous stage's weights.
        stage: ``frozen`` or ``finetune`` (names the checkpoint folder and the report).
        freeze: number of leading layers frozen (10 = backbone); 0 trains everything.
        epochs: epochs of this stage; 0 copies ``init_weights`` through unchanged.
        imgsz: training image size.
        batch: batch size (-1: auto on a GPU).
        lr0: initial learning rate (SGD).
        warmup_epochs: warm-up epochs.
        seed: training seed.
        checkpoint_root: ``s3://bucket/runs`` to upload ``last.pt`` every epoch and resume after
            preemption; empty to keep checkpoints local.
        run_id: the pipeline run's id (checkpoint folder).
        train_args: further Ultralytics training arguments, e.g. {"mosaic": 0.5, "optimizer": "AdamW",
            "workers": 4}: Ultralytics' own keys only; those the pipeline sets (epochs, imgsz, batch, freeze,
            lr0, device, seed, ...) are refused with the parameter to use instead. Data-loader workers
            default to the task's CPUs minus one (at most 8).
        weights: best.pt, last.pt, results.csv and metrics.json of this stage.
        metrics: mAP50, mAP50-95, precision, recall, seconds per epoch.
        curves: per-epoch loss, mAP and learning-rate curves (the KFP UI has none of its own).
        task_config: set by KFP: this task's resources, env, volumes and scheduling, which a multi-node
            run gives every node of its TrainJob.
        nodes: training nodes; 1 trains in this task's pod, more run a Kubeflow Trainer v2 TrainJob
            (ClusterTrainingRuntime torch-distributed) with this task's GPUs, CPU and memory on every
            node, its inputs and outputs on the run workspace.
        workspace_path: the run workspace (dsl.WORKSPACE_PATH_PLACEHOLDER); needed when nodes > 1.
        trainjob_image: image of the TrainJob nodes (the pipeline passes its own train image; needed
            only when nodes > 1).
        gpus_per_node: GPUs of each TrainJob node (nodes > 1). The task's own pod then requests none
            (the plan's ``launcher_gpus``), so its TaskConfig cannot say how many the nodes need.
        accelerator: the GPUs' Kubernetes resource name (nodes > 1).
    """
    from pathlib import Path

    from components._shared.kfp_io import log_metrics, publish_file, set_metadata
    from components.train.core import TrainConfig
    from components.train.stage import run_distributed_stage, run_training_stage

    cfg = TrainConfig(
        freeze=freeze, epochs=epochs, imgsz=imgsz, batch=batch, lr0=lr0,
        warmup_epochs=warmup_epochs, seed=seed, stage_name=stage, train_args=dict(train_args or {}),
    )  # fmt: skip
    out = Path(weights.path)
    if nodes > 1:
        result = run_distributed_stage(
            Path(yolo_dataset.path), Path(init_weights.path), out, cfg, nodes=nodes,
            workspace_path=workspace_path, run_id=run_id, image=trainjob_image, task_config=task_config,
            gpus_per_node=gpus_per_node, accelerator=accelerator,
        )  # fmt: skip
    else:
        result = run_training_stage(
            Path(yolo_dataset.path), Path(init_weights.path), out, cfg, checkpoint_root, run_id
        )
    log_metrics(metrics, result.summary())
    set_metadata(weights, result.card())
    publish_file(out / "report.html", curves)
    return (result.map50_95,)
