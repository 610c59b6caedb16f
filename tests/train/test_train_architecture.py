"""Any Ultralytics detection checkpoint (YOLOv5u, YOLOv8, YOLO11) trains and is reported under its real architecture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _tiny import TINY_TRAIN, make_dataset

from components._yolo.model import UNKNOWN_ARCH, architecture_name, checkpoint_architecture
from components.train.core import TrainConfig, train_model
from components.train.stage import run_training_stage

REPO = Path(__file__).resolve().parents[2]
YOLOV5N = REPO / "pipelines" / "sample" / "pretrained_task_a.pt"
YOLOV8S = REPO.parent / "shared" / "models" / "fall-yolov8s" / "fall_yolov8s.pt"


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


@pytest.mark.parametrize(
    ("yaml", "expected"),
    [
        ("yolov5n.yaml", "yolov5nu"),
        ("yolov5su.yaml", "yolov5su"),
        ("yolov5n6.yaml", "yolov5n6u"),
        ("yolov8s.yaml", "yolov8s"),
        ("yolo11m.yaml", "yolo11m"),
        ({"yaml_file": "yolov8.yaml", "scale": "l"}, "yolov8l"),
        ({"depth_multiple": 0.5, "width_multiple": 0.25, "backbone": [[-1, 2, "C3k2", [256]]]}, "yolo11n"),
        ({"depth_multiple": 0.33, "width_multiple": 0.5, "backbone": [[-1, 3, "C2f", [128]]]}, "yolov8s"),
        ({"nc": 3}, UNKNOWN_ARCH),
    ],
)
def test_architecture_comes_from_the_models_yaml(yaml, expected: str) -> None:
    """It names the architecture from the YAML file name and scale, or from the blocks and multiples."""
    assert architecture_name(yaml) == expected


def test_a_checkpoint_name_is_the_last_resort() -> None:
    """It falls back on train_args.model (a Windows path too) when the YAML says nothing."""
    assert architecture_name({}, r"D:\runs\yolov8m.pt") == "yolov8m"
    assert architecture_name({}, r"D:\runs\best.pt") == UNKNOWN_ARCH


def test_checkpoints_are_read_without_running_code() -> None:
    """It reads yolov5nu from the committed sample and yolov8s from the fall checkpoint (no yaml_file in it)."""
    assert checkpoint_architecture(_need(YOLOV5N)) == "yolov5nu"
    assert checkpoint_architecture(_need(YOLOV8S)) == "yolov8s"


@pytest.mark.slow
def test_a_yolov8_checkpoint_trains_and_is_reported_as_yolov8s(tmp_path: Path) -> None:
    """It trains one frozen epoch from YOLOv8s and writes architecture yolov8s to metrics.json and the card."""
    data = make_dataset(tmp_path / "ds", n_train=4, n_val=2)
    cfg = TrainConfig(freeze=10, epochs=1, **{**TINY_TRAIN, "imgsz": 32}, train_args={"mosaic": 0.0})
    result = train_model(data, str(_need(YOLOV8S)), tmp_path / "run", cfg)
    metrics = json.loads(result.metrics_json.read_text(encoding="utf-8"))
    assert result.architecture == metrics["architecture"] == result.card()["architecture"] == "yolov8s"
    assert result.frozen_verified is True and metrics["config"]["train_args"] == {"mosaic": 0.0}
    assert metrics["workers"] == 0


@pytest.mark.slow
def test_a_skipped_stage_reports_the_architecture_it_passes_through(tmp_path: Path) -> None:
    """It names yolov5nu for a 0-epoch stage that passes the sample checkpoint through."""
    data = make_dataset(tmp_path / "ds", n_train=2, n_val=1)
    init = tmp_path / "init"
    init.mkdir()
    (init / "yolov5nu.pt").write_bytes(_need(YOLOV5N).read_bytes())
    result = run_training_stage(
        data.parent, init, tmp_path / "out", TrainConfig(epochs=0, stage_name="finetune")
    )
    assert result.architecture == "yolov5nu" == result.card()["architecture"]
