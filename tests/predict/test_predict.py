"""predict: model and source forms, outputs, and bad input as one-line errors or counted skips."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from predict_fixtures import CLASSES, REPO, publish_version

from components.predict.core import PredictConfig, predict

pytest.importorskip("onnxruntime")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "predict", *args],
        capture_output=True, text=True, cwd=REPO, check=False,
    )  # fmt: skip


def test_predict_writes_drawn_images_labels_and_coco_results(
    sample_onnx: Path, sample_images: Path, tmp_path: Path
) -> None:
    """It draws every image, writes one JSON per image and one COCO-results file whose boxes are x y w h."""
    result = predict(str(sample_onnx), str(sample_images), tmp_path / "out")
    out = tmp_path / "out"
    names = sorted(p.name for p in sample_images.iterdir())
    assert sorted(p.name for p in (out / "images").iterdir()) == names
    assert result.images == len(names) and result.detections > 0 and result.skipped == {}
    coco = json.loads((out / "predictions.json").read_text())
    assert len(coco) == result.detections
    label = json.loads((out / "labels" / f"{names[0]}.json").read_text())
    first = next(r for r in coco if r["image_id"] == 0)
    d = label["detections"][0]
    assert d["name"] == CLASSES[d["class"]] and first["category_id"] == d["class"]
    x1, y1, x2, y2 = d["box"]
    assert first["bbox"] == pytest.approx([x1, y1, x2 - x1, y2 - y1], abs=0.02)
    record = json.loads((out / "predict.json").read_text())
    assert record["classes"] == list(CLASSES) and record["images"][0]["name"] == names[0]
    with Image.open(out / "images" / names[0]) as drawn, Image.open(sample_images / names[0]) as orig:
        assert drawn.size == orig.size and drawn.tobytes() != orig.convert("RGB").tobytes()


def test_predict_cli_ends_with_the_throughput(sample_onnx: Path, sample_images: Path, tmp_path: Path) -> None:
    """It exits 0 and prints images/s as its last line."""
    image = sorted(sample_images.iterdir())[1]
    proc = _cli("--model", str(sample_onnx.parent), "--source", str(image), "--out", str(tmp_path / "o"))
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("predict: 1 images") and last.endswith("images/s")


def test_predict_reads_production_and_a_version_sha256_verified(
    sample_onnx: Path, sample_images: Path, tmp_path: Path
) -> None:
    """It runs DEST@production and DEST@VERSION, each downloaded through the manifest-checked readers."""
    dest = tmp_path / "models" / "shapes"
    publish_version(dest, "v1", sample_onnx)
    image = str(sorted(sample_images.iterdir())[0])
    prod = predict(f"{dest}@production", image, tmp_path / "a")
    pinned = predict(f"{dest}@v1", image, tmp_path / "b")
    assert prod.verified and pinned.verified and prod.model.endswith("-> v1")
    assert (tmp_path / "a" / "predictions.json").read_text() == (
        tmp_path / "b" / "predictions.json"
    ).read_text()


def test_predict_accepts_classes_equal_to_the_models(
    sample_onnx: Path, sample_images: Path, tmp_path: Path
) -> None:
    """It runs when --classes names the model's classes in order."""
    image = str(sorted(sample_images.iterdir())[0])
    assert predict(str(sample_onnx), image, tmp_path / "o", PredictConfig(classes=CLASSES)).images == 1


def test_predict_reads_every_frame_of_a_video(sample_onnx: Path, sample_images: Path, tmp_path: Path) -> None:
    """It predicts on each frame of a video and names the outputs by frame."""
    cv2 = pytest.importorskip("cv2")
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 5, (160, 160))
    frame = cv2.imread(str(sorted(sample_images.iterdir())[0]))
    for _ in range(3):
        writer.write(cv2.resize(frame, (160, 160)))
    writer.release()
    result = predict(str(sample_onnx), str(video), tmp_path / "o")
    assert result.images == 3
    assert (tmp_path / "o" / "images" / "clip" / "frame_000002.jpg").is_file()


def test_predict_runs_without_torch(sample_onnx: Path, sample_images: Path, tmp_path: Path) -> None:
    """It predicts in an interpreter where torch and Ultralytics cannot be imported (the data image)."""
    code = (
        "import sys\n"
        "for m in ('torch', 'torchvision', 'ultralytics'): sys.modules[m] = None\n"
        "from pipelines.cli import main\n"
        f"sys.exit(main(['predict', '--model', {str(sample_onnx)!r}, '--source', {str(sample_images)!r}, "
        f"'--out', {str(tmp_path / 'o')!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "predictions.json").is_file()
