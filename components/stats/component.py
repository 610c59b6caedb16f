"""KFP component: dataset statistics and their HTML report."""

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Metrics, Output

from components._shared import images


@dsl.component(base_image=images.CPU, install_kfp_package=False)
def dataset_stats(
    yolo_dataset: Input[Dataset],
    imgsz: int,
    stats: Output[Metrics],
    stats_report: Output[HTML],
    workspace: str = "",
):
    """Describe the dataset: counts per class and split, box sizes, duplicates and warnings.

    Args:
        yolo_dataset: output of the split step.
        imgsz: training image size (for small/medium/large box counts).
        stats: image and instance counts for the run page.
        stats_report: HTML report with class and box-size plots.
        workspace: the run workspace (``dsl.WORKSPACE_PATH_PLACEHOLDER``): KFP mounts it only into tasks
            given it (``needsWorkspaceMount``), and ``yolo_dataset`` is a manifest pointing into it.
    """
    import tempfile
    from pathlib import Path

    from components._shared.kfp_io import log_metrics, publish_file
    from components.stats.core import StatsConfig, dataset_stats

    out = Path(tempfile.mkdtemp(prefix="stats-"))
    result = dataset_stats(Path(yolo_dataset.path), out, StatsConfig(imgsz=imgsz))
    log_metrics(stats, result.summary())
    publish_file(out / "report.html", stats_report)
