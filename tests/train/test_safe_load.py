"""No code from pickles: every checkpoint is unpickled with ``weights_only=True`` and an explicit allowlist.

A crafted checkpoint (``__reduce__`` -> ``os.system`` / ``builtins.exec``) given to train, validate or
export, left as the ``last.pt`` of an interrupted run, or restored from the checkpoint store, exits 2
with one line naming the file, and its marker file is never created. Genuine checkpoints still load.
"""

from __future__ import annotations

import builtins
import os
import pickle
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from _tiny import TINY_TRAIN, TinyRun, make_checkpoint

from components._yolo.model import ALLOWLIST, UnsafeCheckpoint, model_names, safe_load
from components._yolo.pickles import ALLOWED_NAMES, check_pickle
from components.train.core import TrainConfig, train_model

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "pipelines" / "sample" / "pretrained_task_a.pt"
FALL = REPO.parent / "shared" / "models" / "fall-yolov8s" / "fall_yolov8s.pt"


class _System:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


class _Exec:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return builtins.exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",)


def crafted(path: Path, kind: str = "system", fmt: str = "torch") -> Path:
    """Write a checkpoint whose unpickling would create a marker file; return the marker's path."""
    import torch

    marker = Path("/tmp") / f"pwned-{uuid.uuid4().hex}"
    payload = _System(marker) if kind == "system" else _Exec(marker)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "torch":
        torch.save({"model": payload, "epoch": 0, "optimizer": {}, "train_args": {}}, path)
    else:
        path.write_bytes(pickle.dumps({"model": payload}, protocol=2))
    return marker


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def assert_refused(proc: subprocess.CompletedProcess[str], path: Path, marker: Path) -> None:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert str(path) in lines[-1] and "allowlist" in lines[-1], lines[-1]
    assert "nothing in it was run" in lines[-1]
    assert not marker.exists()


@pytest.mark.parametrize(("kind", "fmt"), [("system", "torch"), ("exec", "torch"), ("system", "pickle")])
def test_crafted_checkpoint_is_refused_and_never_runs(tmp_path: Path, kind: str, fmt: str) -> None:
    """safe_load names the file and the refused global; the payload never runs."""
    path = tmp_path / "evil.pt"
    marker = crafted(path, kind, fmt)
    with pytest.raises(UnsafeCheckpoint, match=r"evil\.pt: refused .*(system|exec).*allowlist") as err:
        safe_load(path)
    assert "\n" not in str(err.value)
    assert not marker.exists()
    with pytest.raises(UnsafeCheckpoint, match="evil.pt"):
        check_pickle(path)  # the torch-free early check of the fetch task
    assert not marker.exists()


def test_ultralytics_own_loaders_are_patched(tmp_path: Path) -> None:
    """YOLO(...), load_checkpoint and torch_load (weights_only=False upstream) refuse the payload too."""
    import ultralytics.utils.patches as ul_patches
    from ultralytics import YOLO
    from ultralytics.nn.tasks import load_checkpoint

    import components._yolo.patches  # noqa: F401 - installs the patches

    path = tmp_path / "evil.pt"
    marker = crafted(path)
    for load in (
        lambda: YOLO(str(path)),
        lambda: load_checkpoint(str(path)),
        lambda: ul_patches.torch_load(path),
    ):
        with pytest.raises(UnsafeCheckpoint):
            load()
    assert not marker.exists()


def test_genuine_checkpoints_load(tmp_path: Path, frozen_run: TinyRun) -> None:
    """The committed YOLOv5nu sample, fall_yolov8s.pt (YOLOv8s, 8.3.202), our own best.pt/last.pt and a
    mid-run last.pt (with optimizer and IterableSimpleNamespace train_args) load through the allowlist."""
    from components._yolo.model import checkpoint_progress, load_model

    assert model_names(SAMPLE) == ("circle", "square", "triangle")
    assert load_model(SAMPLE)[0].yaml["backbone"]
    if FALL.is_file():
        assert model_names(FALL) == ("Normal", "Fall")
        load_model(FALL)
    for name in ("best.pt", "last.pt"):
        assert model_names(frozen_run.out_dir / name) == ("square", "bar")
    mid = frozen_run.out_dir / "run" / "weights" / "last.pt"
    if not mid.is_file():  # the run folder's last.pt was moved up; rebuild an unfinished one
        mid = tmp_path / "mid" / "out"
        seen: list[Path] = []

        def keep(p: Path, epoch: int) -> None:
            seen.append(tmp_path / f"e{epoch}.pt")
            seen[-1].write_bytes(p.read_bytes())

        train_model(
            frozen_run.data_yaml,
            str(frozen_run.init_weights),
            mid,
            TrainConfig(freeze=10, epochs=2, **TINY_TRAIN),
            on_checkpoint=keep,
        )
        mid = seen[0]
    ckpt = safe_load(mid)
    assert ckpt["optimizer"] is not None
    assert checkpoint_progress(mid) is not None


def test_allowlist_names_are_the_torch_free_names() -> None:
    """pickles.ALLOWED_NAMES (torch-free, used by the fetch task) lists exactly model.ALLOWLIST."""
    names = set()
    for entry in ALLOWLIST:
        obj, name = entry if isinstance(entry, tuple) else (entry, None)
        names.add(name or f"{obj.__module__}.{obj.__qualname__}")
    assert names == set(ALLOWED_NAMES)


def test_train_cli_refuses_crafted_weights(tiny_data: Path, tmp_path: Path) -> None:
    """``yolo-kfp train --weights evil.pt``: exit 2, one line naming the file, nothing executed."""
    evil = tmp_path / "w" / "evil.pt"
    marker = crafted(evil)
    proc = run_cli("train", "--dataset", str(tiny_data), "--weights", str(evil), "--out", str(tmp_path / "o"))
    assert_refused(proc, evil, marker)


def test_validate_cli_refuses_crafted_weights(tiny_data: Path, tmp_path: Path) -> None:
    """``yolo-kfp validate --weights evil.pt``: exit 2, one line naming the file, nothing executed."""
    evil = tmp_path / "w" / "best.pt"
    marker = crafted(evil, "exec")
    proc = run_cli(
        "validate", "--weights", str(evil), "--dataset", str(tiny_data), "--out", str(tmp_path / "v")
    )
    assert_refused(proc, evil, marker)


def test_export_cli_refuses_crafted_weights(tmp_path: Path) -> None:
    """``yolo-kfp export --weights evil.pt``: exit 2, one line naming the file, nothing executed."""
    evil = tmp_path / "w" / "best.pt"
    marker = crafted(evil)
    proc = run_cli("export", "--weights", str(evil), "--out", str(tmp_path / "onnx"), "--imgsz", "64")
    assert_refused(proc, evil, marker)
    assert not (tmp_path / "onnx").exists()


def test_resume_refuses_a_crafted_last_pt(tiny_data: Path, tmp_path: Path) -> None:
    """A crafted ``run/weights/last.pt`` in the resume location: exit 2 naming it, nothing executed."""
    init = make_checkpoint(tmp_path / "init.pt")
    out = tmp_path / "out"
    last = out / "run" / "weights" / "last.pt"
    marker = crafted(last)
    with pytest.raises(UnsafeCheckpoint, match=str(last)):
        train_model(tiny_data, str(init), out, TrainConfig(freeze=10, epochs=1, **TINY_TRAIN))
    assert not marker.exists()
    proc = run_cli(
        "train", "--dataset", str(tiny_data), "--weights", str(init), "--out", str(out), "--epochs", "1",
        "--imgsz", "64", "--batch", "4", "--workers", "0", "--device", "cpu",
    )  # fmt: skip
    assert_refused(proc, last, marker)


def test_resume_refuses_a_crafted_checkpoint_restored_from_the_store(tiny_data: Path, tmp_path: Path) -> None:
    """A crafted ``last.pt`` in the checkpoint store (CheckpointSync.restore) is refused before training."""
    from components.train.stage import run_training_stage

    init = make_checkpoint(tmp_path / "init" / "init.pt")
    root = tmp_path / "ckpts"
    marker = crafted(root / "r1" / "frozen" / "last.pt", "exec")
    cfg = TrainConfig(freeze=10, epochs=1, stage_name="frozen", **TINY_TRAIN)
    with pytest.raises(UnsafeCheckpoint, match=r"last\.pt: refused"):
        run_training_stage(tiny_data, init, tmp_path / "out", cfg, checkpoint_root=str(root), run_id="r1")
    assert not marker.exists()


def test_fetch_refuses_crafted_weights(tmp_path: Path) -> None:
    """The fetch task refuses a crafted checkpoint before any stage sees it (no torch needed)."""
    from components.train.stage import fetch_weights

    evil = tmp_path / "evil.pt"
    marker = crafted(evil)
    with pytest.raises(UnsafeCheckpoint, match="evil.pt"):
        fetch_weights(str(evil), tmp_path / "fetched")
    assert not marker.exists()
    assert fetch_weights(str(SAMPLE), tmp_path / "ok")["kind"] == "checkpoint"
