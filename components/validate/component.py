"""KFP component: validate a PyTorch or ONNX model and decide the publishing gate against production."""

from kfp import dsl
from kfp.dsl import HTML, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from components._shared import images


@dsl.component(base_image=images.GPU, install_kfp_package=False)
def validate_model(
    model: Input[Model],
    yolo_dataset: Input[Dataset],
    split: str,
    imgsz: int,
    min_map50_95: float,
    champion_dest: str,
    champion_tolerance: float,
    class_tolerance: float,
    allow_class_change: bool,
    checkpoint_root: str,
    run_id: str,
    metrics: Output[Metrics],
    confusion_matrix: Output[ClassificationMetrics],
    validation_report: Output[HTML],
    validation: Output[Dataset],
    workspace: str = "",
) -> bool:
    """Measure mAP50, mAP50-95, precision, recall and per-class AP; pass or fail the gate.

    Args:
        model: folder with ``model.onnx`` or ``best.pt``.
        yolo_dataset: output of the split step.
        split: ``auto`` (test when the dataset has one, else val), ``val`` or ``test``.
        imgsz: validation image size.
        min_map50_95: the gate's threshold.
        champion_dest: publish destination whose ``production.json`` names the champion, measured on the
            same split in this task; empty for none.
        champion_tolerance: how far below the champion's mAP50-95 the challenger may be.
        class_tolerance: the largest per-class AP50-95 drop allowed against the champion.
        allow_class_change: pass when the champion's classes differ (it cannot be compared).
        checkpoint_root: the run's records go to ``<checkpoint_root>/<run_id>/gate.json`` (for the run
            summary); empty for none.
        run_id: the pipeline job id.
        metrics: challenger and champion metrics and each gate check, for the run page.
        confusion_matrix: confusion matrix (classes + background).
        validation_report: HTML report: the gate's checks, challenger beside champion, plots.
        validation: metrics.json and plots (published with the model).
        workspace: the run workspace (``dsl.WORKSPACE_PATH_PLACEHOLDER``): KFP mounts it only into tasks
            given it (``needsWorkspaceMount``), and ``yolo_dataset`` is a manifest pointing into it.

    Returns:
        Whether the gate passed: a plain output for ``dsl.If`` (mAP50-95 is in ``metrics``). A single
        ``Output`` because kfp.local 2.17 resolves a condition on a named output of a multi-output
        task as a parent input and evaluates it to False.
    """
    from pathlib import Path

    from components._shared.kfp_io import log_confusion_matrix, log_metrics, publish_file
    from components._shared.run_records import record_root
    from components.validate.gate import GatePolicy
    from components.validate.stage import run_validation_stage

    out = Path(validation.path)
    policy = GatePolicy(min_map50_95, champion_tolerance, class_tolerance, allow_class_change)
    record = record_root(checkpoint_root, run_id)
    result = run_validation_stage(
        Path(model.path), Path(yolo_dataset.path), out, split, imgsz, policy, champion_dest, record
    )
    log_metrics(metrics, result.summary())
    log_confusion_matrix(confusion_matrix, out / "confusion_matrix.json")
    publish_file(out / "report.html", validation_report)
    return result.gate_passed
