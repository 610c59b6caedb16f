"""What the container tests share: where the engine script is, the images' names, the docker CLI."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
ENGINE = REPO / "docker" / "engine.sh"
REGISTRY = "yolo-kfp.local"  # no such registry: an image of this name only ever comes from this engine
TAG = "container-test"
BUILD_TIMEOUT_S = 3600  # a cold build of the train image on 2 cores (measured: docs/kubeflow.md)


@dataclass(frozen=True)
class Images:
    """The two images built for this session."""

    data: str
    train: str
    registry: str = REGISTRY
    tag: str = TAG


def docker(*args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI against the session's engine; a failure shows its output."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(
            f"docker {' '.join(args[:3])} ... exit {proc.returncode}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        )
    return proc
