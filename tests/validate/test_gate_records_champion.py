"""The gate records which production model it measured, so promotion can refuse a verdict gone stale.

Issue 24 (round 3): two overlapping pipeline runs gated against one champion must promote exactly once.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _tiny import NAMES, make_checkpoint

from components._shared.production import read_production
from components.publish.core import PublishConfig, StaleGate, publish_model, run_publish_stage
from components.validate.core import ValidateConfig
from components.validate.gate import Champion, GatePolicy, decide_gate
from components.validate.stage import run_validation_stage, with_production_champion

SHA = "ab" * 32


def _publish_champion(tmp_path: Path, dest: str) -> None:
    """Promote a random checkpoint with the tiny dataset's classes as production version p0."""
    folder = tmp_path / "champion"
    make_checkpoint(folder / "best.pt", names=NAMES, seed=1)
    (folder / "model.json").write_text(json.dumps({"names": list(NAMES), "imgsz": 64}))
    (folder / "metrics.json").write_text(json.dumps({"map50_95": 0.0, "gate": {"passed": True}}))
    publish_model(folder, dest, PublishConfig(version="p0", promote=True))


def test_gate_records_the_production_model_it_measured() -> None:
    """It writes the champion's version and manifest sha256 into the verdict, and null for none."""
    champion = Champion(version="p0", names=NAMES, compared=True, map50_95=0.4, manifest_sha256=SHA)
    measured = decide_gate(0.5, {}, champion, GatePolicy(), "test").to_dict()
    assert (measured["champion_version"], measured["champion_manifest_sha256"]) == ("p0", SHA)
    first = decide_gate(0.5, {}, None, GatePolicy(), "test").to_dict()
    assert first["passed"] and first["champion_version"] is None and first["champion_manifest_sha256"] is None
    other = Champion(version="p0", names=("x",), compared=False, manifest_sha256=SHA)
    allowed = decide_gate(0.5, {}, other, GatePolicy(allow_class_change=True), "test")
    assert allowed.passed and allowed.champion_manifest_sha256 == SHA


def test_the_champion_of_a_destination_carries_its_production_identity(tmp_path: Path) -> None:
    """It takes version and manifest sha256 from production.json, and leaves the config alone without one."""
    dest = str(tmp_path / "models")
    assert with_production_champion(ValidateConfig(), dest, tmp_path / "w0") == ValidateConfig()
    _publish_champion(tmp_path, dest)
    cfg = with_production_champion(ValidateConfig(), dest, tmp_path / "w1")
    pointer = read_production(dest)
    assert (
        cfg.champion is not None
        and cfg.champion.read_bytes() == (tmp_path / "champion" / "best.pt").read_bytes()
    )
    assert (cfg.champion_version, cfg.champion_manifest_sha256) == ("p0", pointer["manifest_sha256"])


def test_two_overlapping_pipeline_runs_gated_on_one_champion_promote_once(
    tmp_path: Path, tiny_data: Path
) -> None:
    """It runs two runs' gate tasks against production p0, then their publish tasks: one promotes, one is refused."""
    dest = str(tmp_path / "models")
    _publish_champion(tmp_path, dest)
    # random models: tolerances wide enough that both pass, as two real runs both beating p0 would
    policy = GatePolicy(threshold=0.0, champion_tolerance=1.0, class_tolerance=1.0)
    runs = {}
    for seed, run in enumerate(("schedule", "push"), start=2):
        weights = make_checkpoint(tmp_path / run / "weights" / "best.pt", names=NAMES, seed=seed)
        val = run_validation_stage(
            weights.parent, tiny_data, tmp_path / run / "validation", "auto", 64, policy, dest
        )
        gate = json.loads((val.out_dir / "metrics.json").read_text())["gate"]
        assert val.gate_passed and gate["champion_version"] == "p0"
        assert gate["champion_manifest_sha256"] == read_production(dest)["manifest_sha256"]
        runs[run] = (weights, val.out_dir)
    empty = tmp_path / "no-onnx"
    empty.mkdir()
    first = run_publish_stage(empty, runs["schedule"][0], runs["schedule"][1], dest, "a" * 64, True)
    assert first.promoted and read_production(dest)["version"] == first.version
    with pytest.raises(
        StaleGate, match=rf"production is {first.version} .* measured p0 .* not promoted"
    ) as err:
        run_publish_stage(empty, runs["push"][0], runs["push"][1], dest, "b" * 64, True)
    assert "\n" not in str(err.value)
    prod = read_production(dest)
    assert prod["version"] == first.version and [h["version"] for h in prod["history"]] == ["p0"]


def test_validate_cli_with_champion_dest_records_the_production_model(
    tmp_path: Path, tiny_data: Path
) -> None:
    """It measures DEST's production model and writes its version and manifest sha256 into the gate."""
    import subprocess
    import sys

    dest = str(tmp_path / "models")
    _publish_champion(tmp_path, dest)
    weights = make_checkpoint(tmp_path / "challenger" / "best.pt", names=NAMES, seed=5)
    args = ["validate", "--weights", str(weights), "--dataset", str(tiny_data), "--out", str(tmp_path / "v"),
            "--imgsz", "64", "--device", "cpu", "--champion-dest", dest]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    gate = json.loads((tmp_path / "v" / "metrics.json").read_text())["gate"]
    assert gate["champion_version"] == "p0"
    assert gate["champion_manifest_sha256"] == read_production(dest)["manifest_sha256"]
