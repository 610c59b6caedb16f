"""Shared fixtures: locations of the real VOC samples (skipped when ../shared is absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("YOLO_KFP_SHARED_DATA", REPO.parent / "shared" / "data"))

os.environ.setdefault("YOLO_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder holding voc-helmet and voc-other; skips the test when it is not there."""
    if not (SHARED_DATA / "voc-helmet" / "Annotations").is_dir():
        pytest.skip(f"real VOC samples not found under {SHARED_DATA}")
    return SHARED_DATA
