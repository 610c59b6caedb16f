"""train checks its configuration in seconds, before it loads a model or touches a GPU, with the plan's function."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _tiny import TINY_TRAIN, make_checkpoint
from test_train_errors import assert_one_line_error, run_cli

from components._shared.errors import ConfigError
from components.train.core import TrainConfig, train_model


def test_train_refuses_a_cuda_device_on_a_cpu_machine_in_one_line(tiny_data: Path, tmp_path: Path) -> None:
    """--device cuda:0 without a GPU is one line (was Ultralytics' traceback); the CLI exits 2."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    init = make_checkpoint(tmp_path / "w" / "init.pt")
    cfg = TrainConfig(freeze=10, epochs=1, **{**TINY_TRAIN, "device": "cuda:0"})
    with pytest.raises(ConfigError, match=r"--device cuda:0: this machine has no CUDA GPU"):
        train_model(tiny_data, str(init), tmp_path / "out", cfg)
    assert not (tmp_path / "out").exists()
    proc = run_cli("train", "--dataset", str(tiny_data), "--weights", str(init), "--out", str(tmp_path / "o"),
                   "--device", "cuda:0")  # fmt: skip
    assert_one_line_error(proc, "--device cuda:0", "no CUDA GPU")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"imgsz": 100}, r"--imgsz 100: not a multiple of the model stride 32"),
        ({"device": "gpu"}, r"--device 'gpu': use auto, cpu"),
        ({"train_args": {"mosaic": "lots"}}, r"'mosaic=.lots.' "),
    ],
)
def test_train_refuses_bad_configuration_in_seconds(
    tiny_data: Path, tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    """An image size off the stride, a malformed device and a wrongly typed argument fail before any work."""
    cfg = TrainConfig(**{**TrainConfig(freeze=10, epochs=1, **TINY_TRAIN).to_dict(), **changes})
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=message):
        train_model(tiny_data, "yolov5n.yaml", tmp_path / "out", cfg)
    assert time.perf_counter() - started < 10
    assert not (tmp_path / "out").exists()
