"""Property tests: any box, inside, across or outside the image, gives a valid line or one skip reason."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from voc_builder import VocTree

from components.convert.core import ConvertConfig, convert_voc

W, H = 100, 50
coord = st.integers(min_value=-60, max_value=180)
boxes = st.lists(st.tuples(coord, coord, coord, coord), min_size=0, max_size=6)


def expected(box: tuple[int, int, int, int]) -> str | None:
    """The line for one box after clipping to [0, W] x [0, H], or None when it must be skipped."""
    xmin, ymin, xmax, ymax = box
    if xmin >= xmax or ymin >= ymax:
        return None
    x0, x1 = min(max(xmin, 0), W), min(max(xmax, 0), W)
    y0, y1 = min(max(ymin, 0), H), min(max(ymax, 0), H)
    if x1 <= x0 or y1 <= y0:
        return None
    vals = ((x0 + x1) / 2 - 1) / W, ((y0 + y1) / 2 - 1) / H, (x1 - x0) / W, (y1 - y0) / H
    return "0 " + " ".join(f"{min(max(v, 0.0), 1.0):.6f}" for v in vals)


@settings(max_examples=60, deadline=None)
@given(boxes)
def test_any_box_is_written_clipped_or_counted_as_skipped(box_list) -> None:
    """It writes each box clipped into [0, 1] by the VOC formula once, or counts it under one reason."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = VocTree(Path(tmp) / "voc")
        tree.image("img.jpg", (W, H))
        tree.annotation("img", [{"name": "obj", "box": b} for b in box_list], size=(W, H))
        result = convert_voc([tree.root], Path(tmp) / "out", ConvertConfig(classes=("obj",), workers=1))
        lines = (result.out_dir / "labels" / "img.txt").read_text().splitlines()
    # identical lines are written once (duplicate_object), as Ultralytics would train on them once
    want = list(dict.fromkeys(e for e in map(expected, box_list) if e is not None))
    assert lines == want
    assert result.objects_in == len(box_list) == result.objects_written + sum(result.skipped.values())
    for ln in lines:
        values = [float(v) for v in ln.split()[1:]]
        assert all(0.0 <= v <= 1.0 for v in values) and values[2] > 0 and values[3] > 0
