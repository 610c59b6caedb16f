"""Load, build and inspect Ultralytics detection models and checkpoints, never running code from a pickle."""

from __future__ import annotations

# Patches first: they set YOLO_OFFLINE before Ultralytics is imported.
from components._yolo.patches import neutral_copy  # isort: split

import importlib
import logging
import os
import pathlib
import pickle
import re
import shutil
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
import ultralytics
from ultralytics.nn.tasks import DetectionModel, load_checkpoint

from components._shared.artifacts import class_names
from components._shared.artifacts import class_names as names_from_metadata  # noqa: F401 - export's name
from components._shared.errors import ConfigError
from components._shared.fsio import temp_beside
from components._yolo.pickles import ALLOWED_NAMES, TORCH_SAFE_PREFIXES, UnsafeCheckpoint, pickle_globals

log = logging.getLogger(__name__)

ULTRALYTICS_VERSION = ultralytics.__version__


# The classes a checkpoint may reconstruct with ``weights_only=True``: ``pickles.ALLOWED_NAMES``, resolved.
# Stand-ins: numpy's scalar(dtype, bytes) under both module names, a Windows path read as a POSIX one.
_SCALAR = np.float64(0).__reduce__()[0]
_STAND_INS = {
    "numpy.core.multiarray.scalar": _SCALAR,
    "numpy._core.multiarray.scalar": _SCALAR,
    "pathlib.WindowsPath": pathlib.PosixPath,
}


def _resolve(name: str) -> Any:
    if name in _STAND_INS:
        return (_STAND_INS[name], name)
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


ALLOWLIST: tuple[Any, ...] = tuple(_resolve(name) for name in sorted(ALLOWED_NAMES))


def _refused_global(path: Path | None, err: BaseException) -> str:
    """The global the restricted unpickler refused, with its module; empty when none is known."""
    text = str(err)
    m = re.search(r"GLOBAL ([\w.<>]+?)\.? was not", text)
    refused = m.group(1) if m else ""
    scanned: list[str] = []
    if path is not None:
        try:
            scanned = pickle_globals(path)
        except (OSError, ValueError):
            scanned = []
    foreign = [g for g in scanned if g not in ALLOWED_NAMES and not g.startswith(TORCH_SAFE_PREFIXES)]
    if refused:
        full = next((g for g in foreign if g == refused or g.endswith(f".{refused}")), refused)
        return f"the global {full}"
    if foreign:
        return f"the global {foreign[0]}"
    return ""


def restricted_torch_load(f: str | os.PathLike[str] | IO[bytes], map_location: Any = None, **_: Any) -> Any:
    """``torch.load(f, weights_only=True)`` with ``ALLOWLIST`` (the caller's ``weights_only`` is ignored).

    Raises UnsafeCheckpoint (global named), ConfigError (no file), RuntimeError/EOFError (unreadable).
    """
    name = f if isinstance(f, (str, os.PathLike)) else getattr(f, "name", "<checkpoint stream>")
    if isinstance(f, (str, os.PathLike)) and not Path(f).is_file():
        raise ConfigError(f"{name}: checkpoint not found")
    try:
        with torch.serialization.safe_globals(list(ALLOWLIST)):
            return torch.load(f, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if "Weights only load failed" not in str(err):
            raise  # not a pickle at all: the caller reports an unreadable file
        source = Path(f) if isinstance(f, (str, os.PathLike)) else None
        if needed := _refused_global(source, err):
            raise UnsafeCheckpoint(
                f"{name}: refused to load this checkpoint: it needs {needed}, which is not on the allowlist of "
                f"YOLO checkpoint classes (a crafted or foreign pickle); nothing in it was run"
            ) from None
        reason = next((ln.strip() for ln in str(err).splitlines() if "nsupported" in ln), type(err).__name__)
        reason = reason.removeprefix("WeightsUnpickler error:").strip()[:120]
        raise UnsafeCheckpoint(
            f"{name}: refused to load: not a checkpoint that torch's restricted unpickler accepts ({reason}); "
            f"nothing in it was run"
        ) from None


def safe_load(path: Path) -> dict[str, Any]:
    """A checkpoint dict loaded on the CPU by ``restricted_torch_load``; ConfigError if unreadable or not a dict."""
    try:
        ckpt = restricted_torch_load(Path(path), map_location="cpu")
    except (RuntimeError, EOFError, pickle.UnpicklingError, ValueError, OSError) as err:
        first = " ".join(str(err).split())[:160]
        raise ConfigError(f"{path}: not a loadable checkpoint ({type(err).__name__}: {first})") from None
    if not isinstance(ckpt, dict):
        raise ConfigError(f"{path}: not a checkpoint (a {type(ckpt).__name__}, not a dict)")
    return ckpt


def model_names(path: Path) -> tuple[str, ...]:
    """Class names, in index order, of a ``.pt`` checkpoint (safe-loaded) or an exported ``.onnx`` model."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: model not found")
    if path.suffix.lower() == ".onnx":
        import onnx

        try:
            meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        except Exception as err:  # onnx raises DecodeError and friends from protobuf
            raise ConfigError(f"{path}: not a readable ONNX model ({type(err).__name__})") from None
        return class_names(meta.get("names"), path)
    ckpt = safe_load(path)
    model = ckpt.get("ema") or ckpt.get("model")
    names = getattr(model, "names", None) if model is not None else None
    if names is None:
        names = (
            (ckpt.get("train_args") or {}).get("names") if isinstance(ckpt.get("train_args"), dict) else None
        )
    return class_names(names, path)


def load_model(path: Path) -> tuple[DetectionModel, dict[str, Any]]:
    """An Ultralytics checkpoint as an fp32 model (eval mode) and its dict; UnsafeCheckpoint or ConfigError."""
    try:
        with neutral_copy(path, ".pt") as tmp:
            try:
                model, ckpt = load_checkpoint(tmp)  # Ultralytics' loader, patched to restricted unpickling
            except UnsafeCheckpoint as err:
                raise UnsafeCheckpoint(str(err).replace(str(tmp), str(path))) from None
    except (TypeError, ModuleNotFoundError, AttributeError, RuntimeError, EOFError, KeyError) as err:
        first = " ".join(str(err).split())[:200]
        raise ConfigError(
            f"{path}: not an Ultralytics checkpoint ({type(err).__name__}: {first}); original YOLOv5 "
            f"(ultralytics/yolov5) .pt files must be converted: use the 'u' models such as yolov5su.pt"
        ) from err
    if not isinstance(model, DetectionModel):
        raise ConfigError(f"{path}: a {type(model).__name__}, not a detection model")
    return model, ckpt


def build_model(arch: str, nc: int) -> DetectionModel:
    """Build a detection model from an architecture YAML (``yolov5n.yaml`` builds YOLOv5nu)."""
    try:
        return DetectionModel(arch, nc=nc, verbose=False)
    except (FileNotFoundError, OSError, KeyError, AttributeError) as err:
        raise ConfigError(
            f"--weights {arch}: unknown architecture YAML ({type(err).__name__}); use e.g. yolov5n.yaml, "
            f"yolov5s.yaml or a path to a model YAML"
        ) from err


def layer_count(model: DetectionModel) -> int:
    """Number of top-level layers (``model.0`` ... ``model.<n-1>``); the last one is the Detect head."""
    return len(model.model)


def checkpoint_state(path: Path) -> dict[str, torch.Tensor]:
    """State dict of a checkpoint's model (EMA when present) in its stored precision (fp16 for Ultralytics)."""
    ckpt = safe_load(path)
    model = ckpt.get("ema") or ckpt.get("model")
    return {k: v.detach() for k, v in model.state_dict().items()}


def checkpoint_progress(path: Path) -> dict[str, Any] | None:
    """Resume facts of a ``last.pt`` (``epoch``: finished, ``epochs``, ``train_args``, ``train_results``, ``names``)."""
    try:
        ckpt = safe_load(path)
    except UnsafeCheckpoint:
        raise  # a crafted checkpoint in the resume location is an attack, not a torn write
    except ConfigError as err:  # a half-written file from a killed pod: Ultralytics writes last.pt in place
        log.warning("%s; it cannot be resumed", err)
        return None
    if not isinstance(ckpt, dict) or ckpt.get("optimizer") is None or int(ckpt.get("epoch", -1)) < 0:
        return None
    args = dict(ckpt.get("train_args") or {})
    model = ckpt.get("ema") or ckpt.get("model")
    try:
        names: tuple[str, ...] | None = class_names(getattr(model, "names", None), Path(path))
    except ConfigError:
        names = None  # a checkpoint without class names: the dataset fingerprint alone decides
    return {
        "epoch": int(ckpt["epoch"]) + 1,
        "epochs": int(args.get("epochs", 0)),
        "train_args": args,
        "train_results": ckpt.get("train_results") or {},
        "names": names,
    }


def copy_checkpoint(src: Path, dst: Path) -> None:
    """Copy a checkpoint byte for byte (to the run folder, before resuming from it)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with temp_beside(dst) as tmp:
        shutil.copyfile(src, tmp)
        os.replace(tmp, dst)


def versions() -> dict[str, str]:
    """Versions of the libraries that shaped the result (for reports and model cards)."""
    import platform

    return {
        "ultralytics": ULTRALYTICS_VERSION,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


# Depth and width multiples of each scale, for checkpoints whose YAML lost its file name and scale
# (e.g. trained by an older Ultralytics): the family comes from its blocks, the scale from these.
_SCALES: dict[str, dict[tuple[float, float], str]] = {
    "yolov5": {(0.33, 0.25): "n", (0.33, 0.5): "s", (0.67, 0.75): "m", (1.0, 1.0): "l", (1.33, 1.25): "x"},
    "yolov8": {(0.33, 0.25): "n", (0.33, 0.5): "s", (0.67, 0.75): "m", (1.0, 1.0): "l", (1.0, 1.25): "x"},
    "yolo11": {(0.5, 0.25): "n", (0.5, 0.5): "s", (0.5, 1.0): "m", (1.0, 1.0): "l", (1.0, 1.5): "x"},
}
_FAMILY_BLOCKS = (("C3k2", "yolo11"), ("C2f", "yolov8"), ("C3", "yolov5"))  # most specific first
_ARCH_STEM = re.compile(r"^(?P<family>yolov?\d+)(?P<scale>[nsmlx])?(?P<rest>.*)$")
UNKNOWN_ARCH = "unknown"


def _name_from_stem(stem: str, scale: str | None) -> str | None:
    """``yolov5n`` -> ``yolov5nu`` (Ultralytics builds every YOLOv5 YAML anchor-free), ``yolov8`` + s -> ``yolov8s``."""
    m = _ARCH_STEM.match(stem.lower())
    if not m:
        return None
    family, rest = m.group("family"), m.group("rest")
    size = m.group("scale") or scale or ""
    if family == "yolov5":
        rest = (
            "6" + rest[3:] if rest.startswith("-p6") else rest
        )  # Ultralytics' yolov5n-p6 is the yolov5n6u file
        rest = rest if rest.endswith("u") else f"{rest}u"  # yolov5n6 -> yolov5n6u, as Ultralytics names it
    return f"{family}{size}{rest}"


def architecture_name(yaml: Any, hint: str = "") -> str:
    """The architecture (``yolov5su``, ``yolo11n``) of a ``yaml`` dict or name; ``hint``: a fallback name."""
    if isinstance(yaml, (str, os.PathLike)):
        yaml = {"yaml_file": os.fspath(yaml)}
    d = yaml if isinstance(yaml, dict) else {}
    scale = d.get("scale") if isinstance(d.get("scale"), str) else None
    if d.get("yaml_file"):
        stem = pathlib.PureWindowsPath(str(d["yaml_file"])).stem  # also splits a Windows path
        if name := _name_from_stem(stem, scale):
            return name
    layers = [
        layer for part in ("backbone", "head") for layer in d.get(part) or [] if isinstance(layer, list)
    ]
    blocks = {str(layer[2]) for layer in layers if len(layer) > 2}
    family = next((fam for block, fam in _FAMILY_BLOCKS if block in blocks), None)
    if family:
        multiples = (d.get("depth_multiple"), d.get("width_multiple"))
        size = scale or _SCALES[family].get(multiples)  # type: ignore[arg-type]
        if size:
            return _name_from_stem(f"{family}{size}", None) or family
    if hint and (name := _name_from_stem(pathlib.PureWindowsPath(hint).stem, scale)):
        return name
    return f"{family} (scale unknown)" if family else UNKNOWN_ARCH


def model_architecture(model: Any) -> str:
    """The architecture of a loaded or built model (``architecture_name`` of its ``yaml``)."""
    return architecture_name(getattr(model, "yaml", None))


def checkpoint_architecture(path: Path) -> str:
    """The architecture of an Ultralytics checkpoint, read through ``safe_load``."""
    ckpt = safe_load(Path(path))
    model = ckpt.get("ema") or ckpt.get("model")
    args = ckpt.get("train_args")
    hint = str(args.get("model") or "") if isinstance(args, dict) else ""
    return architecture_name(getattr(model, "yaml", None), hint)
