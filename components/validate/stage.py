"""The validation task of the pipeline: adapts KFP artifact folders to ``validate_model``.

``components/validate/component.py`` calls this with folders, not files: it finds the model in the
model folder (``components._shared.artifacts.model_file``: ``model.onnx`` first, else ``best.pt``)
and, with a publish destination, downloads the production model (every file checked against its
manifest's sha256) so the gate measures champion and challenger on the same split in this task.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from components._shared.artifacts import model_file
from components._shared.run_records import GATE_RECORD, write_record
from components.validate.core import ValidateConfig, ValidateResult, validate_model
from components.validate.gate import GatePolicy


def with_production_champion(cfg: ValidateConfig, dest: str, work_dir: Path) -> ValidateConfig:
    """``cfg`` with the production model of ``dest`` as its champion, downloaded into ``work_dir``.

    The champion's version and manifest sha256 come from production.json, so the gate records which
    production model it measured (promotion refuses the verdict once production is another one).

    Returns:
        ``cfg`` unchanged when nothing is in production (the gate then records that it measured none).

    Raises:
        StorageError: production.json is not a pointer, or a file differs from its manifest.
    """
    from components._shared.production import fetch_production_model

    prod = fetch_production_model(dest, work_dir)
    if prod is None:
        return cfg
    return replace(
        cfg,
        champion=prod.model_path,
        champion_version=prod.version,
        champion_manifest_sha256=prod.manifest_sha256,
    )


def run_validation_stage(
    model_dir: Path,
    dataset_dir: Path,
    out_dir: Path,
    split: str,
    imgsz: int,
    policy: GatePolicy,
    champion_dest: str = "",
    record_to: str = "",
) -> ValidateResult:
    """Validate the model in ``model_dir`` and gate it against the threshold and the production model.

    Args:
        model_dir: folder with ``model.onnx`` or ``best.pt`` (or the model file itself).
        dataset_dir: the split stage's folder (``dataset.yaml``).
        out_dir: folder to write (replaced atomically).
        split: ``auto`` (test when the dataset has one), ``val`` or ``test``.
        imgsz: validation image size.
        policy: threshold, tolerances and whether a class change may be promoted.
        champion_dest: where published models live (``s3://bucket/name`` or a folder); its
            ``production.json`` names the champion. Empty: no champion (threshold only).
        record_to: the run's record folder (``components._shared.run_records``): the verdict is left
            there as ``gate.json`` for the run summary. Empty: no record.

    Returns:
        Metrics and the gate verdict.
    """
    work = Path(tempfile.mkdtemp(prefix="champion-"))
    try:
        cfg = ValidateConfig(
            split=split, imgsz=imgsz, min_map50_95=policy.threshold, champion_tolerance=policy.champion_tolerance,
            class_tolerance=policy.class_tolerance, allow_class_change=policy.allow_class_change,
        )  # fmt: skip
        if champion_dest:
            cfg = with_production_champion(cfg, champion_dest, work)
        result = validate_model(model_file(model_dir), dataset_dir, out_dir, cfg)
        gate = result.gate.to_dict() | {"map50_95": result.map50_95, "format": result.model_format}
        write_record(record_to, GATE_RECORD, gate)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
