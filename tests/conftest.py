"""Shared fixtures: the real VOC samples (skipped when ../shared is absent) and tiny training data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("YOLO_KFP_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("YOLO_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/_tiny.py: tiny datasets and training runs


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder holding voc-helmet and voc-other; skips the test when it is not there."""
    if not (SHARED_DATA / "voc-helmet" / "Annotations").is_dir():
        pytest.skip(f"real VOC samples not found under {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def frozen_run(tmp_path_factory: pytest.TempPathFactory):
    """One frozen stage (freeze=10, 1 epoch, yolov5n at 64 px) trained once per test session."""
    from _tiny import trained_run

    return trained_run(tmp_path_factory.getbasetemp() / "tiny-shared")


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    """A fresh tiny split dataset (train, validate and export tests); returns its dataset.yaml."""
    from _tiny import make_dataset

    return make_dataset(tmp_path / "data")
