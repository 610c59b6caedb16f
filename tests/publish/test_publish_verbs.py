"""``yolo-kfp publish``, ``promote``, ``rollback`` and ``production``: one verb each, on a local DEST."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gating import gate_against

REPO = Path(__file__).resolve().parents[2]


def _model_dir(root: Path, map50_95: float) -> Path:
    root.mkdir(parents=True)
    (root / "model.onnx").write_bytes(os.urandom(2000))
    (root / "model.json").write_text(json.dumps({"classes": ["helmet", "head"], "imgsz": 320}))
    gate = {"passed": True, "reason": "ok"}
    (root / "metrics.json").write_text(json.dumps({"map50_95": map50_95, "gate": gate}))
    return root


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *argv], capture_output=True, text=True, cwd=REPO, timeout=60
    )


def _ok(*argv: str) -> dict:
    proc = _cli(*argv)
    assert proc.returncode == 0, proc.stderr
    assert "warning" not in proc.stderr
    return json.loads(proc.stdout)


def test_publish_promote_rollback_and_production_verbs(tmp_path: Path) -> None:
    """It publishes two versions, rolls back and forth, promotes by name and shows production."""
    dest = str(tmp_path / "models")
    for name, score in (("v1", 0.4), ("v2", 0.5)):
        model = gate_against(_model_dir(tmp_path / name, score), dest)
        assert _ok("publish", "--model", str(model), "--dest", dest, "--promote", "--model-version", name)[
            "promoted"
        ]
    back = _ok("rollback", "--dest", dest)
    assert back["version"] == "v1" and back["history"][0]["version"] == "v2"
    forth = _ok("rollback", "--dest", dest)
    assert forth["version"] == "v2"
    named = _ok("promote", "--dest", dest, "--model-version", "v1")
    assert named["version"] == "v1"
    shown = _ok("production", "--dest", dest, "--out", str(tmp_path / "prod.json"))
    assert shown["production"]["version"] == "v1" and shown["baseline"] == str(tmp_path / "prod.json")
    assert json.loads((tmp_path / "prod.json").read_text())["map50_95"] == 0.4


def test_rollback_with_nothing_in_production_is_one_line_exit_2(tmp_path: Path) -> None:
    """It says there is nothing to roll back to, in one line."""
    proc = _cli("rollback", "--dest", str(tmp_path / "empty"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("yolo-kfp rollback: error:") and "nothing to roll back to" in line


def test_rollback_without_history_names_the_fix(tmp_path: Path) -> None:
    """It asks for --model-version when production has no earlier version."""
    dest = str(tmp_path / "models")
    _ok(
        "publish",
        "--model",
        str(_model_dir(tmp_path / "a", 0.4)),
        "--dest",
        dest,
        "--promote",
        "--model-version",
        "v1",
    )
    proc = _cli("rollback", "--dest", dest)
    assert proc.returncode == 2 and "--model-version" in proc.stderr.strip().splitlines()[-1]
