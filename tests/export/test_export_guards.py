"""export never replaces a folder holding its input (best.pt) or foreign files; its model card and the
ONNX metadata carry the class names in index order."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _tiny import NAMES, TinyRun

from components._shared.errors import ConfigError
from components._yolo.model import model_names
from components.export.core import ExportConfig, export_onnx

TINY = ExportConfig(imgsz=64, latency_runs=1, parity_count=1)


def test_out_holding_the_weights_is_refused_and_nothing_is_lost(frozen_run: TinyRun, tmp_path: Path) -> None:
    """--out = the folder of best.pt (today it replaced the whole folder, best.pt included): exit 2."""
    run = tmp_path / "frozen"
    shutil.copytree(frozen_run.out_dir, run)
    before = sorted(p.relative_to(run).as_posix() for p in run.rglob("*"))
    for out in (run, tmp_path):
        with pytest.raises(ConfigError, match=r"contains the input .*best\.pt"):
            export_onnx(run / "best.pt", out, TINY)
    assert sorted(p.relative_to(run).as_posix() for p in run.rglob("*")) == before


def test_foreign_files_need_overwrite_and_names_are_recorded(frozen_run: TinyRun, tmp_path: Path) -> None:
    """A folder with a foreign file needs --overwrite; model.json, the ONNX metadata and model_names agree."""
    out = tmp_path / "frozen" / "onnx"  # beside best.pt: allowed, it only adds its own folder
    shutil.copytree(frozen_run.out_dir, tmp_path / "frozen")
    out.mkdir()
    (out / "keep.txt").write_text("x")
    weights = tmp_path / "frozen" / "best.pt"
    with pytest.raises(ConfigError, match=r"holds 1 file\(s\) this stage did not write"):
        export_onnx(weights, out, TINY)
    result = export_onnx(weights, out, ExportConfig(**{**TINY.__dict__, "overwrite": True}))
    card = json.loads((result.out_dir / "model.json").read_text())
    assert card["names"] == list(NAMES) == card["classes"]
    assert model_names(result.onnx_path) == NAMES == model_names(weights)
    assert weights.is_file()
    export_onnx(weights, out, TINY)  # a re-run into its own output needs no --overwrite
