"""Which ONNX file ``predict --model`` names (a file, a folder, ``DEST@production``, ``DEST@VERSION``) and its session.

Published models are read verified (``components._shared.production``); an existing path is always a path.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from components._shared.artifacts import class_names, metadata_literal
from components._shared.errors import ConfigError
from components._shared.production import (
    download_verified,
    fetch_production_model,
    load_manifest,
    manifest_files,
)
from components._shared.storage import backend_for

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
PRODUCTION_REF = "production"


@dataclass(frozen=True)
class ModelFile:
    """A local ONNX file to run, and where it came from (for the report)."""

    path: Path
    origin: str  # the --model value, or "DEST@production -> VERSION"
    verified: bool  # sha256-checked against a published manifest


def _split_ref(spec: str) -> tuple[str, str] | None:
    """``("DEST", "REF")`` for ``DEST@REF`` (REF without ``/``), else None."""
    dest, at, ref = spec.rpartition("@")
    if not at or not dest or not ref or "/" in ref:
        return None
    return dest, ref


def resolve_model(spec: str, work_dir: Path) -> ModelFile:
    """The ONNX file ``spec`` names, downloaded and sha256-verified into ``work_dir`` when it is published."""
    path = Path(spec).expanduser()
    if path.exists():
        return _local_model(path, spec)
    ref = _split_ref(spec)
    if ref is None:
        raise ConfigError(
            f"--model {spec}: not found (give model.onnx, a folder holding it, DEST@production or DEST@VERSION)"
        )
    dest, name = ref
    if name == PRODUCTION_REF:
        return _production_model(dest, spec, work_dir)
    return _version_model(dest, name, spec, work_dir)


def _local_model(path: Path, spec: str) -> ModelFile:
    if path.is_dir():
        if (path / MODEL_FILE).is_file():
            return ModelFile(path=path / MODEL_FILE, origin=spec, verified=False)
        hint = " (it holds best.pt: run `yolo-kfp export` first)" if (path / "best.pt").is_file() else ""
        raise ConfigError(
            f"--model {spec}: a folder with no {MODEL_FILE}{hint}; give an export output folder, a model.onnx, "
            "or DEST@production"
        )
    if path.suffix.lower() != ".onnx":
        raise ConfigError(f"--model {spec}: not an ONNX model (.onnx); predict runs exported models only")
    return ModelFile(path=path, origin=spec, verified=False)


def _production_model(dest: str, spec: str, work_dir: Path) -> ModelFile:
    found = fetch_production_model(dest, work_dir)
    if found is None:
        raise ConfigError(
            f"--model {spec}: nothing is in production at {dest} yet; promote a version or name one (DEST@VERSION)"
        )
    if found.model_path.suffix.lower() != ".onnx":
        raise ConfigError(
            f"--model {spec}: production version {found.version} holds no {MODEL_FILE} (only "
            f"{found.model_path.name}); publish an exported model"
        )
    return ModelFile(path=found.model_path, origin=f"{spec} -> {found.version}", verified=True)


def _version_model(dest: str, version: str, spec: str, work_dir: Path) -> ModelFile:
    backend = backend_for(dest)
    out = Path(work_dir) / version
    manifest, _ = load_manifest(backend, version, out)
    if MODEL_FILE not in manifest_files(manifest):
        raise ConfigError(
            f"--model {spec}: version {version} lists no {MODEL_FILE}; publish an exported model"
        )
    files = download_verified(backend, version, manifest, [MODEL_FILE], out)
    log.info("model %s verified (sha256 checked) -> %s", spec, files[MODEL_FILE])
    return ModelFile(path=files[MODEL_FILE], origin=spec, verified=True)


def input_size(meta: dict[str, str], shape: list[Any], source: str) -> tuple[int, int]:
    """The model's input (height, width): the graph's fixed shape, else the ``imgsz`` metadata."""
    if len(shape) == 4 and all(isinstance(d, int) and d > 0 for d in shape[2:]):
        return int(shape[2]), int(shape[3])
    value = metadata_literal(meta.get("imgsz", "None"), "imgsz", source)
    if isinstance(value, int) and value > 0:
        return value, value
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int) and v > 0 for v in value)
    ):
        return int(value[0]), int(value[1])
    raise ConfigError(f"{source}: no input size (fixed input shape or imgsz metadata); re-export the model")


def make_session(path: Path) -> Any:
    """The shared ONNX Runtime session (``components._shared.onnx_runtime``); ConfigError when it cannot load."""
    from components._shared.onnx_runtime import make_session as shared_session

    try:
        import onnxruntime  # noqa: F401 - absent from the light install: say which extra brings it
    except ImportError:
        raise ConfigError(
            "predict needs ONNX Runtime, which the predict and train extras install "
            "(pip install 'yolo-kfp[predict]')"
        ) from None
    try:
        return shared_session(path)
    except Exception as err:  # onnxruntime raises its own Fail/InvalidProtobuf types from C++
        raise ConfigError(
            f"{path}: ONNX Runtime cannot load it ({type(err).__name__}: {str(err)[:120]}); re-export the model"
        ) from None


class DetectorBackend(Protocol):
    """What predict needs of a model, run here (``Detector``) or served (``remote.RemoteDetector``)."""

    @property
    def size(self) -> tuple[int, int]:
        """The input (height, width)."""
        ...

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names in index order."""
        ...

    @property
    def end_to_end(self) -> bool:
        """True for ``(batch, max_det, 6)`` rows (NMS inside), False for the raw ``(batch, 4 + nc, anchors)``."""
        ...

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The first output for a ``Nx3xHxW`` float32 batch."""
        ...


@dataclass(frozen=True)
class Detector:
    """An ONNX detection model ready to run: session, input name and size, class names, output kind."""

    session: Any
    input_name: str
    size: tuple[int, int]
    classes: tuple[str, ...]
    end_to_end: bool  # output (1, max_det, 6) rows with NMS inside, else the raw (1, 4 + nc, anchors)

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The first output for a ``1x3xHxW`` float32 batch."""
        return self.session.run(None, {self.input_name: batch})[0]


def load_detector(model: ModelFile) -> Detector:
    """A ``Detector`` for ``model``: its session, and what its metadata says it expects and returns."""
    session = make_session(model.path)
    meta = dict(session.get_modelmeta().custom_metadata_map)
    source = model.origin
    classes = class_names(meta.get("names"), source)
    inp = session.get_inputs()[0]
    out_shape = session.get_outputs()[0].shape
    # NMS in the graph: an nms=True export (its args say so; its end2end key stays False) or an
    # end-to-end head (YOLOv10/26); an export without either key is known by its output shape
    args = metadata_literal(meta["args"], "args", source) if "args" in meta else {}
    nms_inside = isinstance(args, dict) and args.get("nms") is True
    shaped = len(out_shape) == 3 and out_shape[2] == 6 and out_shape[1] != 4 + len(classes)
    known = "end2end" in meta or "args" in meta
    end_to_end = nms_inside or meta.get("end2end") == "True" if known else shaped
    return Detector(
        session=session,
        input_name=inp.name,
        size=input_size(meta, list(inp.shape), source),
        classes=classes,
        end_to_end=end_to_end,
    )
