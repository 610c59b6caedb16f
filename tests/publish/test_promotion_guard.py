"""Promotion is conditioned on what the gate measured, and production.json is schema-checked on every read.

Issue 24 (round 3): a verdict measured against no champion, or against a production model that has
since changed, must not promote; a ``production.json`` that is valid JSON but not a production pointer
is refused, never read as "nothing in production" and never overwritten.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from gating import gate_against, race, record_gate

from components._shared.errors import StorageError
from components._shared.production import fetch_production_model, read_production
from components._shared.storage import backend_for
from components.publish.core import (
    PublishConfig,
    PublishResult,
    StaleGate,
    list_versions,
    promote_version,
    publish_model,
)

REPO = Path(__file__).resolve().parents[2]
FP = "5eed0123abcd" + "0" * 52
RACE_ROUNDS = 6


def _model_dir(root: Path, map50_95: float = 0.5) -> Path:
    """A publishable folder with a random model and a passing gate that measured no champion."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.onnx").write_bytes(os.urandom(4000))
    card = {"names": ["helmet", "head"], "imgsz": 320, "dataset_fingerprint": FP}
    (root / "model.json").write_text(json.dumps(card))
    gate = {"passed": True, "reason": "ok", "champion_version": None, "champion_manifest_sha256": None}
    (root / "metrics.json").write_text(json.dumps({"map50_95": map50_95, "gate": gate}))
    return root


@pytest.fixture(params=["local", "s3"])
def dest(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A publish destination: a local folder, or s3://<fresh bucket>/helmet on moto."""
    if request.param == "local":
        return str(tmp_path / "models" / "helmet")
    return f"s3://{request.getfixturevalue('bucket')}/helmet"


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *argv], capture_output=True, text=True, cwd=REPO, timeout=120
    )


def test_promote_refuses_a_verdict_measured_against_no_champion_once_production_exists(
    dest: str, tmp_path: Path
) -> None:
    """It publishes but does not promote a model whose gate saw no production model, while one exists."""
    publish_model(_model_dir(tmp_path / "champion", 0.181), dest, PublishConfig(version="p0", promote=True))
    worse = _model_dir(tmp_path / "worse", 0.118)  # gate: threshold only, "first run"
    with pytest.raises(StaleGate, match=r"production is p0 .* the gate of w1 measured no production model"):
        publish_model(worse, dest, PublishConfig(version="w1", promote=True))
    legacy = _model_dir(tmp_path / "legacy", 0.118)
    (legacy / "metrics.json").write_text(json.dumps({"map50_95": 0.118, "gate": {"passed": True}}))
    with pytest.raises(StaleGate, match="not promoted") as err:
        publish_model(legacy, dest, PublishConfig(version="w2", promote=True))
    assert "\n" not in str(err.value) and "w2 stays published" in str(err.value)
    assert read_production(dest)["version"] == "p0" and read_production(dest)["history"] == []
    assert list_versions(dest) == ["p0", "w1", "w2"]
    with pytest.raises(StaleGate, match="measured no production model"):
        promote_version(dest, "w1")
    assert read_production(dest)["version"] == "p0"


def test_promote_refuses_a_verdict_measured_against_a_replaced_production(dest: str, tmp_path: Path) -> None:
    """It refuses a challenger gated against p0 once another challenger replaced p0; p0's successor stays."""
    publish_model(_model_dir(tmp_path / "p0", 0.3), dest, PublishConfig(version="p0", promote=True))
    first = gate_against(_model_dir(tmp_path / "a", 0.6), dest)
    late = gate_against(_model_dir(tmp_path / "b", 0.4), dest)
    assert publish_model(first, dest, PublishConfig(version="a", promote=True)).promoted
    with pytest.raises(
        StaleGate, match=r"production is a \(manifest [0-9a-f]{12}\) but the gate of b measured p0"
    ):
        publish_model(late, dest, PublishConfig(version="b", promote=True))
    with pytest.raises(StaleGate, match="the gate of b measured p0"):
        promote_version(dest, "b")
    prod = read_production(dest)
    assert prod["version"] == "a" and [h["version"] for h in prod["history"]] == ["p0"]


def test_a_verdict_naming_production_with_another_manifest_is_refused(dest: str, tmp_path: Path) -> None:
    """It compares the manifest sha256 too, not only the version name the gate wrote down."""
    publish_model(_model_dir(tmp_path / "p0"), dest, PublishConfig(version="p0", promote=True))
    forged = record_gate(_model_dir(tmp_path / "c", 0.9), "p0", "0" * 64)
    with pytest.raises(StaleGate, match="measured p0 \\(manifest 000000000000\\)"):
        publish_model(forged, dest, PublishConfig(version="c", promote=True))
    assert read_production(dest)["version"] == "p0"


def test_two_overlapping_runs_promote_exactly_once(dest: str, tmp_path: Path) -> None:
    """It lets exactly one of two challengers gated against one champion promote; production never gets worse."""
    for rnd in range(RACE_ROUNDS):
        where = f"{dest}-{rnd}"
        champion = publish_model(
            _model_dir(tmp_path / f"{rnd}" / "p0", 0.5), where, PublishConfig(version="p0", promote=True)
        )
        runs = {name: gate_against(_model_dir(tmp_path / f"{rnd}" / name, score), where)
                for name, score in (("schedule", 0.61), ("push", 0.55))}  # fmt: skip
        results = race(
            *(
                partial(publish_model, m, where, PublishConfig(version=n, promote=True))
                for n, m in runs.items()
            )
        )
        won = [r for r in results if isinstance(r, PublishResult) and r.promoted]
        refused = [r for r in results if isinstance(r, StaleGate)]
        assert len(won) == 1 and len(refused) == 1, f"round {rnd}: {results}"
        prod = read_production(where)
        assert prod["version"] == won[0].version and [h["version"] for h in prod["history"]] == ["p0"]
        assert prod["metrics"]["map50_95"] >= 0.5 and champion.version == "p0"
        assert sorted(list_versions(where)) == ["p0", "push", "schedule"]  # the refused one stays published


def test_cli_publish_promote_and_promote_refuse_a_stale_verdict_in_one_line(tmp_path: Path) -> None:
    """It exits 2 with one line for ``publish --promote`` and ``promote``; production stays the champion."""
    dest = str(tmp_path / "models")
    publish_model(_model_dir(tmp_path / "p0", 0.181), dest, PublishConfig(version="p0", promote=True))
    before = (Path(dest) / "production.json").read_bytes()
    model = str(_model_dir(tmp_path / "worse", 0.118))
    published = _cli("publish", "--model", model, "--dest", dest, "--promote", "--model-version", "w1")
    promoted = _cli("promote", "--dest", dest, "--model-version", "w1")
    for proc in (published, promoted):
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        lines = proc.stderr.strip().splitlines()  # INFO logs of the upload, then the one-line error
        assert [n for n, line in enumerate(lines) if "error:" in line] == [len(lines) - 1]
        assert "not promoted" in lines[-1] and "measured no production model" in lines[-1]
    assert (Path(dest) / "production.json").read_bytes() == before
    assert list_versions(dest) == ["p0", "w1"]


POINTERS = {
    "a list": [{"version": "p0"}],
    "null": None,
    "a string": "p0",
    "a number": 3,
    "an empty object": {},
    "no manifest_sha256": {"version": "p0", "history": []},
    "a version that is not a string": {"version": 7, "manifest_sha256": "a" * 64},
    "a history that is not a list": {"version": "p0", "manifest_sha256": "a" * 64, "history": "p-1"},
    "classes that are not a list": {"version": "p0", "manifest_sha256": "a" * 64, "classes": "helmet"},
}


@pytest.mark.parametrize("case", sorted(POINTERS))
def test_production_json_that_is_not_a_pointer_object_is_refused(case: str, tmp_path: Path) -> None:
    """It refuses, in one line naming the file, to read it as "no production" or to overwrite it."""
    dest = tmp_path / "models"
    publish_model(_model_dir(tmp_path / "c"), str(dest), PublishConfig(version="c1"))
    pointer = dest / "production.json"
    pointer.write_text(json.dumps(POINTERS[case]))
    before = pointer.read_bytes()
    for read in (
        partial(read_production, str(dest)),
        partial(fetch_production_model, str(dest), tmp_path / "w"),
    ):
        with pytest.raises(StorageError, match=f"{pointer}: not a production pointer") as err:
            read()
        assert "\n" not in str(err.value)
    with pytest.raises(StorageError, match="not a production pointer"):
        promote_version(str(dest), "c1")
    with pytest.raises(StorageError, match="not a production pointer"):
        publish_model(_model_dir(tmp_path / "d", 0.9), str(dest), PublishConfig(version="d1", promote=True))
    assert pointer.read_bytes() == before


def test_cli_production_and_rollback_refuse_a_pointer_that_is_not_an_object(
    dest: str, tmp_path: Path
) -> None:
    """It exits 2 with one line naming production.json for ``production`` and ``rollback`` (also on S3)."""
    backend_for(dest).put_json("production.json", ["p0"])
    for verb in ("production", "rollback"):
        proc = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", verb, "--dest", dest],
            capture_output=True, text=True, cwd=REPO, timeout=120, env=os.environ,
        )  # fmt: skip
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        (line,) = proc.stderr.strip().splitlines()
        assert "production.json: not a production pointer" in line
    assert backend_for(dest).get_json("production.json") == ["p0"]
