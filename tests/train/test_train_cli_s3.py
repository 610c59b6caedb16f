"""``yolo-kfp train --weights s3://...`` as a real process against moto: the CLI alone resolves s3:// weights.

Nothing preloads ``components.train.stage`` here (the warm task runner used to, which hid that the
s3 fetcher was registered only as a side effect of importing it): the console script starts cold and
the storage registry must serve ``s3://`` by itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _tiny import make_dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "storage"))
from moto_s3 import SECRET, S3Admin, bucket, moto_endpoint, s3, s3_env  # noqa: E402, F401

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
PRETRAINED = REPO / "pipelines" / "sample" / "pretrained_task_a.pt"
YOLO_KFP = Path(sys.executable).parent / "yolo-kfp"


def test_cli_trains_from_s3_weights(s3: S3Admin, bucket: str, tmp_path: Path) -> None:  # noqa: F811
    """It downloads the checkpoint from s3:// through MINIO_*, trains 1 frozen epoch and records the URI."""
    if not YOLO_KFP.is_file():
        pytest.skip(f"{YOLO_KFP} not installed (run make install)")
    s3.upload_file(PRETRAINED, bucket, "models/task-a/best.pt")
    uri = f"s3://{bucket}/models/task-a/best.pt"
    data = make_dataset(tmp_path / "data", n_train=4, n_val=2)
    out = tmp_path / "frozen"
    proc = subprocess.run(
        [str(YOLO_KFP), "train", "--dataset", str(data), "--weights", uri, "--out", str(out)]
        + ["--freeze", "10", "--epochs", "1", "--imgsz", "64", "--batch", "4", "--device", "cpu"]
        + ["--warmup-epochs", "0", "--workers", "0", "--stage-name", "frozen"],
        cwd=tmp_path,
        env={**os.environ, "YOLO_OFFLINE": "1"},  # MINIO_* from the s3_env fixture
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert SECRET not in proc.stdout + proc.stderr
    result = json.loads(proc.stdout)
    assert result["epochs"] == 1 and result["frozen_verified"] is True and Path(result["best"]).is_file()
    weights = json.loads((out / "metrics.json").read_text(encoding="utf-8"))["weights"]
    assert weights["spec"] == uri and weights["kind"] == "checkpoint"
    fetched = Path(weights["path"])
    assert fetched.name == "best.pt" and out in fetched.parents
    digest = hashlib.sha256(PRETRAINED.read_bytes()).hexdigest()
    assert hashlib.sha256(fetched.read_bytes()).hexdigest() == digest
