"""The plan task (CPU, not retried) refuses every configuration error train would, before any GPU time."""

from __future__ import annotations

from pathlib import Path

import pytest
from _tiny import make_checkpoint

from components._shared.errors import ConfigError
from components.plan.core import PlanRequest, plan_training


@pytest.fixture(autouse=True)
def _torch_for_the_checkpoints() -> None:
    """The checkpoints are made with torch (the check itself imports none): skip on the light install,
    at run time, so collecting this file imports no torch."""
    pytest.importorskip("torch")


def _request(weights: Path, **changes: object) -> PlanRequest:
    base = {"weights": str(weights), "epochs_frozen": 1, "epochs_finetune": 1}
    return PlanRequest(**{**base, **changes})  # type: ignore[arg-type]


def test_plan_refuses_a_freeze_beyond_the_checkpoints_layers(tiny_data: Path, tmp_path: Path) -> None:
    """It reads the depth from the checkpoint (25 layers, torch-free) and refuses freeze=999 in one line."""
    weights = make_checkpoint(tmp_path / "w" / "init.pt")
    with pytest.raises(ConfigError, match=r"freeze 999: the model has 25 layers .* at most 24"):
        plan_training(tiny_data, tmp_path / "plan", _request(weights, freeze=999))
    assert not (tmp_path / "plan").exists()
    assert plan_training(tiny_data, tmp_path / "ok", _request(weights, freeze=24)).plan.freeze == 24


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"train_args": {"mosiac": 0.5}},
            r"'mosiac' is not an Ultralytics training argument; did you mean 'mosaic'",
        ),
        ({"train_args": {"epochs": 3}}, r"'epochs' is set by the pipeline"),
        ({"train_args": {"mosaic": "lots"}}, r"'mosaic='lots'' must be a number"),
        ({"train_args": {"workers": 2.5}}, r"'workers=2.5' must be a whole number"),
        ({"train_args": ["mosaic"]}, r"train_args \['mosaic'\]: must be a mapping"),
        ({"imgsz": 100}, r"imgsz 100: not a multiple of the model stride 32"),
        ({"imgsz": 16}, r"imgsz 16: use a whole number of pixels between 32"),
    ],
)
def test_plan_refuses_bad_train_args_and_image_sizes(
    tiny_data: Path, tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    """Unknown or pipeline-owned keys, wrong value types and image sizes off the stride fail the plan task."""
    weights = make_checkpoint(tmp_path / "w" / "init.pt")
    with pytest.raises(ConfigError, match=message):
        plan_training(tiny_data, tmp_path / "plan", _request(weights, **changes))


def test_checkpoint_layers_reads_the_depth_without_running_the_pickle(tmp_path: Path) -> None:
    """It counts a YOLOv5u's 25 layers from the pickle alone; a crafted pickle runs nothing and gives None."""
    import pickle

    from components._yolo.preflight import checkpoint_layers

    assert checkpoint_layers(make_checkpoint(tmp_path / "a.pt")) == 25
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (__import__("os").system, (f"touch {marker}",))

    import torch

    torch.save({"model": Evil()}, tmp_path / "evil.pt", pickle_module=pickle)
    assert checkpoint_layers(tmp_path / "evil.pt") is None
    assert not marker.exists()


def test_the_ultralytics_key_snapshot_matches_the_installed_version() -> None:
    """It fails when Ultralytics' training keys or their kinds change: regenerate ultralytics_keys.py then."""
    pytest.importorskip("ultralytics")
    import ultralytics.cfg as c

    from components._yolo.ultralytics_keys import KEY_KINDS

    def kind(k: str) -> str:
        for name, keys in (("fraction", c.CFG_FRACTION_KEYS), ("float", c.CFG_FLOAT_KEYS), ("int", c.CFG_INT_KEYS),
                           ("bool", c.CFG_BOOL_KEYS), ("str", c.CFG_STR_KEYS)):  # fmt: skip
            if k in keys:
                return name
        return "any"

    assert {k: kind(k) for k in c.DEFAULT_CFG_DICT} == KEY_KINDS
