"""A training pod killed after its checkpoint reached S3 is retried on an empty disk and resumes from S3.

Real processes and real HTTP: the stage runs in a child process (``run_training_stage`` with
``checkpoint_root=s3://runs/checkpoints``), moto serves S3 on loopback, the test polls
``checkpoint.json`` through our storage code and SIGKILLs the child as soon as epoch 1 is there (a
preempted pod gets no chance to clean up). The retry gets a fresh output folder, as a new pod would.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from _tiny import TINY_TRAIN, make_checkpoint, make_dataset

from components._shared.storage import backend_for
from components._shared.storage.s3 import S3Backend
from components._yolo.results import read_results
from components.train.checkpoints import INFO, CheckpointSync
from components.train.core import TrainConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "storage"))
from moto_s3 import S3Admin, moto_endpoint, s3, s3_env  # noqa: E402, F401

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BUCKET, RUN_ID = "runs", "run-x"
CHECKPOINT_ROOT = f"s3://{BUCKET}/checkpoints"
CFG = TrainConfig(freeze=10, epochs=3, stage_name="frozen", **TINY_TRAIN)
STAGE_URI = f"{CHECKPOINT_ROOT}/{RUN_ID}/{CFG.stage_name}/"
CHILD_TIMEOUT_S = 300  # a loaded 2-core machine; the whole test normally takes well under a minute

# One training task of the pipeline: the same call the train component makes.
STAGE_CHILD = textwrap.dedent(
    """
    import json, logging, sys
    from pathlib import Path
    from components.train.core import TrainConfig
    from components.train.stage import run_training_stage

    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    data, weights, out, cfg_json, root, run_id = sys.argv[1:7]
    cfg = TrainConfig(**json.loads(cfg_json))
    run_training_stage(Path(data), Path(weights), Path(out), cfg, checkpoint_root=root, run_id=run_id)
    """
)


def start_stage(data_dir: Path, weights_dir: Path, out: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start the training stage in a child process with this process's MINIO_* environment."""
    args = [str(data_dir), str(weights_dir), str(out), json.dumps(CFG.to_dict()), CHECKPOINT_ROOT, RUN_ID]
    with log.open("wb") as fh:
        return subprocess.Popen(
            [sys.executable, "-c", STAGE_CHILD, *args],
            cwd=REPO,
            env=dict(os.environ),
            stdout=fh,
            stderr=subprocess.STDOUT,
        )


def tail(log: Path, n: int = 3000) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-n:]


def kill_after_first_checkpoint(proc: subprocess.Popen[bytes], ckpt: S3Backend, log: Path) -> int:
    """Poll ``checkpoint.json`` in S3; SIGKILL the stage as soon as it records an epoch. Returns that epoch."""
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while time.monotonic() < deadline:
        info = ckpt.get_json(INFO)
        if info and int(info["epoch"]) >= 1:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            return int(info["epoch"])
        if proc.poll() is not None:
            pytest.fail(
                f"the stage exited ({proc.returncode}) before any checkpoint reached S3:\n{tail(log)}"
            )
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"no checkpoint in {STAGE_URI} after {CHILD_TIMEOUT_S}s:\n{tail(log)}")


@pytest.fixture
def checkpoints(s3: S3Admin) -> S3Backend:  # noqa: F811 (the imported fixture)
    """``s3://runs/checkpoints/run-x/frozen/`` on moto, empty (the moto server lives for the session)."""
    s3.ensure_bucket(BUCKET)
    loc = backend_for(STAGE_URI)
    assert isinstance(loc, S3Backend)
    for obj in s3.list_objects(BUCKET, loc.prefix):
        s3.remove_object(BUCKET, obj.name)
    return loc


def test_preempted_stage_resumes_from_the_s3_checkpoint_on_an_empty_disk(
    checkpoints: S3Backend, tmp_path: Path
) -> None:
    """It is killed after epoch 1, resumes from S3's checkpoint and ends with 3 epochs, layers still frozen."""
    data_dir = make_dataset(tmp_path / "data", n_train=8, n_val=4).parent
    weights_dir = make_checkpoint(tmp_path / "pretrained" / "init.pt", nc=3).parent
    t0 = time.monotonic()

    first_out, first_log = tmp_path / "pod1" / "frozen", tmp_path / "pod1.log"
    first_out.parent.mkdir()
    pod1 = start_stage(data_dir, weights_dir, first_out, first_log)
    killed_after = kill_after_first_checkpoint(pod1, checkpoints, first_log)
    assert pod1.returncode == -signal.SIGKILL, tail(first_log)
    assert not (first_out / "metrics.json").exists()
    ckpt_epoch = int(checkpoints.get_json(INFO)["epoch"])
    assert 1 <= killed_after <= ckpt_epoch < CFG.epochs
    shutil.rmtree(first_out.parent)  # the pod's disk is gone with it: only S3 is left
    t_killed = time.monotonic()

    second_out, second_log = tmp_path / "pod2" / "frozen", tmp_path / "pod2.log"
    pod2 = start_stage(data_dir, weights_dir, second_out, second_log)
    try:
        rc = pod2.wait(timeout=CHILD_TIMEOUT_S)
    finally:
        pod2.kill()
    assert rc == 0, tail(second_log)
    t_done = time.monotonic()

    metrics = json.loads((second_out / "metrics.json").read_text(encoding="utf-8"))
    assert [int(r["epoch"]) for r in read_results(second_out / "results.csv")] == [1, 2, 3]
    assert metrics["epochs"] == CFG.epochs
    assert metrics["resumed_from_epoch"] == ckpt_epoch
    assert metrics["epochs_this_run"] == CFG.epochs - ckpt_epoch
    assert metrics["frozen_verified"] is True

    final = CheckpointSync(STAGE_URI)
    assert final.restore(tmp_path / "final" / "last.pt") is True
    assert final.restored_epoch == CFG.epochs  # checkpoint.json says 3 and matches last.pt's checksum
    print(
        f"killed after epoch {killed_after}, resumed from epoch {metrics['resumed_from_epoch']}, finished at "
        f"{metrics['epochs']}; pod1 {t_killed - t0:.1f}s, pod2 {t_done - t_killed:.1f}s"
    )
