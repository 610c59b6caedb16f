"""The end-to-end model (NMS inside, what KServe serves): exported beside model.onnx, same mAP50-95 in validate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("ultralytics")
pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parents[2]
SAMPLE_PT = REPO / "pipelines" / "sample" / "pretrained_task_a.pt"
CLASSES = ("circle", "square", "triangle")


@pytest.fixture(scope="module")
def task_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A split task-A dataset (the sample checkpoint's own classes): its dataset.yaml."""
    from components.convert.core import ConvertConfig, convert_voc
    from components.make_sample.core import SampleConfig, make_sample
    from components.split.core import SplitConfig, split_dataset

    root = tmp_path_factory.mktemp("task-a")
    make_sample(root / "voc", SampleConfig(images=24, seed=1, task="A"))
    convert_voc([root / "voc"], root / "yolo", ConvertConfig(classes=CLASSES))
    return split_dataset(root / "yolo", root / "split", SplitConfig(val=0.5)).out_dir / "dataset.yaml"


@pytest.fixture(scope="module")
def exported(task_a: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample checkpoint exported at 160 px with its end-to-end model (parity on the val images)."""
    from components.export.core import ExportConfig, export_onnx

    out = tmp_path_factory.mktemp("export") / "onnx"
    export_onnx(SAMPLE_PT, out, ExportConfig(imgsz=160, parity_images=task_a, latency_runs=1))
    return out


def test_export_writes_the_end_to_end_model_beside_the_raw_one(exported: Path) -> None:
    """It writes model_e2e.onnx with a (batch, max_det, 6) output and records it in model.json."""
    import onnxruntime as ort

    card = json.loads((exported / "model.json").read_text())
    e2e = card["end_to_end"]
    assert e2e["file"] == "model_e2e.onnx" and e2e["max_batch"] == 8 and e2e["conf"] == 0.001
    session = ort.InferenceSession(str(exported / "model_e2e.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[0] == "batch" and session.get_outputs()[0].shape[1:] == [300, 6]
    import numpy as np

    out = session.run(None, {"images": np.zeros((3, 3, 160, 160), dtype=np.float32)})[0]
    assert out.shape == (3, 300, 6)
    assert json.loads((exported / "export.json").read_text())["end_to_end"]["parity"]["passed"]


def test_predict_gives_the_same_boxes_with_the_end_to_end_model(
    exported: Path, task_a: Path, tmp_path: Path
) -> None:
    """It finds the same detections through model_e2e.onnx as through model.onnx and its own NMS."""
    from components.predict.core import predict

    images = str(task_a.parent / "images")
    predict(str(exported / "model.onnx"), images, tmp_path / "raw")
    predict(str(exported / "model_e2e.onnx"), images, tmp_path / "e2e")
    raw = json.loads((tmp_path / "raw" / "predictions.json").read_text())
    e2e = json.loads((tmp_path / "e2e" / "predictions.json").read_text())
    assert len(raw) == len(e2e) > 0
    for a, b in zip(raw, e2e, strict=True):
        assert (a["image_id"], a["category_id"]) == (b["image_id"], b["category_id"])
        assert a["bbox"] == pytest.approx(b["bbox"], abs=0.05) and a["score"] == pytest.approx(
            b["score"], abs=1e-3
        )


def test_validate_measures_the_end_to_end_model_equal_to_the_raw_one(
    exported: Path, task_a: Path, tmp_path: Path
) -> None:
    """It validates model_e2e.onnx beside model.onnx and records an mAP50-95 within 0.005 of the raw model's."""
    from components.validate.core import ValidateConfig, validate_model

    result = validate_model(
        exported / "model.onnx", task_a, tmp_path / "v", ValidateConfig(imgsz=160, device="cpu")
    )
    metrics = json.loads((tmp_path / "v" / "metrics.json").read_text())
    assert metrics["end_to_end"]["file"] == "model_e2e.onnx" and result.map50_95 > 0.3
    e2e = metrics["end_to_end"]
    assert abs(e2e["map50_95"] - e2e["raw_best_class_map50_95"]) <= 0.005 == e2e["tolerance"]
    print(
        f"mAP50-95 raw {result.map50_95:.4f} (best class {e2e['raw_best_class_map50_95']:.4f}), e2e {e2e['map50_95']:.4f}"
    )


def test_validate_refuses_an_end_to_end_model_that_is_not_the_raw_models(
    exported: Path, task_a: Path, tmp_path: Path
) -> None:
    """It stops with one EndToEndMismatch line when model_e2e.onnx comes from another network (same classes)."""
    import sys

    sys.path.insert(0, str(REPO / "tests"))
    from _tiny import make_checkpoint

    from components._yolo.export import export_onnx_end_to_end
    from components.validate.core import EndToEndMismatch, ValidateConfig, validate_model

    other = make_checkpoint(tmp_path / "other.pt", nc=3, names=CLASSES)
    e2e = export_onnx_end_to_end(
        weights=other, work_dir=tmp_path / "w", imgsz=160, opset=17, batch=8, conf=0.001, iou=0.7, max_det=300
    )
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(exported / "model.onnx", folder / "model.onnx")
    shutil.copy(e2e, folder / "model_e2e.onnx")
    with pytest.raises(
        EndToEndMismatch, match=r"model_e2e.onnx: mAP50-95 .* differs from model.onnx's .* \(best-class NMS\)"
    ):
        validate_model(folder / "model.onnx", task_a, tmp_path / "v", ValidateConfig(imgsz=160, device="cpu"))
    assert not (tmp_path / "v").exists()


def _publish(exported: Path, dest: Path, tmp_path: Path) -> None:
    from components.publish.core import PublishConfig, publish_model

    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("model.onnx", "model_e2e.onnx", "model.json", "export.json"):
        shutil.copy(exported / name, folder / name)
    (folder / "metrics.json").write_text(
        json.dumps({"map50_95": 0.5, "gate": {"passed": True, "reason": "test"}})
    )
    publish_model(folder, str(dest), PublishConfig(fingerprint="ab" * 32, promote=True, version="v1"))


def test_publish_serves_the_end_to_end_model_with_the_raw_one_beside_it(
    exported: Path, tmp_path: Path
) -> None:
    """It lays out model_e2e.onnx as <model> (dynamic batching up to the export batch) and model.onnx as <model>-raw."""
    from components._shared.production import read_production
    from components.publish.triton import verify_triton_repository

    dest = tmp_path / "models" / "shapes"
    _publish(exported, dest, tmp_path)
    spec = read_production(str(dest))["triton"]
    assert spec["model"] == "shapes" and spec["source"] == "model_e2e.onnx" and spec["max_batch_size"] == 8
    assert spec["raw"]["model"] == "shapes-raw" and spec["raw"]["max_batch_size"] == 0
    config = (dest / "triton" / "shapes" / "config.pbtxt").read_text()
    assert "max_batch_size: 8" in config and "dynamic_batching { }" in config and "dims: [ 300, 6 ]" in config
    assert "max_batch_size: 0" in (dest / "triton" / "shapes-raw" / "config.pbtxt").read_text()
    repo = verify_triton_repository(str(dest), tmp_path / "check")
    assert repo is not None and repo.raw_model == "shapes-raw"
    assert repo.model_path.read_bytes() == (exported / "model_e2e.onnx").read_bytes()
    assert (
        repo.raw_model_path is not None
        and repo.raw_model_path.read_bytes() == (exported / "model.onnx").read_bytes()
    )


def test_verify_refuses_a_served_end_to_end_model_changed_after_promotion(
    exported: Path, tmp_path: Path
) -> None:
    """It refuses the repository in one line when triton/<model>/<N>/model.onnx no longer matches model_e2e.onnx."""
    from components._shared.errors import StorageError
    from components.publish.triton import verify_triton_repository

    dest = tmp_path / "models" / "shapes"
    _publish(exported, dest, tmp_path)
    served = next((dest / "triton" / "shapes").glob("*/model.onnx"))
    served.write_bytes((exported / "model.onnx").read_bytes())  # the raw model where the e2e one belongs
    with pytest.raises(StorageError, match=r"sha256 mismatch .* manifest model_e2e.onnx"):
        verify_triton_repository(str(dest), tmp_path / "check")
