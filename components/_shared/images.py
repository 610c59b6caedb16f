"""Container images of the pipeline's tasks, named in one place.

``make images`` builds and tags both images with ``IMAGE_REGISTRY`` and ``IMAGE_TAG`` (the git SHA);
the compiled pipeline reads the same two variables when it is compiled, so a GitOps build and the
YAML it submits always agree. The committed YAML is compiled with the defaults below.
"""

from __future__ import annotations

import os

DEFAULT_REGISTRY = "ghcr.io/yolo-kfp"
DEFAULT_TAG = "latest"


def image(name: str) -> str:
    """Full reference of one of our images (``data`` or ``train``) from the environment."""
    registry = os.environ.get("IMAGE_REGISTRY", DEFAULT_REGISTRY).rstrip("/")
    tag = os.environ.get("IMAGE_TAG", DEFAULT_TAG)
    return f"{registry}/yolo-kfp-{name}:{tag}"


CPU = image("data")  # convert, split, stats, ingest, publish
GPU = image("train")  # train, validate, export
