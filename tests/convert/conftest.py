"""Fixtures that build tiny Pascal VOC trees in tmp_path (helpers in voc_builder.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from voc_builder import VocTree


@pytest.fixture
def make_voc(tmp_path: Path) -> Callable[[str], VocTree]:
    """Return a factory: ``make_voc("name")`` creates an empty VOC tree ``tmp_path/name``."""
    return lambda name: VocTree(tmp_path / name)


@pytest.fixture(scope="module")
def make_voc_module(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], VocTree]:
    """Like ``make_voc`` but shared by a module (for one conversion checked by many tests)."""
    base = tmp_path_factory.mktemp("voc")
    return lambda name: VocTree(base / name)
