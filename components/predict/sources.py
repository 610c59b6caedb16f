"""What ``predict --source`` names: an image, a folder (recursive), a video, an s3:// prefix (``README.md``)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from components._shared.dataset import IMAGE_SUFFIXES
from components._shared.errors import ConfigError
from components._shared.storage import backend_for, scheme_of
from components._shared.storage.base import safe_relpath

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")
VIDEO_EXTRA = "a video needs OpenCV, which the train extra installs (pip install 'yolo-kfp[train]')"


class Unreadable(Exception):
    """An input that cannot be decoded; predict skips it and counts it under ``reason``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Source:
    """The files to predict on: images and videos, each with the relative name its outputs take."""

    root: str  # as given
    files: tuple[tuple[str, Path], ...]  # (relative name, local path), sorted


def _is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def _wanted(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES or _is_video(path)


def open_source(spec: str, work_dir: Path) -> Source:
    """The images and videos ``spec`` names (an ``s3://`` prefix is downloaded into ``work_dir`` first)."""
    if scheme_of(spec) != "file" or spec.startswith("file://"):
        return _remote(spec, Path(work_dir) / "source")
    path = Path(spec).expanduser()
    if path.is_file():
        if not _wanted(path):
            raise ConfigError(
                f"--source {spec}: not an image ({', '.join(IMAGE_SUFFIXES)}) or a video ({', '.join(VIDEO_SUFFIXES)})"
            )
        return Source(root=spec, files=((path.name, path),))
    if not path.is_dir():
        raise ConfigError(f"--source {spec}: not found (give an image, a folder, a video or an s3:// prefix)")
    files = tuple(
        (p.relative_to(path).as_posix(), p) for p in sorted(path.rglob("*")) if p.is_file() and _wanted(p)
    )
    if not files:
        raise ConfigError(
            f"--source {spec}: no images ({', '.join(IMAGE_SUFFIXES)}) or videos in this folder"
        )
    return Source(root=spec, files=files)


def _remote(spec: str, local: Path) -> Source:
    backend = backend_for(spec)
    entries = [e for e in backend.list_entries() if _wanted(Path(e.name))]
    if not entries:
        raise ConfigError(
            f"--source {spec}: no images ({', '.join(IMAGE_SUFFIXES)}) or videos under this prefix"
        )
    # a key such as a/../../x must not write outside the download folder
    items = [(e, local / safe_relpath(e.name, what=f"--source object {e.uri}")) for e in entries]
    backend.get_files(items, desc="download source")
    return Source(root=spec, files=tuple((p.relative_to(local).as_posix(), p) for _, p in items))


def read_image(path: Path) -> np.ndarray:
    """An image file as an HWC RGB uint8 array (EXIF applied); ``Unreadable`` when Pillow cannot decode it."""
    from PIL import Image, ImageOps

    # Ultralytics, once imported in this process, wraps Image.open so that an unidentified file makes it
    # pip-install a HEIF plugin (or raise ModuleNotFoundError offline): read with Pillow's own opener
    patches = sys.modules.get("ultralytics.utils.patches")
    pil_open = getattr(patches, "_image_open", None) or Image.open
    try:
        with pil_open(path) as im:
            im.load()
            rgb = ImageOps.exif_transpose(im).convert("RGB")
    except Image.DecompressionBombError as err:
        raise Unreadable("too_large", f"{path}: {err}") from None
    except (OSError, ValueError, SyntaxError) as err:  # UnidentifiedImageError is an OSError
        raise Unreadable("unreadable", f"{path}: {type(err).__name__}: {str(err)[:100]}") from None
    return np.asarray(rgb)


def frame_count(path: Path) -> int:
    """Frames in a video (as its container says; 1 for an image)."""
    if not _is_video(path):
        return 1
    cv2 = _cv2(path)
    cap = cv2.VideoCapture(str(path))
    try:
        return max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    finally:
        cap.release()


def _cv2(path: Path):  # noqa: ANN202 - the cv2 module, absent in the light install
    try:
        import cv2
    except ImportError:
        raise ConfigError(f"--source {path}: {VIDEO_EXTRA}, or give its frames as images") from None
    return cv2


def read_frames(name: str, path: Path) -> Iterator[tuple[str, np.ndarray | Unreadable]]:
    """``(name of the frame, RGB frame)`` for each image of ``path``; one ``Unreadable`` when it cannot be read."""
    if not _is_video(path):
        try:
            yield name, read_image(path)
        except Unreadable as err:
            yield name, err
        return
    cv2 = _cv2(path)
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            yield name, Unreadable("unreadable", f"{path}: OpenCV cannot open this video")
            return
        stem = name.rsplit(".", 1)[0]
        index = 0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            yield f"{stem}/frame_{index:06d}.jpg", np.ascontiguousarray(bgr[..., ::-1])
            index += 1
        if index == 0:
            yield name, Unreadable("unreadable", f"{path}: no frame could be decoded")
    finally:
        cap.release()
