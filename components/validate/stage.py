"""The validation task of the pipeline: find the model in its artifact folder, fetch the baseline, validate."""

from __future__ import annotations

import tempfile
from pathlib import Path

from components._shared.errors import ConfigError
from components.validate.core import ValidateConfig, ValidateResult, validate_model


def model_file(folder: Path) -> Path:
    """The model a folder holds: ``model.onnx`` first, else ``best.pt``."""
    folder = Path(folder)
    for name in ("model.onnx", "best.pt"):
        if (folder / name).is_file():
            return folder / name
    if folder.is_file():
        return folder
    raise ConfigError(f"{folder}: neither model.onnx nor best.pt in the model folder")


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
        baseline_dest: where published models live (``s3://bucket/name`` or a folder); its
            ``production.json`` names the model to beat. Empty: no baseline.
    """
    baseline = None
    if baseline_dest:
        from components.publish.core import production_baseline_metrics

        baseline = production_baseline_metrics(baseline_dest, Path(tempfile.mkdtemp()) / "baseline.json")
    cfg = ValidateConfig(split=split, imgsz=imgsz, min_map50_95=min_map50_95, baseline=baseline)
    return validate_model(model_file(model_dir), dataset_dir, out_dir, cfg)
