"""The frozen stage really freezes (parameters and BatchNorm statistics); the fine-tune stage does not."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import torch
from _tiny import NAMES, TINY_TRAIN, TinyRun

from components._yolo.train import OfflineDetectionTrainer
from components.train.core import FrozenLayersChanged, TrainConfig, train_model

pytestmark = pytest.mark.slow

BACKBONE = tuple(f"model.{i}." for i in range(10))


def state(path: Path) -> dict[str, torch.Tensor]:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    return (ckpt.get("ema") or ckpt["model"]).state_dict()


def test_frozen_stage_keeps_every_backbone_parameter_and_bn_buffer_bit_identical(frozen_run: TinyRun) -> None:
    """It leaves model.0-9 (weights, biases, running_mean/var) exactly as in the input checkpoint."""
    before, after = state(frozen_run.init_weights), state(frozen_run.out_dir / "best.pt")
    frozen = [k for k in before if k.startswith(BACKBONE)]
    assert any(k.endswith("running_mean") for k in frozen) and any(k.endswith("running_var") for k in frozen)
    for k in frozen:
        assert torch.equal(before[k], after[k]), k
    metrics = json.loads((frozen_run.out_dir / "metrics.json").read_text())
    assert metrics["frozen_verified"] is True
    assert all(c["identical"] and c["tensors"] == len(frozen) for c in metrics["frozen_checks"].values())
    assert 0 < metrics["frozen_params"] < metrics["total_params"]
    assert metrics["trainable_params"] <= metrics["total_params"] - metrics["frozen_params"]


def test_frozen_stage_still_trains_the_neck(frozen_run: TinyRun) -> None:
    """It changes the unfrozen layers that were transferred from the input (the neck, model.10-23)."""
    before, after = state(frozen_run.init_weights), state(frozen_run.out_dir / "best.pt")
    neck = [k for k in before if re.match(r"model\.(1[0-9]|2[0-3])\..*\.weight$", k)]
    assert any(not torch.equal(before[k], after[k]) for k in neck)


def test_training_writes_checkpoints_curves_report_and_metrics(frozen_run: TinyRun) -> None:
    """It writes best/last.pt, results.csv, curves.png, a self-contained report.html and metrics.json."""
    out = frozen_run.out_dir
    for name in ("best.pt", "last.pt", "results.csv", "curves.png", "report.html", "metrics.json"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 1 and len(metrics["epoch_seconds"]) == 1
    assert metrics["seconds_per_epoch"] > 0
    assert set(metrics["per_class"]) == set(NAMES)
    assert {"ap50", "ap50_95", "instances"} <= set(metrics["per_class"]["square"])
    assert metrics["config"]["optimizer"] == "SGD" and metrics["config"]["freeze"] == 10
    report = (out / "report.html").read_text()
    png = re.search(r'src="data:image/png;base64,([^"]+)"', report)
    assert png and base64.b64decode(png.group(1)) == (out / "curves.png").read_bytes()
    assert "http" not in report  # nothing to fetch: the KFP UI shows it offline


def test_finetune_stage_changes_the_backbone(frozen_run: TinyRun, tmp_path: Path) -> None:
    """With freeze=0 from the frozen stage's best.pt, the backbone moves and metrics.json says so."""
    cfg = TrainConfig(freeze=0, epochs=1, lr0=0.01, stage_name="finetune", **TINY_TRAIN)
    result = train_model(frozen_run.data_yaml, str(frozen_run.out_dir / "best.pt"), tmp_path / "ft", cfg)
    assert result.backbone_changed is True and result.backbone_max_abs_change > 0
    assert result.backbone_max_abs_change_fp32 > 0
    assert result.frozen_verified is None and result.frozen_params == 0
    before, after = state(frozen_run.out_dir / "best.pt"), state(tmp_path / "ft" / "best.pt")
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(BACKBONE))


def test_frozen_check_catches_batchnorm_statistics_drift(
    frozen_run: TinyRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Ultralytics that puts frozen BatchNorm layers back in train mode (ultralytics#9391) fails the run."""
    monkeypatch.setattr(OfflineDetectionTrainer, "_model_train", lambda self: self.model.train())
    cfg = TrainConfig(freeze=10, epochs=1, **TINY_TRAIN)
    with pytest.raises(FrozenLayersChanged, match="frozen layers changed"):
        train_model(frozen_run.data_yaml, str(frozen_run.init_weights), tmp_path / "drift", cfg)
    details = json.loads((tmp_path / "drift" / "frozen_check.json").read_text())
    assert details["frozen_verified"] is False
    assert any(
        m.endswith(("running_mean", "running_var"))
        for c in details["frozen_checks"].values()
        for m in c["mismatched"]
    )
    assert not (tmp_path / "drift" / "metrics.json").exists()
