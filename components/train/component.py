"""KFP components of the training image: fetch pretrained weights, and train (used for both stages)."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Metrics, Model, Output

from components._shared import images


@dsl.component(base_image=images.CPU, install_kfp_package=False)
def fetch_weights(weights: str, pretrained: Output[Model]):
    """Bring the pretrained weights into the pipeline as a model artifact (no download from the internet).

    Args:
        weights: a ``.pt`` path, an ``s3://`` URI, or an architecture YAML (``yolov5n.yaml``: from scratch).
        pretrained: folder holding the weights file (or the architecture YAML).
    """
    from pathlib import Path

    from components._shared.kfp_io import set_metadata
    from components.train.stage import fetch_weights

    set_metadata(pretrained, fetch_weights(weights, Path(pretrained.path)))


@dsl.component(base_image=images.GPU, install_kfp_package=False)
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
) -> NamedTuple("TrainOutputs", map50_95=float):
    """Train YOLOv5 from ``init_weights`` with the first ``freeze`` layers frozen (0 epochs: pass through).

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
        weights: best.pt, last.pt, results.csv and metrics.json of this stage.
        metrics: mAP50, mAP50-95, precision, recall, seconds per epoch.
        curves: per-epoch loss, mAP and learning-rate curves (the KFP UI has none of its own).
    """
    from pathlib import Path

    from components._shared.kfp_io import log_metrics, publish_file, set_metadata
    from components.train.core import TrainConfig
    from components.train.stage import run_training_stage

    cfg = TrainConfig(
        freeze=freeze, epochs=epochs, imgsz=imgsz, batch=batch, lr0=lr0,
        warmup_epochs=warmup_epochs, seed=seed, stage_name=stage,
    )  # fmt: skip
    out = Path(weights.path)
    result = run_training_stage(
        Path(yolo_dataset.path), Path(init_weights.path), out, cfg, checkpoint_root, run_id
    )
    log_metrics(metrics, result.summary())
    set_metadata(weights, result.card())
    publish_file(out / "report.html", curves)
    return (result.map50_95,)
