"""Fixtures of the split tests: a converted YOLO folder (the convert stage's output format) in tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest
from PIL import Image


def write_converted(
    root: Path,
    labels: Mapping[str, Sequence[int]],
    names: Sequence[str] = ("a", "b", "c"),
    *,
    label_files: bool = True,
) -> Path:
    """Write ``root/images/<stem>.png``, ``root/labels/<stem>.txt`` (one centred box per class id) and classes.txt.

    Args:
        root: the folder to create.
        labels: stem -> class ids of its boxes (empty: background image).
        names: class names, in id order.
        label_files: False leaves out the label files of background images.
    """
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "classes.txt").write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
    (root / "report.json").write_text("{}\n", encoding="utf-8")
    for i, (stem, ids) in enumerate(labels.items()):
        Image.new("RGB", (8, 6), (i % 256, i // 256 % 256, 7)).save(root / "images" / f"{stem}.png")
        if ids or label_files:
            lines = "".join(f"{c} 0.500000 0.500000 0.250000 0.250000\n" for c in ids)
            (root / "labels" / f"{stem}.txt").write_text(lines, encoding="utf-8")
    return root


@pytest.fixture
def converted(tmp_path: Path) -> Path:
    """A 40-image converted folder: classes a (common), b (3 images), c (2 images) and 12 backgrounds."""
    labels: dict[str, list[int]] = {}
    for i in range(40):
        ids = [0] if i < 27 else []
        if i in (3, 10, 20):
            ids.append(1)
        if i in (5, 30):
            ids.append(2)
        labels[f"img_{i:03d}"] = ids
    return write_converted(tmp_path / "converted", labels)


@pytest.fixture
def make_converted() -> Callable[..., Path]:
    """The ``write_converted`` helper, for tests that need their own label layout."""
    return write_converted
