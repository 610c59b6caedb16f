"""The transfer-learning table of ``components.plan.core.recommend``: row boundaries and monotonic behaviour."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components._shared.errors import ConfigError
from components.plan.core import recommend as recommend_plan


@pytest.mark.parametrize(
    ("n", "model", "freeze", "epochs"),
    [
        (0, "yolov5s", 10, 30),
        (999, "yolov5s", 10, 50),
        (1000, "yolov5m", 10, 50),
        (5000, "yolov5m", 5, 80),
        (5001, "yolov5l", 5, 80),
        (50_000, "yolov5l", 0, 150),
        (10**7, "yolov5l", 0, 150),
    ],
)
def test_plan_follows_the_table_at_its_row_boundaries(n: int, model: str, freeze: int, epochs: int) -> None:
    """It picks yolov5s below 1000 train images, yolov5m up to 5000 and yolov5l above, within each row's ranges."""
    plan = recommend_plan(n)
    assert (plan.model, plan.freeze, plan.epochs) == (model, freeze, epochs)
    assert str(n) in plan.reason


def test_strategy_is_two_stage_exactly_when_layers_are_frozen() -> None:
    """It plans a frozen then a fine-tune stage when freeze > 0, and full training otherwise."""
    assert recommend_plan(500).strategy == "two-stage"
    full = recommend_plan(60_000)
    assert (full.strategy, full.epochs_frozen, full.epochs_finetune) == ("full", 0, full.epochs)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 100_000))
def test_plan_is_consistent_and_monotonic(n: int) -> None:
    """It keeps epochs_frozen + epochs_finetune == epochs, and never gives more data fewer epochs or more freezing."""
    plan, bigger = recommend_plan(n), recommend_plan(n + 1)
    assert plan.epochs_frozen + plan.epochs_finetune == plan.epochs
    assert (plan.strategy == "two-stage") == (plan.freeze > 0) == (plan.epochs_frozen > 0)
    assert 30 <= plan.epochs <= 150 and 0 <= plan.freeze <= 10
    assert bigger.epochs >= plan.epochs and bigger.freeze <= plan.freeze


def test_negative_image_count_is_refused() -> None:
    """It raises ConfigError for a negative image count."""
    with pytest.raises(ConfigError, match="n_train_images=-1"):
        recommend_plan(-1)
