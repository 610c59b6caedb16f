"""The file names inside the artifact folders stages hand each other, which file is "the model", and its class names."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from components._shared.errors import ConfigError

ARCH_FILE = "architecture.txt"  # holds a built-in architecture name such as yolov5n.yaml
MODEL_ONNX = "model.onnx"
MODEL_E2E_ONNX = "model_e2e.onnx"  # NMS inside: what Triton/KServe serve (issue 28)
BEST_PT = "best.pt"
LAST_PT = "last.pt"
DATASET_YAML = "dataset.yaml"
MODEL_FILES = (MODEL_ONNX, BEST_PT)  # in order of preference
MAX_META_CHARS = 1 << 20  # one metadata value of a model (class names, imgsz, args); 10,000 long names fit


def model_file(folder: Path) -> Path:
    """The model a folder holds: ``model.onnx``, else ``best.pt`` (a file stands for itself); ConfigError otherwise."""
    folder = Path(folder)
    for name in MODEL_FILES:
        if (folder / name).is_file():
            return folder / name
    if folder.is_file():
        return folder
    raise ConfigError(f"{folder}: neither {MODEL_ONNX} nor {BEST_PT} in the model folder")


def weights_in(folder: Path) -> str:
    """The ``--weights`` value a model folder stands for: its ``best.pt``/``*.pt``, YAML or architecture name."""
    folder = Path(folder)
    if folder.is_file():
        return str(folder)
    for candidate in [folder / BEST_PT, *sorted(folder.glob("*.pt"))]:
        if candidate.is_file():
            return str(candidate)
    if (folder / ARCH_FILE).is_file():
        return (folder / ARCH_FILE).read_text(encoding="utf-8").strip()
    yamls = sorted(folder.glob("*.y*ml"))
    if yamls:
        return str(yamls[0])
    raise ConfigError(f"{folder}: no weights (*.pt), architecture YAML or {ARCH_FILE} in the model folder")


def dataset_yaml(folder: Path) -> Path:
    """The ``dataset.yaml`` of a split-dataset folder (a YAML file stands for itself); not checked here."""
    folder = Path(folder)
    return folder / DATASET_YAML if folder.is_dir() else folder


def metadata_literal(text: str, what: str, source: str | Path) -> Any:
    """A Python literal from a model's metadata (``"{0: 'a'}"``, ``"[640, 640]"``), parsed within bounds."""
    if len(text) > MAX_META_CHARS:
        raise ConfigError(
            f"{source}: {what} metadata of {len(text)} characters (more than {MAX_META_CHARS}); "
            "re-export the model from its checkpoint"
        )
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as err:
        raise ConfigError(
            f"{source}: unreadable {what} {text[:80]!r} ({type(err).__name__}); re-export the model from its checkpoint"
        ) from None


def class_names(names: Any, source: str | Path) -> tuple[str, ...]:
    """Class names in index order from a model's ``names``: a dict keyed 0..n-1, a list, or their text."""
    if isinstance(names, str):
        names = metadata_literal(names, "class names", source)
    if isinstance(names, dict) and names:
        # "0" as well as 0: a dict that went through JSON on its way keeps its order this way
        names = {
            int(k) if isinstance(k, str) and k.isascii() and k.isdigit() else k: v for k, v in names.items()
        }
        keys = list(names)
        ints = all(isinstance(k, int) and not isinstance(k, bool) for k in keys)
        if not ints or sorted(keys) != list(range(len(keys))):
            shown = ", ".join(repr(k) for k in keys[:5])
            raise ConfigError(
                f"{source}: class names keyed by {shown}{', ...' if len(keys) > 5 else ''}, not the class "
                "indices 0..n-1; re-export the model from its checkpoint"
            )
        return tuple(str(names[k]) for k in sorted(keys))
    if isinstance(names, list | tuple) and names:
        return tuple(str(n) for n in names)
    raise ConfigError(f"{source}: the model carries no class names")
