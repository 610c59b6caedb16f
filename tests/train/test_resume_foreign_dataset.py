"""A checkpoint is resumed only on the dataset it was trained on: same class list, same dataset fingerprint.

An interrupted ``--out`` (or a checkpoint restored from the checkpoint store) of another dataset is refused
in one line naming what differs; before, another class count crashed with a size-mismatch traceback and
the same count silently continued the foreign checkpoint.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from _tiny import TINY_TRAIN, TinyRun, make_dataset
from test_train_errors import assert_one_line_error, run_cli

from components._shared.errors import ConfigError
from components.train.core import TrainConfig, train_model
from components.train.stage import run_training_stage

CFG = TrainConfig(freeze=10, epochs=3, **TINY_TRAIN)


def interrupted(run: TinyRun, dest: Path) -> Path:
    """``dest`` as a run of ``run``'s dataset left it when it stopped after epoch 1 of 3 (run/ and .state/)."""
    import torch

    shutil.copytree(run.out_dir / ".state", dest / ".state")
    (dest / "run" / "weights").mkdir(parents=True)
    ckpt = torch.load(run.out_dir / "last.pt", map_location="cpu", weights_only=False)
    ckpt.update(epoch=0, optimizer={"state": {}, "param_groups": []})
    ckpt["train_args"] = {**ckpt["train_args"], "epochs": CFG.epochs}
    torch.save(ckpt, dest / "run" / "weights" / "last.pt")
    return dest


def other_dataset(root: Path, names: tuple[str, ...] | None = None) -> Path:
    """Another tiny dataset (other images and labels); ``names`` replaces its class list."""
    data = make_dataset(root, seed=7)
    if names is not None:
        spec = yaml.safe_load(data.read_text())
        spec["names"] = dict(enumerate(names))
        data.write_text(yaml.safe_dump(spec))
    return data


def test_resume_refuses_an_interrupted_run_of_another_dataset_with_the_same_classes(
    frozen_run: TinyRun, tmp_path: Path
) -> None:
    """It refuses, naming the fingerprint, instead of continuing the foreign checkpoint; nothing is trained."""
    out = interrupted(frozen_run, tmp_path / "out")
    data = other_dataset(tmp_path / "other")
    with pytest.raises(ConfigError, match=r"trained on another dataset: dataset fingerprint .* --overwrite"):
        train_model(data, str(frozen_run.init_weights), out, CFG)
    assert not (out / "metrics.json").exists()


def test_resume_refuses_an_interrupted_run_with_other_classes_in_one_line(
    frozen_run: TinyRun, tmp_path: Path
) -> None:
    """Another class count is one line naming both class lists (was a size-mismatch traceback); CLI exit 2."""
    out = interrupted(frozen_run, tmp_path / "out")
    data = other_dataset(tmp_path / "other", names=("square", "bar", "ring"))
    with pytest.raises(ConfigError, match=r"classes \['square', 'bar'\] differ .*'ring'\]"):
        train_model(data, str(frozen_run.init_weights), out, CFG)
    proc = run_cli(
        "train", "--dataset", str(data), "--weights", str(frozen_run.init_weights), "--out", str(out),
        "--freeze", "10", "--epochs", "3", "--imgsz", "64", "--batch", "4", "--device", "cpu",
        "--workers", "0", "--warmup-epochs", "0",
    )  # fmt: skip
    assert_one_line_error(proc, "another dataset", "new --out")


def test_resume_refuses_a_store_checkpoint_of_another_dataset(frozen_run: TinyRun, tmp_path: Path) -> None:
    """A checkpoint restored from the checkpoint store whose checkpoint.json names another dataset is refused."""
    from components.train.checkpoints import CheckpointSync

    source = interrupted(frozen_run, tmp_path / "source")
    stage = json.loads((source / ".state" / "stage.json").read_text())
    root = tmp_path / "checkpoints"
    sync = CheckpointSync(str(root / "run-1" / "frozen"), dataset=stage["dataset"])
    sync.upload(source / "run" / "weights" / "last.pt", 1)
    data = other_dataset(tmp_path / "other")
    init = tmp_path / "init"
    init.mkdir()
    shutil.copyfile(frozen_run.init_weights, init / "init.pt")
    cfg = TrainConfig(**{**CFG.to_dict(), "stage_name": "frozen"})
    with pytest.raises(
        ConfigError, match=r"checkpoint at .*run-1/frozen.* another dataset: dataset fingerprint"
    ):
        run_training_stage(data.parent, init, tmp_path / "out", cfg, str(root), "run-1")
    assert not (tmp_path / "out" / "metrics.json").exists()
