"""Fixtures: a tiny dataset and one frozen training run shared by the train, validate and export tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = str(Path(__file__).resolve().parents[1])
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)  # tests/_tiny.py

import _tiny  # noqa: E402


@pytest.fixture(scope="session")
def frozen_run(tmp_path_factory: pytest.TempPathFactory) -> _tiny.TinyRun:
    """One frozen stage (freeze=10, 1 epoch, yolov5n at 64 px) trained once per test session."""
    return _tiny.trained_run(tmp_path_factory.getbasetemp() / "tiny-shared")


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    """A fresh tiny split dataset; returns its dataset.yaml."""
    return _tiny.make_dataset(tmp_path / "data")
