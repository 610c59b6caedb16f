"""The validation task of the pipeline: adapts KFP artifact folders to ``validate_model``.

``components/validate/component.py`` calls this with folders, not files: it finds the model in the
model folder (``components._shared.artifacts.model_file``: ``model.onnx`` first, else ``best.pt``)
and fetches the production model's metrics from the publish destination as the baseline to beat.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from components._shared.artifacts import model_file
from components.validate.core import ValidateConfig, ValidateResult, validate_model


def run_validation_stage(
    model_dir: Path,
    dataset_dir: Path,
    out_dir: Path,
    split: str,
    imgsz: int,
    min_map50_95: float,
    baseline_dest: str = "",
) -> ValidateResult:
    """Validate the model in ``model_dir`` and gate it against ``min_map50_95`` and production.

    Args:
        model_dir: folder with ``model.onnx`` or ``best.pt`` (or the model file itself).
        dataset_dir: the split stage's folder (``dataset.yaml``).
        out_dir: folder to write (replaced atomically).
        split: ``val`` or ``test``.
        imgsz: validation image size.
        min_map50_95: the gate's absolute threshold.
        baseline_dest: where published models live (``s3://bucket/name`` or a folder); its
            ``production.json`` names the model to beat. Empty: no baseline.

    Returns:
        Metrics and the gate verdict.
    """
    baseline = None
    if baseline_dest:
        from components._shared.production import production_baseline_metrics

        baseline = production_baseline_metrics(baseline_dest, Path(tempfile.mkdtemp()) / "baseline.json")
    cfg = ValidateConfig(split=split, imgsz=imgsz, min_map50_95=min_map50_95, baseline=baseline)
    return validate_model(model_file(model_dir), dataset_dir, out_dir, cfg)
