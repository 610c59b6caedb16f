"""KFP component: dataset statistics, HTML report, and the resolved training plan."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Metrics, Output

from components._shared import images


@dsl.component(base_image=images.CPU, install_kfp_package=False)
def dataset_stats(
    yolo_dataset: Input[Dataset],
    imgsz: int,
    weights: str,
    model_size: str,
    strategy: str,
    freeze: int,
    epochs_frozen: int,
    epochs_finetune: int,
    lr0: float,
    lr_finetune: float,
    stats: Output[Metrics],
    stats_report: Output[HTML],
) -> NamedTuple(
    "PlanOutputs",
    weights=str,
    strategy=str,
    freeze=int,
    epochs_frozen=int,
    epochs_finetune=int,
    lr_frozen=float,
    lr_finetune=float,
):
    """Describe the dataset and resolve the training plan (``auto`` values come from the statistics).

    Args:
        yolo_dataset: output of the split step.
        imgsz: training image size (for small/medium/large box counts).
        weights: pretrained weights path or URI; ``{size}`` is replaced by the chosen model size.
        model_size: n, s, m, l, x or auto.
        strategy: two-stage, full, frozen or auto.
        freeze: layers frozen in the first stage (10 = the YOLOv5 backbone).
        epochs_frozen: epochs of the frozen stage (-1: auto).
        epochs_finetune: epochs of the fine-tune stage (-1: auto).
        lr0: learning rate of the first stage.
        lr_finetune: learning rate of the fine-tune stage (-1: lr0).
        stats: image and instance counts for the run page.
        stats_report: HTML report with class and box-size plots.
    """
    import tempfile
    from pathlib import Path

    from components._shared.kfp_io import log_metrics, publish_file
    from components._shared.plan import PlanRequest
    from components.stats.core import StatsConfig, dataset_stats, plan_from_stats

    out = Path(tempfile.mkdtemp(prefix="stats-"))
    result = dataset_stats(Path(yolo_dataset.path), out, StatsConfig(imgsz=imgsz))
    request = PlanRequest(
        weights, model_size, strategy, freeze, epochs_frozen, epochs_finetune, lr0, lr_finetune
    )
    plan = plan_from_stats(result, request)
    log_metrics(stats, result.summary())
    publish_file(out / "report.html", stats_report)
    p = plan
    return (p.weights, p.strategy, p.freeze, p.epochs_frozen, p.epochs_finetune, p.lr_frozen, p.lr_finetune)
