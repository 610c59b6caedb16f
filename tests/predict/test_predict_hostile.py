"""predict: hostile input (docs/reliability.md): one-line errors with exit 2, or skips counted by reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from predict_fixtures import REPO, publish_version

from components._shared.errors import ConfigError, StorageError
from components.predict.core import predict

pytest.importorskip("onnxruntime")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "predict", *args],
        capture_output=True, text=True, cwd=REPO, check=False,
    )  # fmt: skip


def test_predict_refuses_a_published_model_changed_after_publishing(
    sample_onnx: Path, sample_images: Path, tmp_path: Path
) -> None:
    """It refuses DEST@production when model.onnx no longer matches its manifest, and writes nothing."""
    dest = tmp_path / "models" / "shapes"
    folder = publish_version(dest, "v1", sample_onnx)
    with (folder / "model.onnx").open("ab") as fh:
        fh.write(b"\0")
    with pytest.raises(StorageError, match="sha256 mismatch"):
        predict(f"{dest}@production", str(sample_images), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_predict_counts_unreadable_images_and_goes_on(
    sample_onnx: Path, sample_images: Path, tmp_path: Path
) -> None:
    """It skips a corrupt and a truncated image, counts both as unreadable, and predicts on the rest."""
    src = tmp_path / "src"
    src.mkdir()
    good = sorted(sample_images.iterdir())[:2]
    for p in good:
        (src / p.name).write_bytes(p.read_bytes())
    (src / "corrupt.jpg").write_bytes(b"not an image at all")
    (src / "truncated.png").write_bytes(good[0].read_bytes()[:200])
    result = predict(str(sample_onnx), str(src), tmp_path / "out")
    assert result.images == 2 and result.skipped == {"unreadable": 2}
    assert json.loads((tmp_path / "out" / "predict.json").read_text())["skipped"] == {"unreadable": 2}
    assert not (tmp_path / "out" / "images" / "corrupt.jpg").exists()


def test_predict_refuses_a_model_whose_classes_differ_from_classes(
    sample_onnx: Path, sample_images: Path, tmp_path: Path
) -> None:
    """It exits 2 with one line naming both class lists when --classes is not the model's, writing nothing."""
    proc = _cli(
        "--model", str(sample_onnx), "--source", str(sample_images), "--out", str(tmp_path / "o"),
        "--classes", "star,cross,ring",
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "circle, square, triangle" in lines[0] and "star, cross, ring" in lines[0]
    assert not (tmp_path / "o").exists()


def test_predict_refuses_a_model_folder_without_a_model(sample_images: Path, tmp_path: Path) -> None:
    """It exits 2 with one line when --model is a folder holding no model.onnx (and says to export a best.pt)."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "best.pt").write_bytes(b"weights")
    proc = _cli("--model", str(folder), "--source", str(sample_images), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no model.onnx" in lines[0] and "yolo-kfp export" in lines[0]


def test_predict_refuses_a_file_that_is_not_an_onnx_model(sample_images: Path, tmp_path: Path) -> None:
    """It turns a model.onnx that ONNX Runtime cannot load into one ConfigError line."""
    bogus = tmp_path / "model.onnx"
    bogus.write_bytes(b"\x08\x07garbage")
    with pytest.raises(ConfigError, match="ONNX Runtime cannot load it"):
        predict(str(bogus), str(sample_images), tmp_path / "o")


def test_predict_refuses_an_out_folder_inside_the_source(sample_onnx: Path, sample_images: Path) -> None:
    """It never writes its output inside the source folder it reads."""
    with pytest.raises(ConfigError, match="lies inside the input"):
        predict(str(sample_onnx), str(sample_images), sample_images / "pred")
    assert not (sample_images / "pred").exists()


def test_predict_refuses_a_video_without_opencv_naming_the_extra(sample_onnx: Path, tmp_path: Path) -> None:
    """It refuses a video in one line naming the train extra when OpenCV is not installed (the light install)."""
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\0" * 64)
    code = (
        "import sys; sys.modules['cv2'] = None\n"
        "from pipelines.cli import main\n"
        f"sys.exit(main(['predict', '--model', {str(sample_onnx)!r}, '--source', {str(video)!r}, "
        f"'--out', {str(tmp_path / 'o')!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "yolo-kfp[train]" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("flag", "value"), [("--conf", "1.5"), ("--iou", "0"), ("--max-det", "0")]
)  # fmt: skip
def test_predict_refuses_thresholds_out_of_range(
    flag: str, value: str, sample_images: Path, tmp_path: Path
) -> None:
    """It exits 2 with one line naming the flag before it loads anything."""
    proc = _cli(
        "--model", "missing.onnx", "--source", str(sample_images), "--out", str(tmp_path / "o"), flag, value
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and flag in proc.stderr


def test_predict_without_onnxruntime_names_the_extra(
    sample_onnx: Path, sample_images: Path, tmp_path: Path
) -> None:
    """It exits 2 with one line naming the predict extra when ONNX Runtime is not installed."""
    code = (
        "import sys; sys.modules['onnxruntime'] = None\n"
        "from pipelines.cli import main\n"
        f"sys.exit(main(['predict', '--model', {str(sample_onnx)!r}, '--source', {str(sample_images)!r}, "
        f"'--out', {str(tmp_path / 'o')!r}]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "yolo-kfp[predict]" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()
