"""publish: verified versions with the manifest last, gated promotion with history, local and S3 dests."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from gating import gate_against
from moto_s3 import SECRET, FaultProxy, S3Admin

from components._shared.errors import ConfigError, GateFailed, StorageError
from components._shared.production import production_baseline_metrics, read_production
from components._shared.storage import backend_for
from components.publish.core import (
    PublishConfig,
    collect_model_files,
    list_versions,
    promote_version,
    publish_model,
    run_publish_stage,
    upload_version_files,
)

FP = "ab12cd34ef56" + "0" * 52


def _model_dir(
    root: Path, *, map50_95: float = 0.5, passed: bool = True, fingerprint: str | None = FP
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.onnx").write_bytes(os.urandom(3000))
    (root / "best.pt").write_bytes(os.urandom(5000))
    (root / "last.pt").write_bytes(b"not published")
    card = {"classes": ["helmet", "head"], "imgsz": 320}
    if fingerprint:
        card["dataset_fingerprint"] = fingerprint
    (root / "model.json").write_text(json.dumps(card))
    metrics = {
        "map50": 0.8,
        "map50_95": map50_95,
        "precision": 0.7,
        "recall": 0.6,
        "per_class": {"helmet": 0.5},
    }
    metrics["gate"] = {"passed": passed, "reason": "ok" if passed else "below threshold"}
    (root / "metrics.json").write_text(json.dumps(metrics))
    (root / "report.html").write_text("<html></html>")
    (root / "confusion_matrix.png").write_bytes(b"\x89PNG")
    (root / "reports").mkdir(exist_ok=True)
    (root / "reports" / "pr_curve.png").write_bytes(b"\x89PNG2")
    (root / "notes.txt").write_text("stays behind")
    return root


@pytest.fixture(params=["s3", "local"])
def dest(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A publish destination: s3://<fresh bucket>/helmet on moto, or a local folder."""
    if request.param == "local":
        return str(tmp_path / "models" / "helmet")
    bucket = request.getfixturevalue("bucket")
    return f"s3://{bucket}/helmet"


def test_collect_picks_the_allow_listed_files_and_reports() -> None:
    """It publishes the model, card, metrics and reports, and leaves last.pt and other files behind."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        names = [n for n, _ in collect_model_files(_model_dir(Path(tmp) / "m"))]
    assert names == [
        "model.onnx",
        "best.pt",
        "model.json",
        "metrics.json",
        "confusion_matrix.png",
        "report.html",
        "reports/pr_curve.png",
    ]


def test_publish_uploads_verified_files_then_the_manifest(dest: str, tmp_path: Path) -> None:
    """It writes <version>/ with every file's size and sha256 in manifest.json, version = UTC stamp + fingerprint."""
    model = _model_dir(tmp_path / "m")
    result = publish_model(model, dest, PublishConfig())
    assert re.fullmatch(r"\d{8}T\d{6}Z-ab12cd34ef56", result.version)
    assert not result.promoted and result.promotion == "not requested"
    loc = backend_for(dest)
    manifest = loc.get_json(f"{result.version}/manifest.json")
    assert manifest["dataset_fingerprint"] == FP and manifest["model"] == "model.onnx"
    assert manifest["metrics"] == {"map50": 0.8, "map50_95": 0.5, "precision": 0.7, "recall": 0.6}
    for entry in manifest["files"]:
        local = model / entry["name"]
        assert entry["size"] == local.stat().st_size
        assert entry["sha256"] == hashlib.sha256(local.read_bytes()).hexdigest()
    stored = set(loc.list(f"{result.version}/"))
    assert f"{result.version}/last.pt" not in stored and f"{result.version}/notes.txt" not in stored
    assert stored == {f"{result.version}/{e['name']}" for e in manifest["files"]} | {
        f"{result.version}/manifest.json"
    }
    assert list_versions(dest) == [result.version]


def test_promotion_keeps_history_and_baseline_follows_production(dest: str, tmp_path: Path) -> None:
    """It points production.json at each promoted version, newest previous pointer first."""
    versions = []
    for i, score in enumerate((0.4, 0.5, 0.6)):
        cfg = PublishConfig(promote=True, version=f"v{i}")
        r = publish_model(gate_against(_model_dir(tmp_path / f"m{i}", map50_95=score), dest), dest, cfg)
        assert r.promoted and r.previous_version == (versions[-1] if versions else None)
        versions.append(r.version)
    prod = read_production(dest)
    assert prod["version"] == "v2" and prod["metrics"]["map50_95"] == 0.6
    assert [h["version"] for h in prod["history"]] == ["v1", "v0"]
    assert prod["manifest"] == "v2/manifest.json" and prod["model"] == "v2/model.onnx"
    baseline = production_baseline_metrics(dest, tmp_path / "baseline" / "metrics.json")
    assert json.loads(baseline.read_text())["map50_95"] == 0.6


def test_failed_gate_publishes_but_does_not_promote(dest: str, tmp_path: Path) -> None:
    """It uploads a version whose gate failed but leaves production.json on the old model."""
    publish_model(_model_dir(tmp_path / "a"), dest, PublishConfig(promote=True, version="good"))
    r = publish_model(
        _model_dir(tmp_path / "b", passed=False), dest, PublishConfig(promote=True, version="bad")
    )
    assert not r.promoted and r.promotion.startswith("refused: the gate did not pass")
    assert read_production(dest)["version"] == "good"
    with pytest.raises(GateFailed, match="the gate did not pass"):
        promote_version(dest, "bad")


def test_interrupted_publish_is_invisible_and_never_promoted(dest: str, tmp_path: Path) -> None:
    """It treats a version whose files were uploaded but whose manifest never came as incomplete."""
    publish_model(_model_dir(tmp_path / "a"), dest, PublishConfig(promote=True, version="old"))
    files = collect_model_files(_model_dir(tmp_path / "b", map50_95=0.9))
    upload_version_files(backend_for(dest), "half", files)  # the pod died here, before the manifest
    assert list_versions(dest) == ["old"]
    with pytest.raises(ConfigError, match="no manifest.json: the version is incomplete"):
        promote_version(dest, "half", gate_passed=True)
    assert read_production(dest)["version"] == "old"


def test_manifest_upload_failure_leaves_production_alone(
    s3: S3Admin, bucket: str, moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It fails with one StorageError when the manifest PUT keeps failing; the version stays invisible."""
    dest = f"s3://{bucket}/helmet"
    publish_model(_model_dir(tmp_path / "a"), dest, PublishConfig(promote=True, version="old"))
    with FaultProxy(moto_endpoint) as proxy:
        proxy.fail_paths.add("/broken/manifest.json")
        monkeypatch.setenv("MINIO_ENDPOINT", proxy.endpoint)
        with pytest.raises(StorageError, match=r"broken/manifest.json failed after 3 attempt\(s\)"):
            publish_model(_model_dir(tmp_path / "b"), dest, PublishConfig(promote=True, version="broken"))
    monkeypatch.setenv("MINIO_ENDPOINT", moto_endpoint)
    assert "broken/model.onnx" in backend_for(dest).list("broken/")  # files arrived...
    assert list_versions(dest) == ["old"]  # ...but without a manifest the version does not exist
    assert read_production(dest)["version"] == "old"


def test_existing_version_is_not_overwritten(dest: str, tmp_path: Path) -> None:
    """It refuses to publish twice under the same version name."""
    publish_model(_model_dir(tmp_path / "a"), dest, PublishConfig(version="v1"))
    with pytest.raises(ConfigError, match="version exists already"):
        publish_model(_model_dir(tmp_path / "b"), dest, PublishConfig(version="v1"))


def test_no_production_means_no_baseline(dest: str, tmp_path: Path) -> None:
    """It returns None (first model: no baseline) when nothing was promoted yet."""
    assert read_production(dest) is None
    assert production_baseline_metrics(dest, tmp_path / "b.json") is None
    assert not (tmp_path / "b.json").exists()


def test_fingerprint_comes_from_config_then_model_card(tmp_path: Path) -> None:
    """It prefers the given fingerprint, then model.json, and marks a version without one."""
    dest = str(tmp_path / "d")
    r1 = publish_model(_model_dir(tmp_path / "a"), dest, PublishConfig(fingerprint="ffffeeeeddddcccc"))
    r2 = publish_model(_model_dir(tmp_path / "b", fingerprint=None), dest, PublishConfig())
    assert r1.version.endswith("-ffffeeeedddd") and r1.dataset_fingerprint == "ffffeeeeddddcccc"
    assert r2.version.endswith("-nofp") and r2.dataset_fingerprint is None


def test_run_publish_stage_assembles_the_artifacts(tmp_path: Path) -> None:
    """It gathers ONNX, best.pt and validation outputs from separate artifact folders and promotes."""
    onnx, weights, val = tmp_path / "onnx", tmp_path / "weights", tmp_path / "val"
    for d in (onnx, weights, val):
        d.mkdir()
    (onnx / "model.onnx").write_bytes(b"onnx")
    (onnx / "model.json").write_text(json.dumps({"dataset_fingerprint": FP}))
    (weights / "best.pt").write_bytes(b"pt")
    (val / "metrics.json").write_text(json.dumps({"map50_95": 0.3, "gate": {"passed": True}}))
    (val / "report.html").write_text("<html/>")
    (val / "confusion_matrix.json").write_text("{}")
    dest = str(tmp_path / "models")
    r = run_publish_stage(onnx, weights, val, dest, "", True)
    assert r.promoted and read_production(dest)["version"] == r.version
    names = {f["name"] for f in backend_for(dest).get_json(f"{r.version}/manifest.json")["files"]}
    assert names == {
        "model.onnx",
        "model.json",
        "best.pt",
        "metrics.json",
        "reports/report.html",
        "reports/confusion_matrix.json",
    }


def test_cli_publish_promote_baseline_and_rollback_never_print_the_secret(
    s3_env: str, bucket: str, tmp_path: Path
) -> None:
    """It runs publish, production and rollback over S3; stdout is JSON and neither stream holds the secret."""
    env = {**os.environ}
    dest = f"s3://{bucket}/helmet"

    def cli(verb: str, *args: str) -> dict:
        proc = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", verb, "--dest", dest, *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert SECRET not in proc.stdout + proc.stderr and "Traceback" not in proc.stderr
        return json.loads(proc.stdout)

    first = cli(
        "publish",
        "--model",
        str(_model_dir(tmp_path / "a", map50_95=0.4)),
        "--promote",
        "--model-version",
        "v1",
    )
    second = cli(
        "publish",
        "--model",
        str(gate_against(_model_dir(tmp_path / "b", map50_95=0.5), dest)),
        "--promote",
        "--model-version",
        "v2",
    )
    assert first["promoted"] and second["previous_version"] == "v1"
    base = cli("production", "--out", str(tmp_path / "baseline.json"))
    assert base["production"]["version"] == "v2"
    assert json.loads((tmp_path / "baseline.json").read_text())["map50_95"] == 0.5
    rollback = cli("rollback")
    assert rollback["version"] == "v1" and rollback["history"][0]["version"] == "v2"
    stored = [backend_for(dest).get_json(n) for n in ("production.json", "v1/manifest.json")]
    assert SECRET not in json.dumps(stored)


def test_cli_promoting_an_incomplete_version_is_one_line_error(tmp_path: Path) -> None:
    """It exits 2 naming the version when asked to promote something that is not complete."""
    dest = tmp_path / "models"
    upload_version_files(backend_for(str(dest)), "half", collect_model_files(_model_dir(tmp_path / "m")))
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "promote", "--dest", str(dest), "--model-version", "half"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "version 'half' is not complete" in proc.stderr.strip().splitlines()[-1]
