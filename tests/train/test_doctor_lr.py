"""An absurd learning rate: refused when Ultralytics cannot take it, diagnosed when it can."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.cli import main


def test_train_refuses_a_learning_rate_above_one_with_one_line(
    tmp_path: Path, tiny_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exits 2 with one line naming --lr0 10 (Ultralytics' own check raised a ValueError traceback)."""
    from _tiny import make_checkpoint

    init = make_checkpoint(tmp_path / "init.pt", nc=3)
    argv = ["train", "--dataset", str(tiny_data), "--weights", str(init), "--out", str(tmp_path / "out")]
    assert main([*argv, "--lr0", "10", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--lr0 10" in err[0] and "(0, 1]" in err[0]
    assert not (tmp_path / "out" / "metrics.json").exists()


@pytest.mark.slow
def test_an_absurd_learning_rate_gets_the_swinging_loss_diagnosis(tmp_path: Path) -> None:
    """It trains 3 epochs at lr0=1 (Ultralytics' ceiling, 100x the default) and records swinging_loss.

    ``nbs`` equal to the batch makes every batch an optimizer step (Ultralytics would otherwise
    accumulate to 64 images and, on 16 images, never step).
    """
    from _tiny import TINY_TRAIN, make_checkpoint, make_dataset

    from components.train.core import TrainConfig, train_model

    data = make_dataset(tmp_path / "data", n_train=16, n_val=4)
    init = make_checkpoint(tmp_path / "init.pt", nc=3)
    cfg = TrainConfig(freeze=0, epochs=3, lr0=1.0, stage_name="broken", train_args={"nbs": 4}, **TINY_TRAIN)
    result = train_model(data, str(init), tmp_path / "out", cfg)
    diagnosis = json.loads(result.metrics_json.read_text(encoding="utf-8"))["diagnosis"]
    swings = [d for d in diagnosis if d["rule"] == "swinging_loss"]
    assert swings and "lower the learning rate" in swings[0]["remedy"], diagnosis
    assert "swinging_loss" in result.report_html.read_text(encoding="utf-8")
