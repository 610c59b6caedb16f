"""Validation measures a .pt or .onnx model, writes its plots and decides the gate (a verdict, not an error)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _tiny import NAMES, TinyRun

from components._shared.errors import ConfigError, DatasetError
from components.validate.core import ValidateConfig, ValidateResult, decide_gate, validate_model

REPO = Path(__file__).resolve().parents[2]
TINY = {"imgsz": 64, "batch": 4, "device": "cpu"}


@pytest.fixture(scope="module")
def validated(frozen_run: TinyRun, tmp_path_factory: pytest.TempPathFactory) -> ValidateResult:
    out = tmp_path_factory.mktemp("validate") / "val"
    return validate_model(frozen_run.out_dir / "best.pt", frozen_run.data_yaml, out, ValidateConfig(**TINY))


@pytest.mark.slow
def test_validation_writes_metrics_confusion_matrix_pr_curve_and_report(validated: ValidateResult) -> None:
    """It writes metrics.json with per-class rows, a (classes+1)^2 confusion matrix, two PNGs and report.html."""
    out = validated.out_dir
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["per_class"]) == set(NAMES)
    assert metrics["instances"] == sum(c["instances"] for c in metrics["per_class"].values()) > 0
    assert {"map50", "map50_95", "precision", "recall"} <= set(metrics)
    cm = json.loads((out / "confusion_matrix.json").read_text())
    assert cm["labels"] == [*NAMES, "background"]
    assert len(cm["matrix"]) == len(cm["labels"]) and all(len(r) == len(cm["labels"]) for r in cm["matrix"])
    assert sum(sum(r) for r in cm["matrix"][: len(NAMES)]) == metrics["instances"]  # rows are true classes
    for png in ("confusion_matrix.png", "pr_curve.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 2 and "Gate PASSED" in report
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["metrics.json", "confusion_matrix.json", "confusion_matrix.png", "pr_curve.png", "report.html"]
    )


@pytest.mark.slow
def test_gate_passes_at_zero_and_blocks_at_one(
    frozen_run: TinyRun, validated: ValidateResult, tmp_path: Path
) -> None:
    """min_map50_95=0 passes; min_map50_95=1.0 fails with the reason, and the stage still succeeds."""
    assert validated.gate_passed and validated.gate.threshold == 0.0
    blocked = validate_model(
        frozen_run.out_dir / "best.pt",
        frozen_run.data_yaml,
        tmp_path / "v",
        ValidateConfig(min_map50_95=1.0, **TINY),
    )
    assert blocked.gate_passed is False and "< threshold 1.0000" in blocked.gate.reason
    assert json.loads((tmp_path / "v" / "metrics.json").read_text())["gate"]["passed"] is False


@pytest.mark.slow
def test_challenger_must_be_at_least_as_good_as_the_baseline(
    frozen_run: TinyRun, validated: ValidateResult, tmp_path: Path
) -> None:
    """A baseline with a higher mAP50-95 fails the gate; an equal one passes it."""
    better = tmp_path / "better.json"
    better.write_text(json.dumps({"map50_95": validated.map50_95 + 0.1}))
    equal = tmp_path / "equal.json"
    equal.write_text((validated.out_dir / "metrics.json").read_text())
    weights = frozen_run.out_dir / "best.pt"
    lost = validate_model(
        weights, frozen_run.data_yaml, tmp_path / "a", ValidateConfig(baseline=better, **TINY)
    )
    assert lost.gate_passed is False and "production model is better" in lost.gate.reason
    assert lost.gate.baseline_map50_95 == pytest.approx(validated.map50_95 + 0.1)
    tied = validate_model(
        weights, frozen_run.data_yaml, tmp_path / "b", ValidateConfig(baseline=equal, **TINY)
    )
    assert tied.gate_passed is True and ">= baseline" in tied.gate.reason


@pytest.mark.slow
def test_onnx_model_validates_like_the_checkpoint(
    frozen_run: TinyRun, validated: ValidateResult, tmp_path: Path
) -> None:
    """The exported model.onnx (names and size from its metadata) gives the same instances and close mAP."""
    from components.export.core import ExportConfig, export_onnx

    exported = export_onnx(
        frozen_run.out_dir / "best.pt", tmp_path / "onnx", ExportConfig(imgsz=64, latency_runs=1)
    )
    onnx = validate_model(exported.onnx_path, frozen_run.data_yaml, tmp_path / "v", ValidateConfig(**TINY))
    assert onnx.model_format == "onnx" and onnx.instances == validated.instances
    assert onnx.map50_95 == pytest.approx(validated.map50_95, abs=0.02)
    per_class = json.loads((tmp_path / "v" / "metrics.json").read_text())["per_class"]
    assert set(per_class) == set(NAMES)


def test_gate_decision_table() -> None:
    """Pass iff above the threshold and not below the baseline; the reason names both checks."""
    assert decide_gate(0.5, 0.3, None).passed
    assert not decide_gate(0.2, 0.3, None).passed
    assert not decide_gate(0.5, 0.3, 0.6).passed
    assert decide_gate(0.6, 0.3, 0.6).passed
    assert decide_gate(0.5, 0.6, 0.4).reason == "mAP50-95 0.5000 < threshold 0.6000; >= baseline 0.4000"


def test_missing_split_unknown_weights_and_bad_baseline_are_refused(tiny_data: Path, tmp_path: Path) -> None:
    """No 'test' list, a .txt model and a baseline without map50_95 each raise before any model loads."""
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"x")
    (tiny_data.parent / "dataset.yaml").write_text(
        "path: .\ntrain: train.txt\nval: val.txt\nnames: [square, bar]\n"
    )
    with pytest.raises(DatasetError, match="no 'test' split"):
        validate_model(weights, tiny_data, tmp_path / "o", ValidateConfig(split="test"))
    with pytest.raises(ConfigError, match=r"\.pt checkpoint or a \.onnx"):
        validate_model(tmp_path / "model.txt", tiny_data, tmp_path / "o")
    bad = tmp_path / "baseline.json"
    bad.write_text('{"map50": 0.4}')
    with pytest.raises(ConfigError, match="no numeric 'map50_95'"):
        validate_model(weights, tiny_data, tmp_path / "o", ValidateConfig(baseline=bad))


def test_cli_missing_weights_is_one_line_exit_2(tiny_data: Path, tmp_path: Path) -> None:
    """``yolo-kfp validate`` with a missing model exits 2 with one line and no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "validate", "--weights", str(tmp_path / "best.pt"), "--data",
         str(tiny_data), "--split", "val", "--out", str(tmp_path / "o")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"yolo-kfp validate: error: --weights {tmp_path / 'best.pt'}: file not found"
    ]
