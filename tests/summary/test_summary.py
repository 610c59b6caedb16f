"""The exit handler's run summary: status, gate verdict, and the published version or why not."""

from __future__ import annotations

from pathlib import Path

from components._shared.run_records import GATE_RECORD, PUBLISH_RECORD, record_root, write_record
from components.summary.core import summarize_run

GATE_OK = {"passed": True, "split": "test", "map50_95": 0.61, "champion_map50_95": 0.58, "reason": "ok",
           "checks": [{"name": "threshold", "passed": True, "detail": "mAP50-95 0.61 >= threshold 0.2"},
                      {"name": "champion", "passed": True, "detail": ">= champion v1 0.58"},
                      {"name": "per_class", "passed": True, "detail": "no class drops"}]}  # fmt: skip


def test_record_root_is_the_runs_folder_beside_its_checkpoints() -> None:
    """It keeps records under <checkpoint_root>/<run_id>/, and none when either is empty."""
    assert record_root("s3://runs/checkpoints/", "abc") == "s3://runs/checkpoints/abc/"
    assert record_root("", "abc") == record_root("s3://x", "") == ""


def test_a_failure_before_the_gate_says_where_it_stopped(tmp_path: Path) -> None:
    """It reports FAILED, the error, and that the run never reached the gate."""
    summary = summarize_run(
        "FAILED", "Task train-model failed.", "r1", str(tmp_path / "r1"), tmp_path / "s.md"
    )
    assert summary.gate_passed is None and summary.published is None
    assert summary.outcome == "not published: the run failed before the gate: Task train-model failed."
    page = (tmp_path / "s.md").read_text(encoding="utf-8")
    assert page.startswith("# Run r1: FAILED") and "| gate | not reached |" in page


def test_a_blocked_gate_gives_its_reason(tmp_path: Path) -> None:
    """It says the gate blocked the model and lists each check."""
    root = str(tmp_path / "r2") + "/"
    write_record(root, GATE_RECORD, {**GATE_OK, "passed": False, "reason": "< champion v1 0.70"})
    summary = summarize_run("SUCCEEDED", "", "r2", root, tmp_path / "s.md")
    assert (
        summary.gate_passed is False
        and summary.outcome == "not published: the gate blocked it (< champion v1 0.70)"
    )
    assert "| gate: champion | pass: >= champion v1 0.58 |" in (tmp_path / "s.md").read_text(encoding="utf-8")


def test_a_published_run_names_its_version(tmp_path: Path) -> None:
    """It names the published version and whether it was promoted."""
    root = str(tmp_path / "r3") + "/"
    write_record(root, GATE_RECORD, GATE_OK)
    write_record(root, PUBLISH_RECORD, {"version": "v2", "uri": "s3://models/m/v2/", "promoted": True})
    summary = summarize_run("SUCCEEDED", "", "r3", root, tmp_path / "s.md")
    assert (
        summary.published == "s3://models/m/v2/"
        and summary.outcome == "published v2 (promoted to production)"
    )
    assert "| gate | PASSED on the test split |" in (tmp_path / "s.md").read_text(encoding="utf-8")


def test_a_promotion_tells_how_to_roll_the_serving_predictors(tmp_path: Path) -> None:
    """It prints the kubectl line that rolls KServe's predictors onto the promoted version, only when
    the run promoted (predictor pods load the Triton repository once, when they start)."""
    from components._shared.serving import rollout_command

    for promoted in (True, False):
        root = str(tmp_path / f"r-{promoted}") + "/"
        write_record(root, GATE_RECORD, GATE_OK)
        write_record(root, PUBLISH_RECORD, {"version": "v9", "uri": "s3://m/v9/", "promoted": promoted})
        summarize_run("SUCCEEDED", "", "r", root, tmp_path / "s.md")
        page = (tmp_path / "s.md").read_text(encoding="utf-8")
        assert (rollout_command("v9") in page) is promoted
    assert "patch inferenceservice yolo-transfer --type merge" in rollout_command("v9")


def test_without_a_record_folder_it_still_writes_the_page(tmp_path: Path) -> None:
    """It writes the status and says there are no records when checkpoint_root is empty."""
    summary = summarize_run("SUCCEEDED", "", "r4", "", tmp_path / "s.md")
    assert (
        "no run records" in (tmp_path / "s.md").read_text(encoding="utf-8") and summary.state == "SUCCEEDED"
    )
