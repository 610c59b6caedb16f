"""KFP component: validate a PyTorch or ONNX model and decide the publishing gate."""

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
    baseline_dest: str,
    metrics: Output[Metrics],
    confusion_matrix: Output[ClassificationMetrics],
    validation_report: Output[HTML],
    validation: Output[Dataset],
) -> bool:
    """Measure mAP50, mAP50-95, precision, recall and per-class AP; pass or fail the gate.

    Args:
        model: folder with ``model.onnx`` or ``best.pt``.
        yolo_dataset: output of the split step.
        split: ``val`` or ``test``.
        imgsz: validation image size.
        min_map50_95: the gate's threshold.
        baseline_dest: publish destination whose ``production.json`` holds the model to beat; empty for none.
        metrics: scalar metrics for the run page.
        confusion_matrix: confusion matrix (classes + background).
        validation_report: HTML report with the per-class table, confusion matrix and PR curve.
        validation: metrics.json and plots (published with the model).

    Returns:
        Whether the gate passed: a plain output for ``dsl.If`` (mAP50-95 is in ``metrics``). A single
        ``Output`` because kfp.local 2.17 resolves a condition on a named output of a multi-output
        task as a parent input and evaluates it to False.
    """
    from pathlib import Path

    from components._shared.kfp_io import log_confusion_matrix, log_metrics, publish_file
    from components.validate.stage import run_validation_stage

    out = Path(validation.path)
    result = run_validation_stage(
        Path(model.path), Path(yolo_dataset.path), out, split, imgsz, min_map50_95, baseline_dest
    )
    log_metrics(metrics, result.summary())
    log_confusion_matrix(confusion_matrix, out / "confusion_matrix.json")
    publish_file(out / "report.html", validation_report)
    return result.gate_passed
