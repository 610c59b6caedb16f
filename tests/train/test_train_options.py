"""Training options: ``train_args`` checked against Ultralytics' own keys, and workers from the CPUs allowed."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from components._shared.errors import ConfigError
from components.train.cli import parse_train_args
from components.train.core import (
    MAX_WORKERS,
    PIPELINE_OWNED_ARGS,
    TrainConfig,
    check_train_args,
    default_workers,
    usable_cpus,
)
from pipelines.cli import main


def _cpu_max(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cpu.max"
    path.write_text(text, encoding="ascii")
    return path


@pytest.fixture
def cpus(monkeypatch: pytest.MonkeyPatch):
    """Pretend the process may run on N CPUs (its affinity); returns the setter."""

    def set_cpus(n: int) -> None:
        monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)), raising=False)

    return set_cpus


def test_workers_follow_the_cgroup_cpu_quota(tmp_path: Path, cpus) -> None:
    """It gives 3 workers under a 4-CPU limit on a 32-CPU node (the main process keeps one CPU)."""
    cpus(32)
    limit = _cpu_max(tmp_path, "400000 100000\n")
    assert usable_cpus(limit) == 4 and default_workers(cpu_max=limit) == 3


def test_workers_without_a_quota_follow_the_affinity_capped_at_eight(tmp_path: Path, cpus) -> None:
    """It reads ``max`` (no limit) or a missing file as no quota, and never asks for more than 8 workers."""
    cpus(6)
    assert default_workers(cpu_max=_cpu_max(tmp_path, "max 100000\n")) == 5
    assert default_workers(cpu_max=tmp_path / "absent") == 5
    cpus(64)
    assert default_workers(cpu_max=tmp_path / "absent") == MAX_WORKERS


def test_a_fractional_or_single_cpu_gets_no_workers(tmp_path: Path, cpus) -> None:
    """It gives 0 workers under a 500m or 1.5-CPU limit (rounded down, at least one CPU for the main process)."""
    cpus(8)
    assert usable_cpus(_cpu_max(tmp_path, "50000 100000")) == 1
    assert default_workers(cpu_max=_cpu_max(tmp_path, "150000 100000")) == 0


def test_ddp_processes_share_the_cpus(tmp_path: Path, cpus) -> None:
    """It splits 8 CPUs between 2 GPU processes: 3 workers each."""
    cpus(8)
    assert default_workers(2, cpu_max=tmp_path / "absent") == 3


def test_an_explicit_workers_value_wins() -> None:
    """It keeps workers=None (derived) by default and an explicit count as given."""
    assert TrainConfig().workers is None and TrainConfig(workers=5).workers == 5


@pytest.mark.parametrize(
    ("key", "param"),
    [("epochs", "epochs_frozen / epochs_finetune"), ("imgsz", "imgsz"), ("device", "gpus"), ("lr0", "lr0")],
)
def test_arguments_the_pipeline_owns_are_refused_with_the_parameter_to_use(key: str, param: str) -> None:
    """It names the key and the pipeline parameter that sets it, in one line."""
    with pytest.raises(ConfigError, match=f"'{key}' is set by the pipeline; use {param}") as err:
        check_train_args({key: 3})
    assert "\n" not in str(err.value)


def test_owned_arguments_are_listed_once() -> None:
    """It owns data, model, epochs, imgsz, batch, freeze, lr0, device, project, name, resume and seed."""
    owned = {"data", "model", "epochs", "imgsz", "batch", "freeze", "lr0", "device", "project", "name"}
    assert owned | {"resume", "seed"} <= set(PIPELINE_OWNED_ARGS)


def test_unknown_arguments_are_refused_with_the_closest_key() -> None:
    """It suggests 'mosaic' for 'mosiac', and checks against Ultralytics' own keys."""
    with pytest.raises(
        ConfigError, match="'mosiac' is not an Ultralytics training argument; did you mean 'mosaic'"
    ):
        check_train_args({"mosiac": 0.5})


def test_values_are_type_checked_by_ultralytics() -> None:
    """It accepts augmentation, optimizer and workers, and refuses an out-of-range value in one line."""
    good = {"mosaic": 0.5, "optimizer": "AdamW", "workers": 4, "cache": "disk", "cos_lr": True}
    assert check_train_args(good) == good
    with pytest.raises(ConfigError, match="mosaic=2.0") as err:
        check_train_args({"mosaic": 2.0})
    assert "\n" not in str(err.value)


def test_train_args_win_over_the_configs_own_fields() -> None:
    """It passes train_args to Ultralytics after the config's values, so optimizer=AdamW replaces SGD."""
    from components.train.core import _overrides

    args = _overrides(TrainConfig(workers=1, train_args={"optimizer": "AdamW", "mixup": 0.1}), "cpu")
    assert (args["optimizer"], args["mixup"], args["workers"], args["epochs"]) == ("AdamW", 0.1, 1, 10)


def test_cli_reads_train_args_as_yaml_scalars() -> None:
    """It reads numbers, booleans, strings and empty values as YAML does."""
    parsed = parse_train_args(["mosaic=0.5", "cos_lr=true", "optimizer=AdamW", "close_mosaic=0", "cache="])
    assert parsed == {"mosaic": 0.5, "cos_lr": True, "optimizer": "AdamW", "close_mosaic": 0, "cache": None}
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_train_args(["mosaic"])


def test_cli_refuses_an_owned_train_arg_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exits 2 with one line naming the key before anything is loaded."""
    argv = ["train", "--dataset", str(tmp_path / "d.yaml"), "--weights", "x.pt", "--out", str(tmp_path / "o")]
    assert main([*argv, "--train-arg", "epochs=3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'epochs' is set by the pipeline" in err


def test_result_is_its_metrics_json_and_reads_back(tmp_path: Path) -> None:
    """It writes metrics.json from the one TrainResult (no out_dir, no empty previous_stage) and reads it back."""
    from components._shared.fsio import write_json_atomic
    from components.train.core import TrainResult

    result = TrainResult(tmp_path, "frozen", "yolov5nu", map50=0.5, names=("a", "b"), frozen_verified=True,
                         config=TrainConfig(imgsz=64).to_dict())  # fmt: skip
    data = result.to_json()
    assert list(data)[:3] == ["stage", "architecture", "map50"] and data["names"] == ["a", "b"]
    assert "out_dir" not in data and "previous_stage" not in data
    write_json_atomic(result.metrics_json, data)
    assert TrainResult.read(tmp_path) == result
    assert result.to_dict()["stage_name"] == "frozen" and result.card()["imgsz"] == 64
    summary = result.summary()
    assert summary["frozen_verified"] == 1.0 and "backbone_max_abs_change" not in summary


def test_last_row_gives_the_metrics_when_the_record_has_none() -> None:
    """It reads mAP, precision and recall of the last results.csv row by Ultralytics' column names."""
    from components._yolo.results import MAP50, MAP50_95, PRECISION, RECALL, epoch_seconds, last_metrics

    rows = [{MAP50: 0.1, "time": 5.0}, {MAP50: 0.4, MAP50_95: 0.2, PRECISION: 0.6, RECALL: 0.3, "time": 12.0}]
    assert last_metrics(rows) == {"map50": 0.4, "map50_95": 0.2, "precision": 0.6, "recall": 0.3}
    assert last_metrics([]) == {"map50": 0.0, "map50_95": 0.0, "precision": 0.0, "recall": 0.0}
    assert epoch_seconds(rows) == [5.0, 7.0]
