"""``torchrun --standalone --nproc_per_node 2 yolo-kfp train --device cpu``: one DDP (gloo) over two processes.

Each test starts the real CLI under the venv's torchrun on the tiny dataset; rank 0 alone writes --out.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _tiny import make_checkpoint, make_dataset

from components._yolo.results import read_results

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TORCHRUN = Path(sys.executable).parent / "torchrun"
YOLO_KFP = Path(sys.executable).parent / "yolo-kfp"
TIMEOUT = 300  # seconds per torchrun; about 30 s for 2 epochs on 2 CPU cores
# What a single-process run writes into --out, and nothing else (rank 1 trains in a private temp folder).
TOP_FILES = {
    "best.pt",
    "last.pt",
    "results.csv",
    "curves.png",
    "report.html",
    "metrics.json",
    ".yolo-kfp-output.json",
}
RUN_FILES = {"args.yaml", "results.csv", "train_record.json"}


def torchrun_cmd(data: Path, weights: Path, out: Path, epochs: int) -> list[str]:
    return [
        str(TORCHRUN),
        "--standalone",
        "--nproc_per_node",
        "2",
        "--no-python",
        str(YOLO_KFP),
        "train",
        "--device",
        "cpu",
        "--dataset",
        str(data),
        "--weights",
        str(weights),
        "--out",
        str(out),
        "--epochs",
        str(epochs),
        "--imgsz",
        "64",
        "--batch",
        "4",
        "--workers",
        "0",
        "--warmup-epochs",
        "0",
    ]


def env_with_tmp(tmp: Path) -> dict[str, str]:
    """The environment with TMPDIR in the test's folder (to see rank 1's private folder go away)."""
    tmp.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "TMPDIR": str(tmp), "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("ddp")
    return make_dataset(base / "data"), make_checkpoint(base / "init.pt", nc=3)


@pytest.fixture(scope="module")
def ddp_run(inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One 2-epoch torchrun training with 2 processes; its output folder, stdout and wall time."""
    data, weights = inputs
    base = tmp_path_factory.mktemp("ddp-run")
    out = base / "out"
    t0 = time.perf_counter()
    proc = subprocess.run(
        torchrun_cmd(data, weights, out, epochs=2),
        cwd=REPO,
        env=env_with_tmp(base / "tmp"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(f"torchrun 2 x cpu, 2 epochs: {wall:.1f} s wall", file=sys.stderr)  # noqa: T201 (for the record)
    return {"out": out, "stdout": proc.stdout, "stderr": proc.stderr, "tmp": base / "tmp", "wall": wall}


def test_torchrun_trains_one_ddp_over_both_processes(ddp_run: dict) -> None:
    """It records world_size 2 in metrics.json, train_record.json and the CLI's single JSON summary."""
    out = ddp_run["out"]
    metrics = json.loads((out / "metrics.json").read_text())
    record = json.loads((out / "run" / "train_record.json").read_text())
    summary = json.loads(ddp_run["stdout"])  # one summary: rank 1 prints nothing
    assert metrics["world_size"] == record["world_size"] == summary["world_size"] == 2
    assert metrics["epochs"] == 2 and len(read_results(out / "results.csv")) == 2
    assert "DDP: rank 1 of 2" in ddp_run["stderr"] and "gloo" in ddp_run["stderr"]


def test_torchrun_proves_the_frozen_layers_on_every_rank(ddp_run: dict) -> None:
    """It checks each rank's own model and EMA against its start, and both verdicts pass."""
    metrics = json.loads((ddp_run["out"] / "metrics.json").read_text())
    assert metrics["frozen_verified"] is True
    ranks = metrics["frozen_ranks"]
    assert [r["rank"] for r in ranks] == [0, 1]
    for r in ranks:
        assert r["verified"], r
        assert r["checks"]["live_vs_start"]["tensors"] > 0
        assert r["checks"]["ema_vs_start"]["identical"]


def test_torchrun_writes_one_checkpoint_set_from_rank_0(ddp_run: dict) -> None:
    """It leaves exactly the single-process outputs in --out, and rank 1's private folder is gone."""
    out = ddp_run["out"]
    top = {p.name for p in out.iterdir() if p.is_file()}
    assert top == TOP_FILES
    assert {p.name for p in (out / "run").iterdir() if p.is_file()} == RUN_FILES
    assert not any((out / "run" / "weights").iterdir())  # moved up to --out
    assert not [p for p in out.rglob("*") if "rank" in p.name]
    assert not list(ddp_run["tmp"].glob("yolo-kfp-train-rank*"))


RESUME_EPOCHS = 20  # long enough (about 0.4 s an epoch here) to be killed part-way on an idle machine


def _kill_all(proc: subprocess.Popen, out: Path) -> None:
    """SIGKILL torchrun's group and every worker (their argv holds the unique --out), and wait for all."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    subprocess.run(["pkill", "-9", "-f", str(out)], check=False)
    proc.wait(timeout=60)
    deadline = time.monotonic() + 30
    while (
        time.monotonic() < deadline and subprocess.run(["pgrep", "-f", str(out)], capture_output=True).stdout
    ):
        time.sleep(0.2)


def _kill_after_first_checkpoint(cmd: list[str], out: Path, env: dict[str, str]) -> int | None:
    """Start torchrun, kill it and its workers once last.pt holds a finished epoch.

    Returns the finished epochs in last.pt as it is on disk once every process is gone (another epoch
    may have finished before the kill landed), or None when the kill tore the file mid-save.
    """
    from components._yolo.model import checkpoint_progress

    proc = subprocess.Popen(
        cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
    )
    last = out / "run" / "weights" / "last.pt"
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if last.is_file() and checkpoint_progress(last) is not None:
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"no resumable last.pt before the run ended: {proc.stderr.read()[-2000:]}")
    finally:
        _kill_all(proc, out)
    progress = checkpoint_progress(last)
    return int(progress["epoch"]) if progress is not None else None


def test_torchrun_resumes_a_killed_run_and_ends_at_the_requested_epochs(
    inputs: tuple[Path, Path], tmp_path: Path
) -> None:
    """A run killed after an epoch, started again, resumes on both ranks and ends with every epoch, frozen proven."""
    data, weights = inputs
    out = tmp_path / "out"
    env = env_with_tmp(tmp_path / "tmp")
    cmd = torchrun_cmd(data, weights, out, epochs=RESUME_EPOCHS)
    killed_at = _kill_after_first_checkpoint(cmd, out, env)
    assert killed_at is None or 1 <= killed_at < RESUME_EPOCHS
    assert not (out / "metrics.json").exists()

    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == RESUME_EPOCHS and metrics["world_size"] == 2
    assert metrics["resumed_from_epoch"] == killed_at  # None: torn mid-save, so it started fresh
    assert metrics["epochs_this_run"] == RESUME_EPOCHS - (killed_at or 0)
    assert len(read_results(out / "results.csv")) == RESUME_EPOCHS
    assert metrics["frozen_verified"] is True and all(r["verified"] for r in metrics["frozen_ranks"])
    if killed_at is not None:  # rank 1 continues from rank 0's last.pt too
        assert "DDP rank 1 of 2, resuming" in proc.stderr
