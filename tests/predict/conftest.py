"""Fixtures: the committed task-A checkpoint exported to ONNX once, task-A sample images."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from predict_fixtures import IMGSZ, SAMPLE_PT


@pytest.fixture(scope="session")
def sample_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample checkpoint (task A: circle, square, triangle) exported to a fixed 1x3x160x160 ONNX model."""
    pytest.importorskip("ultralytics")
    pytest.importorskip("onnxruntime")
    from components._yolo.export import export_onnx

    path, _ = export_onnx(
        weights=SAMPLE_PT, work_dir=tmp_path_factory.mktemp("onnx"), imgsz=IMGSZ, opset=17, dynamic=False
    )
    return path


@pytest.fixture(scope="session")
def sample_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six task-A sample images, three of them resized to landscape/portrait so the letterbox pads."""
    from components.make_sample.core import SampleConfig, make_sample

    voc = tmp_path_factory.mktemp("voc") / "a"
    make_sample(voc, SampleConfig(images=6, seed=3, task="A"))
    out = tmp_path_factory.mktemp("images")
    sizes = [(160, 160), (240, 150), (130, 210), (320, 200), (160, 160), (97, 61)]
    for (w, h), src in zip(sizes, sorted((voc / "JPEGImages").iterdir()), strict=True):
        with Image.open(src) as im:
            im.convert("RGB").resize((w, h), Image.BILINEAR).save(out / f"{src.stem}.png")
    return out
