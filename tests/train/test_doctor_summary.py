"""The doctor's findings reach the run summary (the exit handler's page) and run-local's printed summary."""

from __future__ import annotations

from pathlib import Path

from components._shared.run_records import DIAGNOSIS_RECORD
from components.summary.core import live_view_command, summarize_run
from components.train.checkpoints import CheckpointSync
from pipelines.cli_tensorboard import local_summary_lines

SWING = {"rule": "swinging_loss", "epoch": 2, "evidence": "train loss 69.5, 37.6x its lowest so far (1.85)",
         "remedy": "lower the learning rate (--lr0) or use a larger batch (--batch)"}  # fmt: skip


def test_run_summary_lists_each_stage_diagnosis_and_the_live_curves(tmp_path: Path) -> None:
    """It prints the finding synced by a training stage, with its remedy, and the tensorboard command."""
    root = tmp_path / "ck" / "run-7"
    (tmp_path / "tb").mkdir()
    CheckpointSync(str(root / "frozen")).upload_logs(tmp_path / "tb", [SWING])
    CheckpointSync(str(root / "finetune")).upload_logs(tmp_path / "tb", [])
    summarize_run("SUCCEEDED", "", "run-7", str(root) + "/", tmp_path / "s.md")
    page = (tmp_path / "s.md").read_text(encoding="utf-8")
    assert "| training doctor | frozen: swinging_loss at epoch 2: train loss 69.5" in page
    assert "-> lower the learning rate (--lr0)" in page
    assert f"| live curves | `tensorboard --logdir {root}` |" in page


def test_run_summary_says_when_the_doctor_found_nothing(tmp_path: Path) -> None:
    """It says no symptom was found, naming the stages examined, rather than staying silent."""
    root = tmp_path / "run-8"
    (root / "frozen").mkdir(parents=True)
    (root / "frozen" / DIAGNOSIS_RECORD).write_text("[]\n", encoding="utf-8")
    summarize_run("SUCCEEDED", "", "run-8", str(root), tmp_path / "s.md")
    assert "| training doctor | no symptom found (frozen) |" in (tmp_path / "s.md").read_text(
        encoding="utf-8"
    )


def test_the_live_view_on_s3_is_the_kubeflow_tensorboard_command() -> None:
    """It points an s3:// run at ``yolo-kfp tensorboard``, with the run's id and checkpoint root."""
    assert live_view_command("s3://runs/checkpoints/r1/", "r1") == (
        "yolo-kfp tensorboard --run r1 --checkpoint-root s3://runs/checkpoints | kubectl apply -f -"
    )


def test_local_summary_prints_the_findings_and_the_logdir(tmp_path: Path) -> None:
    """It prints each stage's finding and ``tensorboard --logdir`` on the run's folder of event files."""
    logs = tmp_path / "checkpoints" / "job-1" / "frozen" / "tensorboard"
    logs.mkdir(parents=True)
    (logs / "events.out.tfevents.0000000001.yolo-kfp.frozen").write_bytes(b"")
    stages = {"frozen": {"diagnosis": [SWING]}, "finetune": {"diagnosis": []}, "onnx": {}}
    lines = local_summary_lines(stages, str(tmp_path / "checkpoints"))
    assert lines[0].startswith("training doctor: frozen: swinging_loss at epoch 2")
    assert lines[-1] == f"tensorboard: tensorboard --logdir {tmp_path / 'checkpoints' / 'job-1'}"
