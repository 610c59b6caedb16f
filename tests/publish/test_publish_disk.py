"""publish on a hostile local disk: full, read-only, a file where a folder is expected, a version folder.

Issue 24 (round 3). A full or read-only disk is a real tmpfs mounted for the test (skipped where
mounting is not permitted): what fails is the kernel's write, not a stand-in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from components._shared.errors import ConfigError, StorageError
from components._shared.production import production_baseline_metrics
from components.publish.core import PublishConfig, list_versions, publish_model

REPO = Path(__file__).resolve().parents[2]


def _model_dir(root: Path, size: int = 200_000) -> Path:
    """A publishable folder whose model alone is larger than the small disk."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.onnx").write_bytes(os.urandom(size))
    (root / "model.json").write_text(json.dumps({"names": ["helmet"], "dataset_fingerprint": "f" * 64}))
    (root / "metrics.json").write_text(json.dumps({"map50_95": 0.5, "gate": {"passed": True}}))
    return root


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Mount a small tmpfs (optionally read-only) under tmp_path; unmounted after the test."""
    mounted: list[Path] = []

    def mount(size: str = "64k", *, read_only: bool = False) -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        cmd = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)]
        if shutil.which("mount") is None or subprocess.run(cmd, capture_output=True).returncode != 0:
            pytest.skip("a full or read-only disk is simulated with a tmpfs mount, which needs root")
        mounted.append(where)
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True, capture_output=True)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *argv], capture_output=True, text=True, cwd=REPO, timeout=120
    )


def test_publish_to_a_full_disk_is_one_line_and_leaves_no_partial_version(
    disk: Callable[..., Path], tmp_path: Path
) -> None:
    """It fails with one StorageError naming the disk error and removes what the version had written."""
    dest = disk("64k") / "models"
    with pytest.raises(StorageError, match=r"No space left on device.*v1 was not published") as err:
        publish_model(_model_dir(tmp_path / "m"), str(dest), PublishConfig(version="v1", promote=True))
    assert "\n" not in str(err.value)
    assert _files(dest) == [] and list_versions(str(dest)) == []
    small = _model_dir(tmp_path / "small", size=2000)  # the name is free again once space is
    assert publish_model(small, str(dest), PublishConfig(version="v1", promote=True)).promoted


def test_publish_to_a_read_only_dest_is_one_line(disk: Callable[..., Path], tmp_path: Path) -> None:
    """It fails with one StorageError naming the read-only file system; nothing is written."""
    dest = disk("1m", read_only=True) / "models"
    with pytest.raises(StorageError, match="Read-only file system") as err:
        publish_model(_model_dir(tmp_path / "m"), str(dest), PublishConfig(version="v1"))
    assert "\n" not in str(err.value) and not dest.exists()


def test_a_file_where_a_folder_is_expected_is_one_line(tmp_path: Path) -> None:
    """It refuses a --dest that is a file (or lies under one) and a baseline --out under a file."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    for dest in (blocker, blocker / "models"):
        with pytest.raises(StorageError, match=f"{blocker}") as err:
            publish_model(_model_dir(tmp_path / "m"), str(dest), PublishConfig(version="v1"))
        assert "\n" not in str(err.value)
    assert blocker.read_text() == "not a folder"
    dest = tmp_path / "models"
    publish_model(_model_dir(tmp_path / "m"), str(dest), PublishConfig(version="v1", promote=True))
    for out in (blocker / "metrics.json", tmp_path):
        with pytest.raises(ConfigError, match=f"{out}: cannot write the production metrics") as err:
            production_baseline_metrics(str(dest), out)
        assert "\n" not in str(err.value)
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("inside", ["v1", "v1/reports"])
def test_publish_into_a_published_version_is_refused(tmp_path: Path, inside: str) -> None:
    """It refuses a --dest that is or lies inside a published version folder (versions are immutable)."""
    dest = tmp_path / "models"
    publish_model(_model_dir(tmp_path / "a"), str(dest), PublishConfig(version="v1", promote=True))
    (dest / "v1" / "reports").mkdir(exist_ok=True)
    before = _files(dest)
    with pytest.raises(
        ConfigError, match=r"lies inside the published version .*v1 \(it holds manifest.json\)"
    ):
        publish_model(
            _model_dir(tmp_path / "b"), str(dest / inside), PublishConfig(version="v2", promote=True)
        )
    assert _files(dest) == before


def test_cli_hostile_disks_are_one_line_exit_2(disk: Callable[..., Path], tmp_path: Path) -> None:
    """It exits 2 with one error line, no traceback, for publish on a full or read-only disk and a file --out."""
    model = str(_model_dir(tmp_path / "m"))
    full, read_only = disk("64k") / "models", disk("1m", read_only=True) / "models"
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    published = str(tmp_path / "published")
    publish_model(_model_dir(tmp_path / "p"), published, PublishConfig(version="v1", promote=True))
    runs = [
        _cli("publish", "--model", model, "--dest", str(full), "--model-version", "v1"),
        _cli("publish", "--model", model, "--dest", str(read_only), "--model-version", "v1"),
        _cli("publish", "--model", model, "--dest", str(blocker), "--model-version", "v1"),
        _cli("production", "--dest", published, "--out", str(blocker / "metrics.json")),
    ]
    for proc in runs:
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert [n for n, line in enumerate(lines) if "error:" in line] == [len(lines) - 1], lines
