"""A training process killed after a checkpoint resumes where it stopped and ends with the configured epochs."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _tiny import TINY_TRAIN, TinyRun

from components._yolo.results import read_results
from components.train.core import TrainConfig, train_model

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CFG = TrainConfig(freeze=10, epochs=3, **TINY_TRAIN)

# The child trains and SIGKILLs itself right after epoch 1's last.pt is saved (a preempted pod).
KILLED_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from components.train.core import TrainConfig, train_model

    data, weights, out, cfg_json = sys.argv[1:5]
    def die(path: Path, epoch: int) -> None:
        print(f"checkpoint {epoch} {path}", flush=True)
        if epoch == 1:
            os.kill(os.getpid(), signal.SIGKILL)
    train_model(Path(data), weights, Path(out), TrainConfig(**__import__("json").loads(cfg_json)), on_checkpoint=die)
    """
)


def train_until_killed(run: TinyRun, out: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            KILLED_CHILD,
            str(run.data_yaml),
            str(run.init_weights),
            str(out),
            json.dumps(CFG.to_dict()),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert "checkpoint 1" in proc.stdout + proc.stderr  # training sends stdout to stderr


@pytest.fixture(scope="module")
def killed_run(frozen_run: TinyRun, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An output folder whose training was killed after epoch 1 of 3."""
    out = tmp_path_factory.mktemp("resume") / "frozen"
    train_until_killed(frozen_run, out)
    return out


def test_killed_run_leaves_a_checkpoint_and_no_metrics(killed_run: Path) -> None:
    """It has run/weights/last.pt and one results row, but no metrics.json (the stage did not finish)."""
    assert (killed_run / "run" / "weights" / "last.pt").is_file()
    assert len(read_results(killed_run / "run" / "results.csv")) == 1
    assert not (killed_run / "metrics.json").exists()


def test_restarted_stage_resumes_from_the_checkpoint_and_trains_the_configured_epochs(
    frozen_run: TinyRun, killed_run: Path, tmp_path: Path
) -> None:
    """It continues after epoch 1, runs epochs 2-3 only, and still proves the frozen layers."""
    out = tmp_path / "frozen"
    shutil.copytree(killed_run, out)
    epochs_seen: list[int] = []
    result = train_model(
        frozen_run.data_yaml,
        str(frozen_run.init_weights),
        out,
        CFG,
        on_checkpoint=lambda p, e: epochs_seen.append(e),
    )
    assert result.resumed_from_epoch == 1
    assert result.epochs == 3 and result.epochs_this_run == 2
    assert epochs_seen == [2, 3]
    assert [int(r["epoch"]) for r in read_results(out / "results.csv")] == [1, 2, 3]
    assert result.frozen_verified is True


def test_stage_on_a_new_pod_resumes_from_a_downloaded_checkpoint(
    frozen_run: TinyRun, killed_run: Path, tmp_path: Path
) -> None:
    """With resume_from (last.pt fetched from object storage) an empty folder continues the same run."""
    downloaded = tmp_path / "downloaded" / "last.pt"
    downloaded.parent.mkdir()
    shutil.copyfile(killed_run / "run" / "weights" / "last.pt", downloaded)
    out = tmp_path / "new-pod"
    result = train_model(frozen_run.data_yaml, str(frozen_run.init_weights), out, CFG, resume_from=downloaded)
    assert result.resumed_from_epoch == 1 and result.epochs == 3 and result.epochs_this_run == 2
    assert [int(r["epoch"]) for r in read_results(out / "results.csv")] == [
        1,
        2,
        3,
    ]  # row 1 from the checkpoint


def test_changed_configuration_starts_fresh_instead_of_resuming(
    frozen_run: TinyRun, killed_run: Path, tmp_path: Path
) -> None:
    """A checkpoint of another configuration (here: other epochs) is not continued."""
    out = tmp_path / "frozen"
    shutil.copytree(killed_run, out)
    cfg = TrainConfig(**{**CFG.to_dict(), "epochs": 1})
    result = train_model(frozen_run.data_yaml, str(frozen_run.init_weights), out, cfg)
    assert result.resumed_from_epoch is None and result.epochs == 1 and result.epochs_this_run == 1
