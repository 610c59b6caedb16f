"""train on a full disk: one line (exit 2), and never a truncated checkpoint under a final name.

Issue 24 (round 3). Ultralytics wrote ``last.pt`` and ``best.pt`` in place: a disk that filled during
the write left a truncated ``best.pt`` (which later looked like a checkpoint) and an ``OSError``
traceback. The disk is a real tmpfs mounted for the test (skipped where mounting is not permitted):
what fails is the kernel's write, not a stand-in.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from _tiny import TINY_TRAIN
from publish import test_publish_disk
from test_train_errors import assert_one_line_error, run_cli

from components._shared.errors import StorageError
from components._yolo.model import safe_load
from components.train.core import TrainConfig, train_model
from components.train.stage import run_training_stage

REPO = Path(__file__).resolve().parents[2]
disk = test_publish_disk.disk  # the fixture mounting a small tmpfs (skips where mounting needs root)
SAMPLE = REPO / "pipelines" / "sample" / "pretrained_task_a.pt"
CFG = TrainConfig(freeze=10, epochs=1, **TINY_TRAIN)
# One epoch's checkpoint of the sample model (weights and optimizer state) is about 8.2 MB, and
# Ultralytics writes it twice (last.pt, then best.pt): 12 MiB holds the first copy, not the second.
SMALL_DISK = "12m"


def _checkpoints_are_whole(out: Path) -> list[str]:
    """Every ``.pt`` under ``out`` loads; returns their paths (relative) for the caller's assertions."""
    found = sorted(out.rglob("*.pt"))
    for pt in found:
        safe_load(pt)  # a truncated file raises ConfigError here
    return [p.relative_to(out).as_posix() for p in found]


def _leftovers(out: Path) -> list[str]:
    return [
        p.name
        for p in out.rglob("*")
        if p.name.endswith((".partial", ".tmp")) or p.name.startswith(".saving")
    ]


def _fill(disk_dir: Path) -> None:
    """Write a filler file until the file system refuses another byte."""
    fd = os.open(disk_dir / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for block in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * block)
            except OSError:
                continue
    finally:
        os.close(fd)


@pytest.mark.slow
def test_train_on_a_full_disk_is_one_line_and_leaves_no_truncated_checkpoint(
    disk: Callable[..., Path], tiny_data: Path
) -> None:
    """It exits 2 with one line naming the checkpoint and "free space"; no truncated .pt is left, and a
    re-run once there is space trains afresh (a broken checkpoint is never resumed)."""
    mount = disk(SMALL_DISK)
    out = mount / "out"
    args = ["--dataset", str(tiny_data), "--weights", str(SAMPLE), "--out", str(out), "--freeze", "10"]
    tiny = ["--epochs", "1", "--imgsz", "64", "--batch", "4", "--workers", "0", "--device", "cpu"]
    proc = run_cli("train", *args, *tiny, "--warmup-epochs", "0")
    assert_one_line_error(proc, "No space left on device", "best.pt", "free space")
    assert _checkpoints_are_whole(out) == []  # before: run/weights/best.pt truncated at the disk's end
    assert _leftovers(out) == []
    subprocess.run(["mount", "-o", "remount,size=64m", str(mount)], check=True, capture_output=True)
    result = train_model(tiny_data, str(SAMPLE), out, CFG)
    assert result.epochs == 1 and result.resumed_from_epoch is None
    assert _checkpoints_are_whole(out) == ["best.pt", "last.pt"]


@pytest.mark.slow
def test_train_whose_disk_fills_before_the_final_strip_keeps_whole_checkpoints(
    disk: Callable[..., Path], tiny_data: Path
) -> None:
    """It fails in one line naming last.pt when the disk is full once the last epoch is saved; the
    epoch's last.pt and best.pt stay whole (the stripped copies are written beside them, then renamed)."""
    mount = disk("64m")
    out = mount / "out"
    with pytest.raises(StorageError, match=r"No space left on device.*last\.pt.*free space") as err:
        train_model(tiny_data, str(SAMPLE), out, CFG, on_checkpoint=lambda last, epochs: _fill(mount))
    assert "\n" not in str(err.value)
    assert _checkpoints_are_whole(out) == ["run/weights/best.pt", "run/weights/last.pt"]
    assert _leftovers(out) == []


def test_skipped_stage_on_a_full_disk_is_one_line(disk: Callable[..., Path], tmp_path: Path) -> None:
    """A 0-epoch stage copying its weights onto a full disk fails in one StorageError line, not a traceback."""
    init = tmp_path / "init"
    init.mkdir()
    (init / "best.pt").write_bytes(SAMPLE.read_bytes())
    out = disk("1m") / "out"
    cfg = TrainConfig(epochs=0, stage_name="finetune")
    with pytest.raises(StorageError, match=r"No space left on device.*free space") as err:
        run_training_stage(tmp_path / "unused", init, out, cfg)
    assert "\n" not in str(err.value)
    assert _checkpoints_are_whole(out) == []
