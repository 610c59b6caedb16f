"""A deliberately broken run: a class list that contradicts the checkpoint's gets the class_mismatch diagnosis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.mark.slow
def test_a_class_list_in_another_order_than_the_weights_gets_class_mismatch(
    tmp_path: Path, tiny_data: Path
) -> None:
    """It trains 1 epoch from weights trained on (bar, square) on a dataset listing (square, bar): flagged, run unchanged."""
    from _tiny import NAMES, TINY_TRAIN, make_checkpoint

    from components.train.core import TrainConfig, train_model

    init = make_checkpoint(tmp_path / "init.pt", nc=2, names=tuple(reversed(NAMES)))
    result = train_model(
        tiny_data, str(init), tmp_path / "out", TrainConfig(freeze=10, epochs=1, **TINY_TRAIN)
    )
    diagnosis = json.loads(result.metrics_json.read_text(encoding="utf-8"))["diagnosis"]
    (finding,) = [d for d in diagnosis if d["rule"] == "class_mismatch"]
    assert (
        finding["epoch"] == 1 and "another order" in finding["evidence"] and "nc/names" in finding["remedy"]
    )
    assert result.epochs == 1 and result.best.is_file()  # the doctor only reports
