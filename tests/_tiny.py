"""Tiny YOLO datasets and checkpoints built in tmp_path, shared by the train, validate and export tests.

The dataset follows the split hand-over format of ``components/_shared/dataset.py``: ``images/``,
``labels/``, ``train.txt``/``val.txt``/``test.txt`` with ``./images/<name>`` lines and a
``dataset.yaml`` with ``path: .``. Images are 96 px squares with one or two filled shapes on a noisy
background: enough for a YOLOv5n to see boxes in one epoch, cheap on two CPU cores.

``trained_run`` trains one frozen stage per test session and hands the same folder to every test
that only needs *a* trained model (validate, export), so the suite pays for training once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw

NAMES = ("square", "bar")
IMG = 96
TINY_TRAIN = {"imgsz": 64, "batch": 4, "workers": 0, "device": "cpu", "warmup_epochs": 0.0}

os.environ.setdefault("YOLO_OFFLINE", "1")


def _draw(rng: np.random.Generator, path: Path) -> list[str]:
    """One image with 1-2 shapes; returns its YOLO label lines."""
    noise = rng.integers(90, 166, size=(IMG, IMG, 3), dtype=np.uint8)
    im = Image.fromarray(noise)
    draw = ImageDraw.Draw(im)
    lines = []
    for _ in range(int(rng.integers(1, 3))):
        cls = int(rng.integers(0, len(NAMES)))
        w, h = (int(rng.integers(22, 36)),) * 2 if cls == 0 else (int(rng.integers(36, 56)), 14)
        x0, y0 = int(rng.integers(0, IMG - w)), int(rng.integers(0, IMG - h))
        draw.rectangle((x0, y0, x0 + w - 1, y0 + h - 1), fill=(220, 40, 40) if cls == 0 else (30, 60, 210))
        lines.append(f"{cls} {(x0 + w / 2) / IMG:.6f} {(y0 + h / 2) / IMG:.6f} {w / IMG:.6f} {h / IMG:.6f}")
    im.save(path)
    return lines


def make_dataset(root: Path, n_train: int = 8, n_val: int = 4, seed: int = 0) -> Path:
    """Write a split dataset under ``root`` and return its ``dataset.yaml``."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    splits: dict[str, list[str]] = {"train": [], "val": []}
    for i in range(n_train + n_val):
        name = f"img{i:03d}.png"
        lines = _draw(rng, root / "images" / name)
        (root / "labels" / f"img{i:03d}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        splits["train" if i < n_train else "val"].append(f"./images/{name}")
    for split, entries in splits.items():
        (root / f"{split}.txt").write_text("\n".join(entries) + "\n", encoding="utf-8")
    (root / "test.txt").write_text("\n".join(splits["val"]) + "\n", encoding="utf-8")
    (root / "classes.txt").write_text("\n".join(NAMES) + "\n", encoding="utf-8")
    data = {
        "path": ".",
        "train": "train.txt",
        "val": "val.txt",
        "test": "test.txt",
        "names": dict(enumerate(NAMES)),
    }
    (root / "dataset.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return root / "dataset.yaml"


def make_checkpoint(
    path: Path, arch: str = "yolov5n.yaml", nc: int = len(NAMES), seed: int = 0, names: tuple[str, ...] = ()
) -> Path:
    """Save a freshly built (random, fp16 like Ultralytics' own) checkpoint of ``arch`` at ``path``."""
    import torch
    from ultralytics.nn.tasks import DetectionModel

    torch.manual_seed(seed)
    model = DetectionModel(arch, nc=nc, verbose=False)
    model.names = dict(enumerate(names)) if names else {i: f"pretrain{i}" for i in range(nc)}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.half(), "epoch": -1, "train_args": {}}, path)
    return path


@dataclass(frozen=True)
class TinyRun:
    """A dataset and the output folder of one frozen training stage on it."""

    data_yaml: Path
    init_weights: Path
    out_dir: Path


_RUNS: dict[str, TinyRun] = {}


def trained_run(base: Path) -> TinyRun:
    """Train one frozen stage (freeze=10, 1 epoch) once per process; later calls return the same run.

    The initial checkpoint has three classes and the dataset two, as in real transfer learning: the
    backbone and neck transfer, the class outputs of the head start fresh.
    """
    if "frozen" not in _RUNS:
        from components.train.core import TrainConfig, train_model

        data_yaml = make_dataset(base / "data")
        init = make_checkpoint(base / "pretrained" / "init.pt", nc=3)
        out = base / "frozen"
        train_model(data_yaml, str(init), out, TrainConfig(freeze=10, epochs=1, **TINY_TRAIN))
        _RUNS["frozen"] = TinyRun(data_yaml=data_yaml, init_weights=init, out_dir=out)
    return _RUNS["frozen"]
