"""Container images of the pipeline's tasks, named in one place (``docs/kubeflow.md``, "Build and push the images").

``CPU`` and ``GPU`` read ``IMAGE_REGISTRY``/``IMAGE_TAG`` at first import (``pipelines.compile`` runs in a fresh
process). The default tag is the project version, never ``latest``: a mutable tag changes what a version runs.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from components._shared.errors import ConfigError

DEFAULT_REGISTRY = "ghcr.io/yolo-kfp"
NAMES = ("data", "train")  # docker/<name>.Dockerfile -> <registry>/yolo-kfp-<name>:<tag>
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # Docker's tag grammar
_REGISTRY = re.compile(r"[a-z0-9]([a-z0-9._:-]*[a-z0-9])?(/[a-z0-9]([a-z0-9._-]*[a-z0-9])?)*")
_PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def project_version() -> str:
    """The project version: the installed metadata, else ``pyproject.toml``; ConfigError when neither."""
    try:
        return importlib.metadata.version("yolo-kfp")
    except importlib.metadata.PackageNotFoundError:
        pass
    try:
        return str(tomllib.loads(_PYPROJECT.read_text(encoding="utf-8"))["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(
            f"cannot read the project version (yolo-kfp not installed, {_PYPROJECT} unreadable): "
            "pass --image-tag TAG"
        ) from err


DEFAULT_TAG = project_version()


def check_tag(tag: str) -> str:
    """``tag`` when it is a Docker tag other than ``latest``; ConfigError otherwise."""
    if not tag or tag.lower() == "latest":
        raise ConfigError(
            f"image tag {tag!r} refused: ':latest' is mutable, so one pipeline version would run different "
            "images over time; pass --image-tag with the tag `make images` pushed (e.g. the git SHA)"
        )
    if not _TAG.fullmatch(tag):
        raise ConfigError(
            f"image tag {tag!r} is not a Docker tag (letters, digits, '_', '.', '-'; at most 128)"
        )
    return tag


def check_registry(registry: str) -> str:
    """``registry`` without a trailing slash when it is an image repository prefix; ConfigError otherwise."""
    registry = registry.strip().rstrip("/")
    if not _REGISTRY.fullmatch(registry) or "@" in registry:
        raise ConfigError(
            f"image registry {registry!r} is not a repository prefix such as ghcr.io/<you> "
            "(lower case, no tag, no scheme)"
        )
    return registry


@dataclass(frozen=True)
class ImageSet:
    """The registry and tag every task image of one compiled pipeline shares."""

    registry: str
    tag: str

    def image(self, name: str) -> str:
        """Full reference of one of our images (``data`` or ``train``)."""
        return f"{self.registry}/yolo-kfp-{name}:{self.tag}"

    def all(self) -> dict[str, str]:
        """Every image of this set, by name."""
        return {name: self.image(name) for name in NAMES}

    def __str__(self) -> str:
        return f"{self.registry}/yolo-kfp-{{{','.join(NAMES)}}}:{self.tag}"


def resolve(registry: str | None = None, tag: str | None = None) -> ImageSet:
    """The images asked for (argument > ``IMAGE_REGISTRY``/``IMAGE_TAG`` > defaults), checked."""
    registry = registry or os.environ.get("IMAGE_REGISTRY") or DEFAULT_REGISTRY
    tag = tag or os.environ.get("IMAGE_TAG") or DEFAULT_TAG
    return ImageSet(check_registry(registry), check_tag(tag.strip()))


def requested(registry: str | None = None, tag: str | None = None) -> bool:
    """Whether images were asked for at all (an argument or ``IMAGE_REGISTRY``/``IMAGE_TAG``)."""
    return bool(registry or tag or os.environ.get("IMAGE_REGISTRY") or os.environ.get("IMAGE_TAG"))


def image_tag(reference: str) -> str:
    """The tag of an image reference; ``latest`` when it has none (what the container runtime pulls)."""
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else "latest"


# Read once, when the components are defined. Not checked here (the local runner never pulls them);
# ``pipelines.compile`` sets both variables explicitly and checks the result.
CURRENT = ImageSet(
    (os.environ.get("IMAGE_REGISTRY") or DEFAULT_REGISTRY).strip().rstrip("/"),
    (os.environ.get("IMAGE_TAG") or DEFAULT_TAG).strip(),
)
CPU = CURRENT.image("data")  # ingest, convert, split, stats, plan, fetch weights, publish
GPU = CURRENT.image("train")  # train, validate, export


def image(name: str) -> str:
    """Full reference of one of our images (``data`` or ``train``) as the components were defined."""
    return CURRENT.image(name)
