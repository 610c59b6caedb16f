"""CheckpointSync: last.pt mirrored every N epochs to s3://.../runs/<run-id>/<stage>/ and restored on restart."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from moto_s3 import SECRET, FaultProxy, S3Admin

from components._shared.errors import ConfigError, StorageError
from components._shared.storage import backend_for
from components.train.checkpoints import CheckpointSync


@pytest.fixture(params=["s3", "local"])
def run_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a run's checkpoints go: on moto, or in a local folder."""
    if request.param == "local":
        return str(tmp_path / "runs" / "run-1" / "frozen")
    return f"s3://{request.getfixturevalue('bucket')}/runs/run-1/frozen/"


def _last(tmp_path: Path, epoch: int) -> Path:
    p = tmp_path / "train" / "last.pt"
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(f"epoch {epoch}".encode() + os.urandom(500))
    return p


def test_restore_without_checkpoint_starts_fresh(run_uri: str, tmp_path: Path) -> None:
    """It returns False and writes nothing when the run has no checkpoint yet."""
    sync = CheckpointSync(run_uri)
    assert sync.restore(tmp_path / "resume" / "last.pt") is False
    assert not (tmp_path / "resume" / "last.pt").exists() and sync.restored_epoch is None


def test_upload_every_n_epochs_then_restore_the_latest(run_uri: str, tmp_path: Path) -> None:
    """It uploads only on multiples of `every` (and when forced), and a new pod restores that checkpoint."""
    sync = CheckpointSync(run_uri, every=2)
    uploaded = {}
    for epoch in range(1, 6):
        path = _last(tmp_path, epoch)
        sync.upload(path, epoch)
        if epoch % 2 == 0:
            uploaded[epoch] = path.read_bytes()
    assert sync.uploaded_epoch == 4
    info = backend_for(run_uri).get_json("checkpoint.json")
    assert info["epoch"] == 4 and info["size"] == len(uploaded[4])

    fresh = CheckpointSync(run_uri)  # the retried pod
    target = tmp_path / "pod2" / "last.pt"
    assert fresh.restore(target) is True
    assert target.read_bytes() == uploaded[4] and fresh.restored_epoch == 4

    sync.upload(_last(tmp_path, 5), 5, force=True)
    assert backend_for(run_uri).get_json("checkpoint.json")["epoch"] == 5


def test_sync_is_usable_as_the_on_checkpoint_callback(run_uri: str, tmp_path: Path) -> None:
    """It can be passed as on_checkpoint(path, epoch) directly."""
    on_checkpoint = CheckpointSync(run_uri)
    on_checkpoint(_last(tmp_path, 1), 1)
    assert backend_for(run_uri).exists("last.pt")


def test_every_must_be_positive() -> None:
    """It refuses every=0."""
    with pytest.raises(ConfigError, match="every=0"):
        CheckpointSync("/tmp/x", every=0)


def test_checkpoint_json_is_written_after_last_pt(
    s3: S3Admin, bucket: str, moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """It uploads last.pt first: when checkpoint.json cannot be written, last.pt is still the newest."""
    uri = f"s3://{bucket}/runs/r2/finetune/"
    CheckpointSync(uri).upload(_last(tmp_path, 1), 1)
    with FaultProxy(moto_endpoint) as proxy:
        proxy.fail_paths.add("/checkpoint.json")
        monkeypatch.setenv("MINIO_ENDPOINT", proxy.endpoint)
        with caplog.at_level(logging.WARNING):
            CheckpointSync(uri).upload(_last(tmp_path, 2), 2)  # default: warn, keep training
        assert "checkpoint of epoch 2 not uploaded" in caplog.text and SECRET not in caplog.text
        with pytest.raises(StorageError, match="checkpoint.json failed after"):
            CheckpointSync(uri, strict=True).upload(_last(tmp_path, 3), 3)
    monkeypatch.setenv("MINIO_ENDPOINT", moto_endpoint)
    restored = CheckpointSync(uri)
    target = tmp_path / "pod" / "last.pt"
    assert restored.restore(target) and target.read_bytes().startswith(b"epoch 3")
    assert restored.restored_epoch is None  # checkpoint.json still describes epoch 1: epoch unknown


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b'{"epoch": "two", "sha256": "x", "size": 1}', "epoch 'two' is not a whole number"),
        (b'{"epoch": 2, "sha256": "x", "si', "not valid JSON"),
        (b'{"size": 10}', "missing epoch, sha256"),
        (b"[2]", "a JSON list, not an object"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_corrupt_checkpoint_json_starts_fresh_with_one_warning(
    run_uri: str, tmp_path: Path, content: bytes, problem: str, caplog: pytest.LogCaptureFixture
) -> None:
    """It logs one warning naming the problem and starts fresh, instead of failing every retry of the pod."""
    sync = CheckpointSync(run_uri)
    sync.upload(_last(tmp_path, 2), 2)
    bad = tmp_path / "checkpoint.json"
    bad.write_bytes(content)
    backend_for(run_uri).put_file("checkpoint.json", bad)

    target = tmp_path / "pod2" / "last.pt"
    fresh = CheckpointSync(run_uri)
    with caplog.at_level(logging.WARNING, logger="components.train.checkpoints"):
        assert fresh.restore(target) is False
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and problem in warnings[0] and "starting fresh" in warnings[0], warnings
    assert not target.exists() and fresh.restored_epoch is None

    fresh.upload(_last(tmp_path, 1), 1)  # the fresh run's first checkpoint replaces the corrupt one
    again = CheckpointSync(run_uri)
    assert again.restore(target) is True and again.restored_epoch == 1
