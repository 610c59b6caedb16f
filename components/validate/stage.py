"""The pipeline's validation task: artifact folders and the production champion for ``validate_model``."""

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
    """``cfg`` with the production model of ``dest`` (and its version and manifest sha256) as champion.

    ``cfg`` is unchanged when nothing is in production. Raises StorageError when production.json is not a
    pointer or a downloaded file differs from its manifest.
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

    ``model_dir`` holds ``model.onnx`` (taken first) or ``best.pt``; ``champion_dest``'s ``production.json``
    names the champion; ``record_to`` receives ``gate.json`` (empty: no champion, no record).
    """
    work = Path(tempfile.mkdtemp(prefix="champion-"))
    try:
        cfg = ValidateConfig(split=split, imgsz=imgsz, gate=policy)
        if champion_dest:
            cfg = with_production_champion(cfg, champion_dest, work)
        result = validate_model(model_file(model_dir), dataset_dir, out_dir, cfg)
        gate = result.gate.to_dict() | {"map50_95": result.map50_95, "format": result.model_format}
        write_record(record_to, GATE_RECORD, gate)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
