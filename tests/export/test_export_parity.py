"""ONNX export: simplified, checked, loadable, and numerically the same detector as the PyTorch checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from _tiny import NAMES, TinyRun

from components._shared.errors import ConfigError
from components._shared.fsio import OUTPUT_MARKER
from components._shared.storage.base import sha256_file
from components.export.core import ExportConfig, ExportResult, compare_detections, export_onnx

TINY = {"imgsz": 64, "latency_runs": 3}


def eager_detector(best: Path, out: Path) -> Path:
    """A copy of ``best`` whose class scores are pushed up, so that NMS keeps many boxes to compare."""
    ckpt = torch.load(best, map_location="cpu", weights_only=False)
    head = ckpt["model"].model[-1]
    for branch in head.cv3:
        branch[-1].bias.data += 5.0
    torch.save(ckpt, out)
    return out


@pytest.fixture(scope="module")
def exported(frozen_run: TinyRun, tmp_path_factory: pytest.TempPathFactory) -> ExportResult:
    base = tmp_path_factory.mktemp("export")
    weights = eager_detector(frozen_run.out_dir / "best.pt", base / "best.pt")
    return export_onnx(weights, base / "onnx", ExportConfig(parity_images=frozen_run.data_yaml, **TINY))


@pytest.mark.slow
def test_onnx_runtime_outputs_match_pytorch_on_real_images(
    exported: ExportResult, frozen_run: TinyRun
) -> None:
    """model.onnx loads in ONNX Runtime and its raw output matches the PyTorch model on a val image."""
    import onnxruntime

    from components._yolo.export import letterbox_batch, predict_raw, torch_model_for_parity

    session = onnxruntime.InferenceSession(str(exported.onnx_path), providers=["CPUExecutionProvider"])
    image = sorted((frozen_run.data_yaml.parent / "images").iterdir())[-1]
    x = letterbox_batch([image], 64)
    ours = session.run(None, {"images": x.numpy()})[0]
    model = torch_model_for_parity(exported.out_dir.parent / "best.pt")
    ref = predict_raw(model, x)
    assert ours.shape == ref.shape == (1, 4 + len(NAMES), 84)
    assert np.abs(ours - ref).max() < 1e-3
    assert exported.report["parity"]["max_abs_diff"] < 1e-3


@pytest.mark.slow
def test_detections_after_nms_are_equal_and_recorded(exported: ExportResult) -> None:
    """export.json records parity on the 4 real val images with detections that matched one to one."""
    report = json.loads((exported.out_dir / "export.json").read_text())
    parity = report["parity"]
    assert parity["passed"] and parity["images"] == 4 and parity["source"].endswith("dataset.yaml:val")
    assert parity["detections_torch"] == parity["detections_onnx"] > 0
    assert parity["max_box_diff_px"] <= parity["box_atol_px"]
    assert report["nodes"]["after"] <= report["nodes"]["before"]
    assert report["latency"]["onnxruntime_ms"] > 0 and report["latency"]["pytorch_ms"] > 0
    assert report["bytes"]["onnx"] == exported.onnx_path.stat().st_size


@pytest.mark.slow
def test_model_card_describes_the_model(exported: ExportResult, frozen_run: TinyRun) -> None:
    """model.json has classes, size, input/output names and shapes, training metrics and both checksums."""
    card = json.loads((exported.out_dir / "model.json").read_text())
    assert card["classes"] == list(NAMES) and card["imgsz"] == 64 and card["opset"] == 17
    assert card["inputs"] == [{"name": "images", "shape": [1, 3, 64, 64], "dtype": "float32"}]
    assert card["outputs"][0]["name"] == "output0" and card["outputs"][0]["shape"] == [1, 6, 84]
    assert card["sha256"] == sha256_file(exported.onnx_path)
    assert card["source_weights"]["sha256"] == sha256_file(exported.out_dir.parent / "best.pt")
    assert card["metrics"] is None  # no metrics.json beside this copy of best.pt
    written = sorted(
        p.name for p in exported.out_dir.iterdir() if p.name != OUTPUT_MARKER
    )  # marker: issue 12
    assert written == ["export.json", "model.json", "model.onnx", "model_e2e.onnx"]
    assert card["names"] == list(NAMES)


@pytest.mark.slow
def test_onnx_keeps_the_metadata_ultralytics_needs(exported: ExportResult) -> None:
    """names, stride, imgsz and task survive onnxsim, so YOLO("model.onnx") knows the classes."""
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(exported.onnx_path)).metadata_props}
    assert meta["task"] == "detect" and meta["stride"] == "32" and meta["imgsz"] == "[64, 64]"
    assert meta["names"] == "{0: 'square', 1: 'bar'}"
    onnx.checker.check_model(onnx.load(str(exported.onnx_path)))


@pytest.mark.slow
def test_dynamic_export_with_synthetic_images_and_training_metrics(
    frozen_run: TinyRun, tmp_path: Path
) -> None:
    """--dynamic exports symbolic batch/height/width; without --data parity uses synthetic images."""
    result = export_onnx(
        frozen_run.out_dir / "best.pt", tmp_path / "onnx", ExportConfig(dynamic=True, **TINY)
    )
    card = json.loads((tmp_path / "onnx" / "model.json").read_text())
    assert card["inputs"][0]["shape"] == ["batch", 3, "height", "width"]
    assert result.report["parity"]["source"] == "synthetic" and result.report["parity"]["max_abs_diff"] < 1e-3
    assert (
        card["metrics"]["map50_95"]
        == json.loads((frozen_run.out_dir / "metrics.json").read_text())["map50_95"]
    )


def test_detections_that_differ_are_reported() -> None:
    """Another class or a moved box is a difference; a borderline score missing on one side is not."""
    ref = np.array([[0, 0, 10, 10, 0.9, 0], [5, 5, 20, 20, 0.25001, 1]], dtype=np.float32)
    assert compare_detections(ref, ref[:1], box_atol=0.05, conf=0.25)["equal"]
    other_class = ref.copy()
    other_class[0, 5] = 1
    assert not compare_detections(ref[:1], other_class[:1], 0.05, 0.25)["equal"]
    moved = ref.copy()
    moved[0, :4] += 0.5
    verdict = compare_detections(ref, moved, 0.05, 0.25)
    assert not verdict["equal"] and "unmatched" in verdict["reason"]


def test_bad_image_size_and_opset_are_refused(tmp_path: Path) -> None:
    """An image size that is not a multiple of 32 and an opset the exporter lacks are config errors."""
    weights = tmp_path / "best.pt"
    weights.write_bytes(b"x")
    with pytest.raises(ConfigError, match="multiple of 32"):
        export_onnx(weights, tmp_path / "o", ExportConfig(imgsz=100))
    with pytest.raises(ConfigError, match="--opset 30"):
        export_onnx(weights, tmp_path / "o", ExportConfig(opset=30))
    with pytest.raises(ConfigError, match="file not found"):
        export_onnx(tmp_path / "missing.pt", tmp_path / "o")
