"""The training doctor: each rule fires on a curve that shows its symptom and stays silent on a healthy one."""

from __future__ import annotations

import math

import pytest

from components._yolo.results import MAP50, MAP50_95, TRAIN_LOSSES, VAL_LOSSES
from components.train.doctor import LIMITS, REMEDIES, RULES, ClassScore, Context, Doctor, diagnose, examine


def _row(
    epoch: int, train: float, val: float, map50: float, map50_95: float | None = None
) -> dict[str, float]:
    """One results.csv row whose total train/val losses are ``train``/``val`` (split over the three parts)."""
    row = {"epoch": float(epoch), MAP50: map50, MAP50_95: map50 / 2 if map50_95 is None else map50_95}
    row.update({k: train / 3 for k in TRAIN_LOSSES})
    row.update({k: val / 3 for k in VAL_LOSSES})
    return row


def healthy(epochs: int = 20) -> list[dict[str, float]]:
    """Loss falling steadily, val loss near the train loss, mAP50 rising to 0.9 (still rising at the end)."""
    return [
        _row(e, train=6.0 * 0.93**e, val=5.0 * 0.94**e, map50=0.9 * (1 - math.exp(-e / 8)))
        for e in range(1, epochs + 1)
    ]


def _balanced(epochs: int) -> dict[int, dict[str, ClassScore]]:
    return {e: {"a": ClassScore(0.80, 40), "b": ClassScore(0.74, 35)} for e in range(1, epochs + 1)}


def _rules(rows, ctx: Context | None = None) -> set[str]:
    return {f.rule for f in diagnose(rows, ctx)}


def test_doctor_is_silent_on_a_healthy_curve() -> None:
    """It finds nothing on a steadily improving curve with balanced classes and the weights' own classes."""
    ctx = Context(class_scores=_balanced(20), weights_names=("x", "y"), dataset_names=("a", "b"))
    assert diagnose(healthy(), ctx) == []


def test_every_rule_has_a_remedy_and_every_threshold_a_source() -> None:
    """It keeps remedies and thresholds in one place: every rule has a remedy, every limit names its source."""
    assert set(REMEDIES) == set(RULES)
    assert all(limit.source for limit in LIMITS.values())


def test_swinging_loss_fires_when_the_train_loss_jumps() -> None:
    """It names the jump (an absurd learning rate: 1.9 -> 69) and the guide's remedy."""
    rows = [_row(1, 1.85, 0.0, 0.0), _row(2, 69.5, 0.0, 0.0), _row(3, 188.0, 0.0, 0.0)]
    (finding,) = [f for f in diagnose(rows) if f.rule == "swinging_loss"]
    assert finding.epoch == 2 and "37.6x" in finding.evidence and "lower the learning rate" in finding.remedy


def test_swinging_loss_fires_on_a_non_finite_loss() -> None:
    """It treats a NaN train loss as the most violent swing."""
    rows = [_row(1, 4.0, 4.0, 0.1), _row(2, math.nan, 4.0, 0.1)]
    assert {"swinging_loss", "exploding_gradients"} <= _rules(rows)


def test_exploding_gradients_fires_on_a_tenfold_loss() -> None:
    """It fires when the loss reaches 10x the first epoch's, not on a merely noisy one."""
    rows = [_row(1, 2.0, 2.0, 0.1), _row(2, 5.0, 2.0, 0.1), _row(3, 25.0, 2.0, 0.1)]
    assert [f.epoch for f in diagnose(rows) if f.rule == "exploding_gradients"] == [3]


def test_map_plateau_fires_on_an_early_plateau() -> None:
    """It fires when mAP50-95 stops rising at epoch 4 and stays flat for 5 epochs."""
    maps = [0.1, 0.2, 0.3, 0.35, 0.35, 0.351, 0.35, 0.349, 0.35]
    rows = [_row(e, 6.0 * 0.93**e, 5.0 * 0.93**e, 0.7, m) for e, m in enumerate(maps, 1)]
    (finding,) = [f for f in diagnose(rows) if f.rule == "map_plateau"]
    assert finding.epoch == 9 and "unfreeze" in finding.remedy


def test_map_plateau_ignores_a_late_plateau() -> None:
    """It does not fire when the plateau starts at epoch 10 or later (the guide's 'fewer than 10 epochs')."""
    maps = [0.05 * e for e in range(1, 11)] + [0.5] * 6
    rows = [_row(e, 6.0 * 0.93**e, 5.0 * 0.93**e, 0.8, m) for e, m in enumerate(maps, 1)]
    assert "map_plateau" not in _rules(rows)


def test_val_train_loss_ratio_fires_above_twice_for_two_epochs() -> None:
    """It fires when val loss stays above 2x the train loss, not on a single noisy epoch."""
    single = [_row(1, 3.0, 3.0, 0.6), _row(2, 2.0, 4.5, 0.65), _row(3, 1.9, 2.0, 0.7)]
    assert "val_train_loss_ratio" not in _rules(single)
    rows = [_row(1, 3.0, 3.0, 0.6), _row(2, 2.0, 4.5, 0.65), _row(3, 1.8, 4.6, 0.7)]
    assert [f.epoch for f in diagnose(rows) if f.rule == "val_train_loss_ratio"] == [3]


def test_overfitting_fires_on_low_train_and_high_val_loss() -> None:
    """It fires on train loss below 0.5 with val loss above 2.0 (the guide's numbers)."""
    rows = [_row(1, 0.9, 1.5, 0.6), _row(2, 0.45, 2.2, 0.6)]
    assert "overfitting" in _rules(rows)
    assert "overfitting" not in _rules([_row(1, 0.9, 1.5, 0.6), _row(2, 0.55, 2.2, 0.6)])


def test_class_precision_spread_fires_on_a_lasting_gap() -> None:
    """It fires when two well-represented classes differ by more than 30 points in 3 validations running."""
    rows = healthy(5)
    gap = {e: {"a": ClassScore(0.9, 40), "b": ClassScore(0.4, 30)} for e in range(1, 6)}
    (finding,) = [f for f in diagnose(rows, Context(class_scores=gap)) if f.rule == "class_precision_spread"]
    assert finding.epoch == 3 and "a 0.90 vs b 0.40" in finding.evidence


def test_class_precision_spread_ignores_classes_with_few_instances() -> None:
    """It does not judge a class by a handful of boxes (fewer than 20 val instances)."""
    gap = {e: {"a": ClassScore(0.9, 40), "b": ClassScore(0.0, 3)} for e in range(1, 6)}
    assert "class_precision_spread" not in _rules(healthy(5), Context(class_scores=gap))


def test_map_stuck_low_fires_when_map50_stays_below_half() -> None:
    """It fires when mAP50 hovers around 0.3 for 5 epochs while the loss keeps falling slowly."""
    rows = [_row(e, 6.0 * 0.97**e, 5.0 * 0.97**e, min(0.3, 0.1 * e)) for e in range(1, 10)]
    (finding,) = [f for f in diagnose(rows) if f.rule == "map_stuck_low"]
    assert "check the labels" in finding.remedy and finding.epoch == 8


def test_class_mismatch_fires_when_loss_falls_and_map_stays_flat() -> None:
    """It fires when the loss drops by a third while mAP50 does not move."""
    rows = [_row(e, 6.0 * 0.85**e, 5.0 * 0.85**e, 0.02) for e in range(1, 6)]
    assert [f.epoch for f in diagnose(rows) if f.rule == "class_mismatch"] == [4]


def test_class_mismatch_fires_on_the_weights_classes_in_another_order() -> None:
    """It fires at the first epoch when the dataset lists the weights' classes in another order."""
    ctx = Context(weights_names=("star", "cross", "ring"), dataset_names=("ring", "cross", "star"))
    (finding,) = [f for f in diagnose(healthy(2), ctx) if f.rule == "class_mismatch"]
    assert finding.epoch == 1 and "another order" in finding.evidence


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_rule_is_silent_on_the_healthy_curve(rule: str) -> None:
    """It finds no symptom of ``rule`` at any epoch of the healthy curve."""
    rows = healthy()
    ctx = Context(class_scores=_balanced(20))
    assert all(rule not in {f.rule for f in examine(rows[:end], ctx)} for end in range(1, len(rows) + 1))


def test_doctor_reports_each_rule_once_and_replays_a_resumed_curve() -> None:
    """It reports a rule the first time it fires, and after a resume examines the epochs it missed."""
    seen = []
    doctor = Doctor(report=seen.append)
    rows = [_row(1, 1.85, 0.0, 0.0), _row(2, 69.5, 0.0, 0.0), _row(3, 188.0, 0.0, 0.0)]
    doctor.after_epoch(rows)  # three epochs at once: as after a resume
    doctor.after_epoch(rows + [_row(4, 190.0, 0.0, 0.0)])
    assert [f.rule for f in seen].count("swinging_loss") == 1
    assert {f.epoch for f in seen if f.rule == "swinging_loss"} == {2}
