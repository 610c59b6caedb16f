"""publish under concurrency and tampering: one winner per version, CAS promotion, verified readers.

The S3 cases talk HTTP to a real moto server (tests/storage/moto_s3.py), the local ones to a folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from functools import partial
from pathlib import Path

import pytest
from gating import gate_against, race
from moto_s3 import S3Admin

from components._shared.errors import ConfigError, GateFailed, StorageError
from components._shared.production import fetch_production_model, read_production
from components._shared.storage import backend_for
from components.publish.core import (
    PublishConfig,
    PublishConflict,
    PublishResult,
    promote_version,
    publish_model,
)

RACE_ROUNDS = 20
CAS_ROUNDS = 10
FP = "cafe0123beef" + "0" * 52


def _model_dir(root: Path, *, classes: list[str] | None = None, size: int = 200_000) -> Path:
    """A publishable folder with a random model (so two folders never hold the same bytes)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.onnx").write_bytes(os.urandom(size))
    (root / "best.pt").write_bytes(os.urandom(size // 2))
    card = {"names": classes or ["helmet", "head"], "imgsz": 320, "dataset_fingerprint": FP}
    (root / "model.json").write_text(json.dumps(card))
    metrics = {"map50": 0.8, "map50_95": 0.5, "gate": {"passed": True, "reason": "ok"}}
    (root / "metrics.json").write_text(json.dumps(metrics))
    (root / "report.html").write_text("<html></html>")
    return root


@pytest.fixture(params=["s3", "local"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the destinations of a test live: s3://<fresh bucket> on moto, or a local folder."""
    if request.param == "local":
        return str(tmp_path / "models")
    return f"s3://{request.getfixturevalue('bucket')}"


def _manifest_mismatches(dest: str, version: str) -> int:
    """Download every file the version's manifest lists and count those whose sha256 or size differ."""
    loc = backend_for(dest)
    manifest = loc.get_json(f"{version}/manifest.json")
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for entry in manifest["files"]:
            local = Path(tmp) / entry["name"]
            assert loc.get_file(f"{version}/{entry['name']}", local)
            data = local.read_bytes()
            bad += hashlib.sha256(data).hexdigest() != entry["sha256"] or len(data) != entry["size"]
    return bad


def test_concurrent_publishes_of_one_version_have_exactly_one_winner(
    root: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It lets one of two simultaneous publishes of one version win; the loser is refused, manifests match."""
    winners = refused = mismatches = 0
    for rnd in range(RACE_ROUNDS):
        dest = f"{root}/race{rnd}"
        models = [_model_dir(tmp_path / f"r{rnd}" / side) for side in ("a", "b")]
        cfg = PublishConfig(version="v1", promote=True)
        results = race(*(partial(publish_model, m, dest, cfg) for m in models))
        won = [i for i, r in enumerate(results) if isinstance(r, PublishResult)]
        lost = [r for r in results if isinstance(r, PublishConflict)]
        assert len(won) == 1 and len(lost) == 1, f"round {rnd}: {results}"
        assert "version exists already" in str(lost[0]) and "\n" not in str(lost[0])
        winners, refused = winners + 1, refused + 1
        manifest = backend_for(dest).get_json("v1/manifest.json")
        onnx = models[won[0]] / "model.onnx"
        listed = {f["name"]: f["sha256"] for f in manifest["files"]}
        assert listed["model.onnx"] == hashlib.sha256(onnx.read_bytes()).hexdigest()
        mismatches += _manifest_mismatches(dest, "v1")
        assert read_production(dest)["version"] == "v1" and read_production(dest)["history"] == []
    assert mismatches == 0
    with capsys.disabled():
        print(
            f"\n[publish race {root.split(':')[0] if '://' in root else 'local'}] rounds={RACE_ROUNDS} "
            f"winners={winners} refused={refused} manifest_mismatches={mismatches}"
        )


def test_racing_promotions_both_land_in_history_exactly_once(root: str, tmp_path: Path) -> None:
    """It serialises two simultaneous promotions by compare-and-swap: no lost update, no duplicates.

    The two racers are rollbacks to versions production served before (p0 -> a -> b, each gated
    against its predecessor): the only promotions that may follow each other without a new gate
    (two challengers gated against one champion promote once: tests/publish/test_promotion_guard.py).
    """
    for rnd in range(CAS_ROUNDS):
        dest = f"{root}/cas{rnd}"
        for name in ("p0", "a", "b"):
            model = gate_against(_model_dir(tmp_path / f"c{rnd}" / name), dest)
            publish_model(model, dest, PublishConfig(version=name, promote=True))
        results = race(partial(promote_version, dest, "a"), partial(promote_version, dest, "p0"))
        assert all(isinstance(r, dict) for r in results), results
        prod = read_production(dest)
        chain = [prod["version"], *(h["version"] for h in prod["history"])]
        assert sorted(chain[:2]) == ["a", "p0"] and chain[2:] == ["b", "a", "p0"], f"round {rnd}: {chain}"
        ids = [prod["promotion_id"], *(h["promotion_id"] for h in prod["history"])]
        assert len(set(ids)) == len(ids) == 5


def test_republishing_identical_content_returns_the_existing_version(root: str, tmp_path: Path) -> None:
    """It uploads nothing when the same files are published again, and promotes without a duplicate."""
    dest = f"{root}/same"
    model = _model_dir(tmp_path / "m")
    first = publish_model(model, dest, PublishConfig(version="v1", promote=True))
    loc = backend_for(dest)
    before = {(e.name, e.size, e.etag) for e in loc.list_entries()}
    again = publish_model(model, dest, PublishConfig(version="v2", promote=True))
    assert again.reused and again.version == "v1" and again.promoted and not first.reused
    assert again.files == first.files and again.bytes == first.bytes
    assert {(e.name, e.size, e.etag) for e in loc.list_entries()} == before
    assert read_production(dest)["history"] == []


def test_tampered_file_is_refused_by_every_reader(s3: S3Admin, bucket: str, tmp_path: Path) -> None:
    """It refuses, in one line, a production model whose stored model.onnx no longer matches the manifest."""
    dest = f"s3://{bucket}/helmet"
    model = _model_dir(tmp_path / "m")
    publish_model(model, dest, PublishConfig(version="v1", promote=True))
    good = fetch_production_model(dest, tmp_path / "fetch")
    assert good is not None and good.version == "v1" and good.classes == ("helmet", "head")
    assert good.imgsz == 320 and good.metrics["map50_95"] == 0.5 and good.model_path.name == "model.onnx"
    assert good.model_path.read_bytes() == (model / "model.onnx").read_bytes()
    evil = tmp_path / "evil.onnx"
    evil.write_bytes(os.urandom(1000))
    s3.upload_file(evil, bucket, "helmet/v1/model.onnx")
    with pytest.raises(StorageError, match=r"v1/model.onnx: sha256 mismatch .* refusing to use it") as err:
        fetch_production_model(dest, tmp_path / "fetch2")
    assert "\n" not in str(err.value) and not (tmp_path / "fetch2" / "v1" / "model.onnx").exists()
    with pytest.raises(StorageError, match="sha256 mismatch"):
        promote_version(dest, "v1")
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "promote", "--dest", dest, "--model-version", "v1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "sha256 mismatch" in proc.stderr.strip().splitlines()[-1]


def test_no_production_means_no_production_model(root: str, tmp_path: Path) -> None:
    """It returns None when nothing was promoted yet."""
    assert fetch_production_model(f"{root}/empty", tmp_path / "w") is None


def test_class_change_needs_explicit_permission(root: str, tmp_path: Path) -> None:
    """It refuses to promote a model whose class list differs from production's unless allowed."""
    dest = f"{root}/classes"
    publish_model(_model_dir(tmp_path / "a"), dest, PublishConfig(version="v1", promote=True))
    reordered = gate_against(_model_dir(tmp_path / "b", classes=["head", "helmet"]), dest)
    with pytest.raises(GateFailed, match=r"has classes \['head', 'helmet'\] but production \(v1\)") as err:
        publish_model(reordered, dest, PublishConfig(version="v2", promote=True))
    assert "allow-class-change" in str(err.value) and "\n" not in str(err.value)
    assert read_production(dest)["version"] == "v1"
    with pytest.raises(GateFailed, match="promotion refused"):
        promote_version(dest, "v2")
    pointer = promote_version(dest, "v2", allow_class_change=True)
    assert pointer["version"] == "v2" and pointer["classes"] == ["head", "helmet"]
    assert read_production(dest)["history"][0]["version"] == "v1"
    third = gate_against(_model_dir(tmp_path / "c", classes=["head", "helmet", "vest"]), dest)
    r = publish_model(third, dest, PublishConfig(version="v3", promote=True, allow_class_change=True))
    assert r.promoted and r.classes == ["head", "helmet", "vest"]


def test_cli_refuses_a_class_change_in_one_line(tmp_path: Path) -> None:
    """It exits 2 with one line naming both class lists, and promotes with --allow-class-change."""
    dest = str(tmp_path / "models")
    publish_model(_model_dir(tmp_path / "a"), dest, PublishConfig(version="v1", promote=True))

    def cli(*extra: str) -> subprocess.CompletedProcess[str]:
        model = gate_against(_model_dir(tmp_path / f"b{len(extra)}", classes=["helmet"]), dest)
        args = [
            "publish",
            "--model",
            str(model),
            "--dest",
            dest,
            "--promote",
            "--model-version",
            f"b{len(extra)}",
            *extra,
        ]
        return subprocess.run(
            [sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True, timeout=60
        )

    refused = cli()
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "promotion refused" in refused.stderr.strip().splitlines()[-1]
    allowed = cli("--allow-class-change")
    assert allowed.returncode == 0, allowed.stderr
    assert json.loads(allowed.stdout)["promoted"] and read_production(dest)["classes"] == ["helmet"]


@pytest.mark.parametrize("where", ["is", "inside", "contains"])
def test_local_dest_overlapping_the_model_folder_is_refused(tmp_path: Path, where: str) -> None:
    """It refuses a --dest that is, lies inside or contains the model folder, before writing anything."""
    model = _model_dir(tmp_path / "outer" / "model")
    dest = {"is": model, "inside": model / "published", "contains": tmp_path / "outer"}[where]
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    with pytest.raises(ConfigError, match=r"--dest .* the model folder"):
        publish_model(model, str(dest), PublishConfig())
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before
