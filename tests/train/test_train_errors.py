"""Unusable training inputs fail early with one line naming the problem and the fix (exit 2, no traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _tiny import TINY_TRAIN, make_checkpoint

from components._shared.errors import ConfigError, DatasetError
from components._shared.weights import resolve_weights
from components.train.core import TrainConfig, train_model

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> str:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith(f"yolo-kfp {proc.args[3]}: error: ")
    for fragment in fragments:
        assert fragment in line, line
    return line


def test_bare_checkpoint_name_says_no_download_and_where_to_put_the_file(
    tiny_data: Path, tmp_path: Path
) -> None:
    """``--weights yolov5s.pt`` that is not a local file: no download, copy it to <cwd>/yolov5s.pt."""
    proc = run_cli(
        "train",
        "--dataset",
        str(tiny_data),
        "--weights",
        "yolov5s.pt",
        "--out",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert_one_line_error(proc, "yolov5s.pt", "never downloaded", str(tmp_path / "yolov5s.pt"))
    assert len(proc.stderr.strip().splitlines()) == 1


def test_missing_dataset_and_missing_weights_file_are_one_line_errors(
    tiny_data: Path, tmp_path: Path
) -> None:
    """A missing dataset.yaml and a missing checkpoint path each exit 2 with the file named."""
    proc = run_cli(
        "train",
        "--dataset",
        str(tmp_path / "nope.yaml"),
        "--weights",
        "yolov5n.yaml",
        "--out",
        str(tmp_path / "o"),
    )
    assert_one_line_error(proc, "nope.yaml", "not found")
    proc = run_cli(
        "train",
        "--dataset",
        str(tiny_data),
        "--weights",
        str(tmp_path / "w" / "best.pt"),
        "--out",
        str(tmp_path / "o"),
    )
    assert_one_line_error(proc, "best.pt", "not found")


def test_zero_epochs_is_refused(tiny_data: Path, tmp_path: Path) -> None:
    """``--epochs 0`` exits 2 before anything heavy is imported."""
    proc = run_cli(
        "train",
        "--dataset",
        str(tiny_data),
        "--weights",
        "yolov5n.yaml",
        "--out",
        str(tmp_path / "o"),
        "--epochs",
        "0",
    )
    assert_one_line_error(proc, "--epochs 0")


def test_freezing_more_layers_than_the_model_has_is_refused(tiny_data: Path, tmp_path: Path) -> None:
    """``--freeze 30`` on a 25-layer YOLOv5n names the limit."""
    ckpt = make_checkpoint(tmp_path / "init.pt")
    with pytest.raises(ConfigError, match=r"--freeze 30: the model has 25 layers.*at most 24"):
        train_model(tiny_data, str(ckpt), tmp_path / "o", TrainConfig(freeze=30, epochs=1, **TINY_TRAIN))


def test_original_yolov5_named_checkpoint_is_loaded_from_its_path_not_renamed(
    tiny_data: Path, tmp_path: Path
) -> None:
    """A local file called yolov5n.pt is used as is (Ultralytics would look for yolov5nu.pt and download it)."""
    from components._yolo.model import layer_count, load_model

    ckpt = make_checkpoint(tmp_path / "weights" / "yolov5n.pt")
    model, _ = load_model(ckpt)
    assert layer_count(model) == 25


def test_dataset_errors_are_dataset_errors(tmp_path: Path) -> None:
    """A dataset YAML without train/val keys raises DatasetError naming the file."""
    bad = tmp_path / "dataset.yaml"
    bad.write_text("names: [a]\n")
    with pytest.raises(DatasetError, match="dataset.yaml"):
        train_model(bad, "yolov5n.yaml", tmp_path / "o", TrainConfig(epochs=1))


def test_resolve_weights_kinds(tmp_path: Path) -> None:
    """Paths are checkpoints, *.yaml names are architectures, a URI needs a scheme of the storage registry."""
    ckpt = tmp_path / "best.pt"
    ckpt.write_bytes(b"x")
    assert resolve_weights(str(ckpt), tmp_path).kind == "checkpoint"
    arch = resolve_weights("yolov5n.yaml", tmp_path)
    assert arch.kind == "architecture" and arch.arch == "yolov5n.yaml" and arch.path is None
    with pytest.raises(ConfigError, match=r"unsupported URI scheme 'gs://' \(supported: s3://"):
        resolve_weights("gs://bucket/models/best.pt", tmp_path)
    with pytest.raises(ConfigError, match="no network"):
        resolve_weights("https://example.com/yolov5s.pt", tmp_path)
    with pytest.raises(ConfigError, match="is a folder"):
        resolve_weights(str(tmp_path), tmp_path)


def test_registry_scheme_resolves_uris(tmp_path: Path) -> None:
    """A URI whose scheme is in the storage registry (file:// here, s3:// on moto in tests/storage) is resolved."""
    ckpt = tmp_path / "runs" / "best.pt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"x")
    resolved = resolve_weights(f"file://{ckpt}", tmp_path / "fetched")
    assert resolved.kind == "checkpoint" and resolved.path == ckpt
