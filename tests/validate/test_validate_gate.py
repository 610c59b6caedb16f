"""Validation measures a .pt or .onnx model (and the champion, on the same split) and decides the gate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _tiny import NAMES, TinyRun, make_checkpoint

from components._shared.errors import ConfigError, DatasetError
from components._shared.fsio import OUTPUT_MARKER
from components.validate.core import ValidateConfig, ValidateResult, validate_model
from components.validate.gate import Champion, GatePolicy, decide_gate

REPO = Path(__file__).resolve().parents[2]
TINY = {"imgsz": 64, "batch": 4, "device": "cpu"}


@pytest.fixture(scope="module")
def validated(frozen_run: TinyRun, tmp_path_factory: pytest.TempPathFactory) -> ValidateResult:
    out = tmp_path_factory.mktemp("validate") / "val"
    return validate_model(frozen_run.out_dir / "best.pt", frozen_run.data_yaml, out, ValidateConfig(**TINY))


@pytest.fixture(scope="module")
def untrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random checkpoint with the dataset's classes: a worse model that passes the class contract."""
    return make_checkpoint(tmp_path_factory.mktemp("untrained") / "random.pt", names=NAMES, seed=7)


@pytest.mark.slow
def test_validation_writes_metrics_confusion_matrix_pr_curve_and_report(validated: ValidateResult) -> None:
    """It writes metrics.json with per-class rows, a (classes+1)^2 confusion matrix, the plots and report.html."""
    out = validated.out_dir
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["per_class"]) == set(NAMES) and metrics["names"] == list(NAMES)
    assert metrics["instances"] == sum(c["instances"] for c in metrics["per_class"].values()) > 0
    assert {"map50", "map50_95", "precision", "recall"} <= set(metrics)
    cm = json.loads((out / "confusion_matrix.json").read_text())
    assert cm["labels"] == [*NAMES, "background"]
    assert len(cm["matrix"]) == len(cm["labels"]) and all(len(r) == len(cm["labels"]) for r in cm["matrix"])
    assert sum(sum(r) for r in cm["matrix"][: len(NAMES)]) == metrics["instances"]  # rows are true classes
    for png in ("confusion_matrix.png", "pr_curve.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out / "report.html").read_text()
    # confusion matrix, PR curve, confidence curves, and one drawn image per test image (4 < samples=6)
    assert report.count("data:image/png;base64,") == 3 + 4 and "Gate PASSED" in report
    assert sorted(p.name for p in out.iterdir() if p.name != OUTPUT_MARKER) == sorted(
        ["metrics.json", "confusion_matrix.json", "confusion_matrix.png", "pr_curve.png", "report.html",
         "confidence_curves.png", "predictions"]
    )  # fmt: skip


@pytest.mark.slow
def test_auto_split_is_test_when_the_dataset_has_one(validated: ValidateResult) -> None:
    """It measures on the test split (never used to pick a checkpoint) by default, and says so."""
    assert validated.split == "test" and validated.gate.split == "test"
    assert "first run, the threshold alone decides" in validated.gate.reason


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
        ValidateConfig(gate=GatePolicy(threshold=1.0), **TINY),
    )
    assert blocked.gate_passed is False and "< threshold 1.0000" in blocked.gate.reason
    assert json.loads((tmp_path / "v" / "metrics.json").read_text())["gate"]["passed"] is False


@pytest.mark.slow
def test_challenger_is_measured_against_the_champion_on_the_same_split(
    frozen_run: TinyRun, validated: ValidateResult, untrained: Path, tmp_path: Path
) -> None:
    """It measures the champion here, on the challenger's split, and compares the two numbers it measured.

    (That a clearly worse model is refused is shown end to end in tests/pipelines/test_local_run_e2e.py;
    on this tiny data both models score close to 0, so only the mechanism is checked here.)
    """
    trained = frozen_run.out_dir / "best.pt"
    other = validate_model(
        untrained, frozen_run.data_yaml, tmp_path / "a", ValidateConfig(champion=trained, **TINY)
    )
    assert other.gate.champion_map50_95 == pytest.approx(validated.map50_95, abs=1e-6)
    assert other.gate.check("champion").passed == (other.map50_95 >= validated.map50_95)
    assert f"champion best.pt {validated.map50_95:.4f} on the same test split" in other.gate.reason
    tied = validate_model(
        trained, frozen_run.data_yaml, tmp_path / "b", ValidateConfig(champion=trained, **TINY)
    )
    assert tied.gate_passed is True and tied.gate.check("per_class").passed
    metrics = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert metrics["champion"]["map50_95"] == pytest.approx(tied.map50_95)
    assert {c["name"] for c in metrics["gate"]["checks"]} == {"threshold", "champion", "per_class"}
    report = (tmp_path / "b" / "report.html").read_text()
    assert "champion (best.pt)" in report and "champion AP50-95" in report
    summary = tied.summary()
    assert summary["gate_champion_passed"] == 1.0 and "champion_map50_95" in summary


@pytest.mark.slow
def test_a_champion_with_other_classes_is_not_compared(frozen_run: TinyRun, tmp_path: Path) -> None:
    """A production model with other classes blocks promotion unless allow_class_change is set."""
    other = make_checkpoint(tmp_path / "other.pt", nc=3)
    weights = frozen_run.out_dir / "best.pt"
    blocked = validate_model(
        weights, frozen_run.data_yaml, tmp_path / "a", ValidateConfig(champion=other, **TINY)
    )
    assert (
        not blocked.gate_passed
        and "has other classes [pretrain0, pretrain1, pretrain2]" in blocked.gate.reason
    )
    allowed = ValidateConfig(champion=other, gate=GatePolicy(allow_class_change=True), **TINY)
    assert validate_model(weights, frozen_run.data_yaml, tmp_path / "b", allowed).gate_passed


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["pt", "onnx"])
def test_a_model_with_reordered_classes_is_refused(frozen_run: TinyRun, tmp_path: Path, fmt: str) -> None:
    """It refuses (one line naming both lists) a model whose class order differs from the dataset's."""
    reordered = make_checkpoint(tmp_path / "rev.pt", names=tuple(reversed(NAMES)))
    if fmt == "onnx":
        from components.export.core import ExportConfig, export_onnx

        reordered = export_onnx(
            reordered, tmp_path / "onnx", ExportConfig(imgsz=64, latency_runs=1)
        ).onnx_path
    with pytest.raises(
        ConfigError, match=r"model classes \[bar, square\] differ from .* classes \[square, bar\]"
    ):
        validate_model(reordered, frozen_run.data_yaml, tmp_path / "v", ValidateConfig(**TINY))
    assert not (tmp_path / "v").exists()


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


def _champ(map50_95: float, per_class: dict[str, float], compared: bool = True) -> Champion:
    return Champion(
        "v1", tuple(per_class), compared, map50_95, None, {n: {"ap50_95": v} for n, v in per_class.items()}
    )


def test_gate_decision_table() -> None:
    """Pass iff over the threshold, not below the champion (minus the tolerance), and no class drops too far."""
    mine = {"a": {"ap50_95": 0.50}, "b": {"ap50_95": 0.40}}
    policy = GatePolicy(threshold=0.3)
    assert decide_gate(0.45, mine, None, policy, "test").passed
    assert not decide_gate(0.2, mine, None, policy, "test").passed
    assert not decide_gate(0.45, mine, _champ(0.46, {"a": 0.5, "b": 0.42}), policy, "test").passed
    assert decide_gate(0.45, mine, _champ(0.46, {"a": 0.5, "b": 0.42}), GatePolicy(0.3, 0.02), "test").passed
    assert decide_gate(0.45, mine, _champ(0.45, {"a": 0.5, "b": 0.40}), policy, "test").passed
    dropped = decide_gate(0.45, mine, _champ(0.40, {"a": 0.3, "b": 0.50}), policy, "test")
    assert not dropped.passed and dropped.check("champion").passed and not dropped.check("per_class").passed
    assert "drops beyond 0.0500: b -0.1000" in dropped.reason
    assert decide_gate(
        0.45, mine, _champ(0.40, {"a": 0.3, "b": 0.50}), GatePolicy(0.3, 0, 0.2), "test"
    ).passed
    other = _champ(0.9, {"x": 0.9}, compared=False)
    assert not decide_gate(0.45, mine, other, policy, "test").passed
    assert decide_gate(0.45, mine, other, GatePolicy(0.3, allow_class_change=True), "test").passed
    first = decide_gate(0.5, mine, None, GatePolicy(0.6), "val")
    assert first.reason.startswith("mAP50-95 0.5000 < threshold 0.6000; no production model: first run")


def test_missing_split_unknown_weights_and_empty_lists_are_refused(tiny_data: Path, tmp_path: Path) -> None:
    """No 'test' list, a .txt model, an empty val list and a bad tolerance each raise before any model loads."""
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"x")
    (tiny_data.parent / "dataset.yaml").write_text(
        "path: .\ntrain: train.txt\nval: val.txt\nnames: [square, bar]\n"
    )
    with pytest.raises(DatasetError, match="no 'test' split"):
        validate_model(weights, tiny_data, tmp_path / "o", ValidateConfig(split="test"))
    with pytest.raises(ConfigError, match=r"\.pt checkpoint or a \.onnx"):
        validate_model(tmp_path / "model.txt", tiny_data, tmp_path / "o")
    with pytest.raises(ConfigError, match="must be >= 0"):
        validate_model(
            weights, tiny_data, tmp_path / "o", ValidateConfig(gate=GatePolicy(class_tolerance=-1))
        )
    (tiny_data.parent / "val.txt").write_text("\n")
    with pytest.raises(DatasetError, match=r"val.txt: the val list names no image"):
        validate_model(weights, tiny_data, tmp_path / "o", ValidateConfig(split="auto"))


def test_out_folder_may_not_hold_the_inputs(tiny_data: Path, tmp_path: Path) -> None:
    """It refuses an --out that is the weights' folder or the dataset, and nothing there is touched."""
    weights = tmp_path / "run" / "best.pt"
    weights.parent.mkdir()
    weights.write_bytes(b"x")
    for out in (weights.parent, tiny_data.parent, tiny_data.parent / "v"):
        with pytest.raises(ConfigError, match="the input"):
            validate_model(weights, tiny_data, out)
    assert weights.read_bytes() == b"x" and (tiny_data.parent / "train.txt").is_file()


def test_cli_missing_weights_is_one_line_exit_2(tiny_data: Path, tmp_path: Path) -> None:
    """``yolo-kfp validate`` with a missing model exits 2 with one line and no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "validate", "--weights", str(tmp_path / "best.pt"), "--dataset",
         str(tiny_data), "--split", "val", "--out", str(tmp_path / "o")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"yolo-kfp validate: error: --weights {tmp_path / 'best.pt'}: file not found"
    ]
