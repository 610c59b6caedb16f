"""The plan stage: ``auto`` values come from the dataset-size table, explicit values win, and it says why."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from components._shared.errors import ConfigError
from components._yolo.layers import BACKBONE_LAYERS
from components.plan.core import PlanRequest, parse_freeze, plan_training, recommend, resolve_plan
from pipelines.cli import main


def _listed_dataset(root: Path, n_train: int) -> Path:
    """A dataset.yaml whose train list names ``n_train`` distinct images (the plan only counts them)."""
    root.mkdir(parents=True)
    (root / "train.txt").write_text(
        "".join(f"./images/{i:05d}.png\n" for i in range(n_train)), encoding="utf-8"
    )
    (root / "val.txt").write_text("./images/v.png\n", encoding="utf-8")
    spec = {"path": ".", "train": "train.txt", "val": "val.txt", "names": {0: "helmet", 1: "head"}}
    (root / "dataset.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return root / "dataset.yaml"


def _all_weights(folder: Path) -> str:
    """A local weights location holding every yolov5{size}u.pt (the plan only checks that they exist)."""
    folder.mkdir(parents=True, exist_ok=True)
    for size in "nsmlx":
        (folder / f"yolov5{size}u.pt").write_bytes(b"stand-in")
    return str(folder / "yolov5{size}u.pt")


def test_plan_takes_auto_values_from_the_table_and_writes_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It resolves a default request from the table row for the train split and writes plan.json and plan.md."""
    data = _listed_dataset(tmp_path / "ds", 120)
    monkeypatch.chdir(tmp_path)  # the relative weights path below
    _all_weights(tmp_path / "w")
    result = plan_training(data, tmp_path / "plan", PlanRequest(weights="w/yolov5{size}u.pt"))
    plan, row = result.plan, recommend(120)
    assert (plan.freeze, plan.strategy, plan.train_images) == (BACKBONE_LAYERS, "two-stage", 120)
    assert (plan.epochs_frozen, plan.epochs_finetune) == (row.epochs_frozen, row.epochs_finetune)
    assert plan.weights == "w/yolov5su.pt" and plan.chosen["freeze"] == "auto"
    saved = json.loads(result.plan_json.read_text(encoding="utf-8"))
    assert saved["plan"]["freeze"] == BACKBONE_LAYERS and saved["request"]["freeze"] == "auto"
    view = result.plan_md.read_text(encoding="utf-8")
    assert "# Training plan" in view and "120 train images" in view and "| freeze | 10 | auto |" in view


def test_auto_freeze_follows_the_dataset_size_tier(tmp_path: Path) -> None:
    """It freezes 8 layers, not 10, for 3,000 train images (the 1000-5000 row), and picks yolov5m."""
    request = PlanRequest(weights=_all_weights(tmp_path / "w"))
    plan = plan_training(_listed_dataset(tmp_path / "ds", 3000), tmp_path / "plan", request).plan
    assert (plan.freeze, plan.model, plan.strategy) == (8, "yolov5mu", "two-stage")
    assert plan.epochs_frozen + plan.epochs_finetune == recommend(3000).epochs


def test_an_explicit_freeze_always_wins(tmp_path: Path) -> None:
    """It keeps a requested freeze depth even where the table says otherwise, and records it as requested."""
    data, w = _listed_dataset(tmp_path / "ds", 3000), _all_weights(tmp_path / "w")
    plan = plan_training(data, tmp_path / "plan", PlanRequest(weights=w, freeze=BACKBONE_LAYERS)).plan
    assert plan.freeze == BACKBONE_LAYERS and plan.chosen["freeze"] == "requested"
    request = PlanRequest(weights=w, freeze=3, strategy="frozen")
    assert plan_training(data, tmp_path / "p0", request).plan.freeze == 3


def test_nothing_to_freeze_turns_two_stage_into_full() -> None:
    """It trains everything in one stage at lr0 when a two-stage plan has 0 layers or 0 epochs frozen."""
    plan = resolve_plan(PlanRequest(strategy="two-stage", freeze=0, epochs_frozen=4, epochs_finetune=6), 100)
    assert (plan.strategy, plan.freeze, plan.epochs_frozen, plan.epochs_finetune) == ("full", 0, 0, 10)
    assert "becomes full" in plan.reason


def test_frozen_strategy_spends_every_epoch_frozen() -> None:
    """It gives the fine-tune stage 0 epochs (pass-through) when the strategy is ``frozen``."""
    plan = resolve_plan(PlanRequest(strategy="frozen", epochs_frozen=2, epochs_finetune=6), 100)
    assert (plan.freeze, plan.epochs_frozen, plan.epochs_finetune) == (BACKBONE_LAYERS, 8, 0)


@pytest.mark.parametrize(("value", "expected"), [("auto", None), ("", None), (None, None), ("-1", None),
                                                 (-1, None), ("8", 8), (0, 0)])  # fmt: skip
def test_freeze_accepts_auto_or_a_layer_count(value, expected) -> None:
    """It reads ``auto`` (or -1, or empty) as the table's choice and a number as a layer count."""
    assert parse_freeze(value) == expected


@pytest.mark.parametrize("value", ["ten", "-3", "1.5"])
def test_freeze_refuses_anything_else(value: str) -> None:
    """It raises a one-line ConfigError naming the bad value."""
    with pytest.raises(ConfigError, match="freeze="):
        parse_freeze(value)


@pytest.mark.parametrize(
    ("request_", "match"),
    [
        (PlanRequest(strategy="fast"), "strategy 'fast'"),
        (PlanRequest(model_size="q"), "model_size 'q'"),
        (PlanRequest(epochs_frozen=-2), "epochs_frozen=-2"),
        (PlanRequest(epochs_frozen=0, epochs_finetune=0), "at least 1"),
    ],
)
def test_invalid_requests_are_refused(request_: PlanRequest, match: str) -> None:
    """It raises ConfigError for an unknown strategy or size, a bad epoch count, or no epochs at all."""
    with pytest.raises(ConfigError, match=match):
        resolve_plan(request_, 100)


def test_out_overlapping_the_dataset_is_refused(tmp_path: Path) -> None:
    """It refuses to write its folder over (or inside) the dataset, and the dataset stays."""
    data = _listed_dataset(tmp_path / "ds", 10)
    for out in (tmp_path / "ds", tmp_path / "ds" / "plan", tmp_path):
        with pytest.raises(ConfigError, match="the input"):
            plan_training(data, out)
    assert data.is_file() and (tmp_path / "ds" / "train.txt").is_file()


def test_cli_prints_the_plan_and_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It prints the plan as JSON, and a bad --freeze ends with one line on stderr and exit 2."""
    data, w = _listed_dataset(tmp_path / "ds", 3000), _all_weights(tmp_path / "w")
    assert main(["plan", "--dataset", str(data), "--out", str(tmp_path / "p"), "--weights", w]) == 0
    assert json.loads(capsys.readouterr().out)["plan"]["freeze"] == 8
    assert main(["plan", "--dataset", str(data), "--out", str(tmp_path / "p"), "--freeze", "ten"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "freeze='ten'" in err


@pytest.mark.slow
def test_training_honours_the_automatic_freeze_depth(tmp_path: Path) -> None:
    """It trains with the depth the table chose for 1,500 train images (9 layers) and proves them frozen."""
    from _tiny import TINY_TRAIN, make_checkpoint, make_dataset

    from components.train.core import TrainConfig, train_model

    data = make_dataset(tmp_path / "ds", n_train=4, n_val=2)
    root = data.parent
    first = sorted((root / "images").glob("img00[0-3].png"))
    lines = []
    for i in range(1500):  # hard links: 1,500 distinct train entries for the price of 4 images
        src = first[i % len(first)]
        img, lbl = root / "images" / f"x{i:04d}.png", root / "labels" / f"x{i:04d}.txt"
        os.link(src, img)
        os.link(root / "labels" / f"{src.stem}.txt", lbl)
        lines.append(f"./images/{img.name}\n")
    (root / "train.txt").write_text("".join(lines), encoding="utf-8")
    plan = plan_training(data, tmp_path / "plan", PlanRequest(weights=_all_weights(tmp_path / "w"))).plan
    assert plan.freeze == 9 and plan.chosen["freeze"] == "auto"
    cfg = TrainConfig(freeze=plan.freeze, epochs=1, **{**TINY_TRAIN, "imgsz": 32, "batch": 64})
    result = train_model(data, str(make_checkpoint(tmp_path / "init.pt", nc=3)), tmp_path / "run", cfg)
    assert result.freeze == 9 and result.frozen_verified is True
