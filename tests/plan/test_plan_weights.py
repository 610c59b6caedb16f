"""Weights that exist: ``auto`` picks only among model sizes whose weights are there, checked before training."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from components._shared.errors import ConfigError
from components.plan.core import FROM_CHECKPOINT, NEAREST, PlanRequest, plan_training, resolve_plan
from pipelines.cli import main

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "storage"))
from moto_s3 import S3Admin, bucket, moto_endpoint, s3, s3_env  # noqa: E402, F401

ALL = ("yolov5nu.pt", "yolov5su.pt", "yolov5mu.pt", "yolov5lu.pt", "yolov5xu.pt")


def _dataset(root: Path, n_train: int) -> Path:
    root.mkdir(parents=True)
    (root / "train.txt").write_text(
        "".join(f"./images/{i:05d}.png\n" for i in range(n_train)), encoding="utf-8"
    )
    (root / "val.txt").write_text("./images/v.png\n", encoding="utf-8")
    spec = {"path": ".", "train": "train.txt", "val": "val.txt", "names": {0: "helmet"}}
    (root / "dataset.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return root / "dataset.yaml"


def _weights(folder: Path, *sizes: str) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        (folder / f"yolov5{size}u.pt").write_bytes(b"stand-in")
    return str(folder / "yolov5{size}u.pt")


def test_auto_takes_the_tables_size_when_its_weights_are_there(tmp_path: Path) -> None:
    """It picks yolov5s for 120 images when yolov5su.pt exists, and lists the sizes present."""
    w = _weights(tmp_path / "w", "n", "s")
    plan = plan_training(_dataset(tmp_path / "ds", 120), tmp_path / "plan", PlanRequest(weights=w)).plan
    assert (plan.model, plan.chosen["model_size"], plan.sizes_present) == ("yolov5su", "auto", ["n", "s"])
    assert plan.weights == str(tmp_path / "w" / "yolov5su.pt")
    assert "sizes with weights" in (tmp_path / "plan" / "plan.md").read_text(encoding="utf-8")


def test_auto_falls_back_to_the_nearest_present_size_and_says_so(tmp_path: Path) -> None:
    """It picks yolov5s, not yolov5x, for 3,000 images (table: m) when only s and x are uploaded."""
    w = _weights(tmp_path / "w", "s", "x")
    plan = plan_training(_dataset(tmp_path / "ds", 3000), tmp_path / "plan", PlanRequest(weights=w)).plan
    assert (plan.model, plan.chosen["model_size"]) == ("yolov5su", NEAREST)
    assert "the table's size m has no weights" in plan.reason and "nearest present size s" in plan.reason
    saved = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    assert saved["plan"]["sizes_present"] == ["s", "x"]


def test_a_tie_between_two_present_sizes_goes_to_the_smaller() -> None:
    """It picks s over l for 3,000 images (table: m) when both are one size away: the cheaper model."""
    plan = resolve_plan(PlanRequest(weights="w/yolov5{size}u.pt"), 3000, sizes_present=["s", "l"])
    assert plan.model == "yolov5su"


def test_no_weights_at_all_is_one_line_saying_what_to_upload_where(tmp_path: Path) -> None:
    """It fails before writing a plan, naming the five files and the folder to upload them to."""
    w = _weights(tmp_path / "w")
    with pytest.raises(ConfigError) as err:
        plan_training(_dataset(tmp_path / "ds", 120), tmp_path / "plan", PlanRequest(weights=w))
    msg = str(err.value)
    assert "\n" not in msg and f"no weights at {w}" in msg and str(tmp_path / "w") in msg
    assert all(name in msg for name in ALL) and "README.md" in msg
    assert not (tmp_path / "plan").exists()


def test_a_requested_size_without_weights_fails_before_training(tmp_path: Path) -> None:
    """It refuses model_size=l when only yolov5su.pt is there, naming the missing file and the sizes present."""
    w = _weights(tmp_path / "w", "s")
    with pytest.raises(
        ConfigError, match=r"model_size=l: no weights at .*yolov5lu\.pt \(present: s\)"
    ) as err:
        plan_training(
            _dataset(tmp_path / "ds", 120), tmp_path / "plan", PlanRequest(weights=w, model_size="l")
        )
    assert "\n" not in str(err.value) and "upload yolov5lu.pt" in str(err.value)


def test_weights_without_size_are_reported_as_from_checkpoint(tmp_path: Path) -> None:
    """It records the path and model 'from checkpoint' for one file, and refuses a missing one."""
    ckpt = tmp_path / "fall_yolov8s.pt"
    ckpt.write_bytes(b"stand-in")
    data = _dataset(tmp_path / "ds", 120)
    plan = plan_training(data, tmp_path / "plan", PlanRequest(weights=str(ckpt))).plan
    assert (plan.weights, plan.model, plan.chosen["model_size"]) == (
        str(ckpt),
        FROM_CHECKPOINT,
        FROM_CHECKPOINT,
    )
    assert "from checkpoint" in plan.reason
    with pytest.raises(ConfigError, match="not found"):
        plan_training(data, tmp_path / "plan2", PlanRequest(weights=str(tmp_path / "missing.pt")))


def test_builtin_architectures_always_count_as_present(tmp_path: Path) -> None:
    """It accepts yolov5{size}.yaml (built by Ultralytics, random weights) for every size."""
    plan = plan_training(
        _dataset(tmp_path / "ds", 120), tmp_path / "plan", PlanRequest(weights="yolov5{size}.yaml")
    )
    assert (plan.plan.weights, plan.plan.sizes_present) == ("yolov5s.yaml", list("nsmlx"))


def test_sizes_are_looked_up_in_the_object_store(s3: S3Admin, bucket: str, tmp_path: Path) -> None:  # noqa: F811
    """It stats s3:// objects through MINIO_*: with yolov5nu.pt and yolov5lu.pt uploaded, 120 images get n."""
    blob = tmp_path / "blob.pt"
    blob.write_bytes(b"stand-in")
    for name in ("yolov5nu.pt", "yolov5lu.pt"):
        s3.upload_file(blob, bucket, f"pretrained/{name}")
    request = PlanRequest(weights=f"s3://{bucket}/pretrained/yolov5{{size}}u.pt")
    plan = plan_training(_dataset(tmp_path / "ds", 120), tmp_path / "plan", request).plan
    assert (plan.weights, plan.sizes_present) == (f"s3://{bucket}/pretrained/yolov5nu.pt", ["n", "l"])
    assert plan.chosen["model_size"] == NEAREST


def test_a_missing_bucket_asks_for_the_upload(s3: S3Admin, tmp_path: Path) -> None:  # noqa: F811
    """It treats a bucket that does not exist yet as no weights: one line saying what to upload where."""
    request = PlanRequest(weights="s3://models-not-made/pretrained/yolov5{size}u.pt")
    with pytest.raises(
        ConfigError, match=r"upload one of yolov5nu\.pt.* to s3://models-not-made/pretrained/"
    ):
        plan_training(_dataset(tmp_path / "ds", 120), tmp_path / "plan", request)


def test_cli_reports_missing_weights_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It exits 2 with one line on stderr when no size has weights."""
    data, w = _dataset(tmp_path / "ds", 120), _weights(tmp_path / "w")
    assert main(["plan", "--dataset", str(data), "--out", str(tmp_path / "p"), "--weights", w]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "upload one of yolov5nu.pt" in err
