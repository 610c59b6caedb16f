"""``yolo-kfp train``, ``validate`` and ``export`` as processes: stdout is only the JSON summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _tiny import TinyRun

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)  # Ultralytics' logs and progress bars went to stderr


def test_train_validate_export_commands_chain(frozen_run: TinyRun, tmp_path: Path) -> None:
    """The three commands run in sequence on the CLI and each prints a parseable result."""
    data, out = str(frozen_run.data_yaml), tmp_path
    trained = cli(
        "train", "--dataset", data, "--weights", str(frozen_run.init_weights), "--out", str(out / "frozen"),
        "--freeze", "10", "--epochs", "1", "--imgsz", "64", "--batch", "4", "--lr0", "0.01",
        "--device", "cpu", "--warmup-epochs", "0", "--stage-name", "frozen",
    )  # fmt: skip
    assert trained["frozen_verified"] is True and trained["stage_name"] == "frozen"
    exported = cli(
        "export",
        "--weights",
        trained["best"],
        "--out",
        str(out / "onnx"),
        "--imgsz",
        "64",
        "--parity-images",
        data,
    )
    assert exported["parity_images"] == 4
    validated = cli(
        "validate", "--weights", exported["onnx_path"], "--dataset", data, "--split", "test", "--out", str(out / "val"),
        "--min-map50-95", "1.0",  # (--baseline was replaced by --champion in issue 12)
    )  # fmt: skip
    assert validated["gate"]["passed"] is False and validated["model_format"] == "onnx"
