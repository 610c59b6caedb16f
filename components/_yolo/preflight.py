"""Checks of a training configuration that need no GPU, torch or Ultralytics, run before any GPU time.

They run in the plan task (CPU, not retried: a bad value never burns a retried GPU task) and in ``train``.
"""

from __future__ import annotations

import difflib
import io
import math
import pickle
import re
import zipfile
from collections.abc import Collection, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from components._shared.dataset import DatasetSpec, read_list
from components._shared.errors import ConfigError, DatasetError
from components._yolo.layers import BACKBONE_LAYERS
from components._yolo.ultralytics_keys import KEY_KINDS

STRIDE = 32  # the YOLO models' largest stride: image sizes are multiples of it
MAX_IMGSZ = 8192  # beyond this a single image does not fit a GPU's memory
MAX_PICKLE_BYTES = 64 << 20  # data.pkl of a detection checkpoint is well under 1 MB; tensors are separate
_DEVICE = re.compile(r"(auto|cpu|mps|(cuda:)?\d+(,\d+)*)")
TRAIN_ARGS_DOC = "https://docs.ultralytics.com/modes/train/#train-settings"

# Ultralytics arguments the pipeline sets itself: refused in ``train_args``, with what to use instead.
PIPELINE_OWNED_ARGS: Mapping[str, str] = MappingProxyType(
    {
        "data": "the dataset input (yolo_dataset; CLI --data)",
        "model": "the weights parameter (and model_size; CLI --weights)",
        "pretrained": "the weights parameter (CLI --weights)",
        "epochs": "epochs_frozen / epochs_finetune (CLI --epochs)",
        "time": "epochs_frozen / epochs_finetune (a time limit would cut the planned epochs; CLI --epochs)",
        "imgsz": "imgsz (CLI --imgsz)",
        "batch": "batch (CLI --batch)",
        "freeze": "freeze / strategy (CLI --freeze)",
        "lr0": "lr0 / lr_finetune (CLI --lr0)",
        "warmup_epochs": "warmup_epochs / warmup_finetune (CLI --warmup-epochs)",
        "device": "gpus (CLI --device)",
        "seed": "seed (CLI --seed)",
        "deterministic": "seed (training is always deterministic)",
        "resume": "checkpoint_root (a retried task resumes by itself; CLI --no-resume)",
        "project": "the stage's output artifact (CLI --out)",
        "name": "the stage's output artifact (CLI --out)",
        "save_dir": "the stage's output artifact (CLI --out)",
        "exist_ok": "the stage's output artifact (CLI --out)",
        "save": "nothing: best.pt and last.pt are the stage's outputs",
        "val": "nothing: validation every epoch picks best.pt",
        "plots": "nothing: the stage draws its own curves (report.html)",
        "task": "nothing: the task is detect",
        "mode": "nothing: the mode is train",
        "cfg": "train_args itself (pass each key, not a config file)",
    }
)


def check_train_args_keys(args: Any, known: Collection[str] | None = None) -> dict[str, Any]:
    """Refuse ``train_args`` that are not a mapping or name a key the pipeline owns or Ultralytics lacks (``known``)."""
    if not isinstance(args, Mapping):
        raise ConfigError(f"train_args {args!r}: must be a mapping such as {{'mosaic': 0.5}}")
    known = KEY_KINDS if known is None else known
    for key in args:
        if key in PIPELINE_OWNED_ARGS:
            raise ConfigError(f"train_args: '{key}' is set by the pipeline; use {PIPELINE_OWNED_ARGS[key]}")
    allowed = sorted(set(known) - set(PIPELINE_OWNED_ARGS))
    for key in args:
        if key not in known:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise ConfigError(
                f"train_args: '{key}' is not an Ultralytics training argument; {hint}see {TRAIN_ARGS_DOC}"
            )
    return dict(args)


def _check_kind(key: str, value: Any) -> None:
    """The type and range Ultralytics' ``check_cfg`` demands of ``key`` (the snapshot's kind)."""
    kind = KEY_KINDS.get(key, "any")
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if value is None or kind == "any" or (key == "fraction" and isinstance(value, list)):
        return  # None and lists: Ultralytics' own check in the train image judges them
    if kind in ("float", "fraction") and not (number and math.isfinite(value)):
        raise ConfigError(f"train_args: '{key}={value!r}' must be a number, e.g. {key}=0.5")
    if kind == "fraction" and not 0.0 <= value <= 1.0 and key != "fraction":
        raise ConfigError(f"train_args: '{key}={value!r}' must be between 0.0 and 1.0")
    if kind == "int" and not (number and float(value).is_integer()):
        raise ConfigError(f"train_args: '{key}={value!r}' must be a whole number, e.g. {key}=8")
    if kind == "bool" and not isinstance(value, bool):
        raise ConfigError(f"train_args: '{key}={value!r}' must be true or false")
    if kind == "str" and not isinstance(value, str):
        raise ConfigError(f"train_args: '{key}={value!r}' must be a string")


def check_imgsz(imgsz: Any, label: str = "imgsz") -> None:
    """Refuse an image size that is not a multiple of ``STRIDE`` in [``STRIDE``, ``MAX_IMGSZ``]."""
    if isinstance(imgsz, bool) or not isinstance(imgsz, int) or not STRIDE <= imgsz <= MAX_IMGSZ:
        raise ConfigError(
            f"{label} {imgsz!r}: use a whole number of pixels between {STRIDE} and {MAX_IMGSZ}, e.g. 640"
        )
    if imgsz % STRIDE:
        raise ConfigError(
            f"{label} {imgsz}: not a multiple of the model stride {STRIDE}; use {imgsz // STRIDE * STRIDE or STRIDE} "
            f"or {(imgsz // STRIDE + 1) * STRIDE}"
        )


def check_freeze(freeze: int, layers: int | None, label: str = "freeze") -> None:
    """Refuse a freeze depth below 0, or one leaving no trainable layer of ``layers`` (None: unknown)."""
    if isinstance(freeze, bool) or not isinstance(freeze, int) or freeze < 0:
        raise ConfigError(
            f"{label} {freeze!r}: must be 0 (train everything) or more ({BACKBONE_LAYERS} = the backbone)"
        )
    if layers is not None and freeze >= layers:
        raise ConfigError(
            f"{label} {freeze}: the model has {layers} layers (model.0-model.{layers - 1}, the last is the "
            f"Detect head); freeze at most {layers - 1} ({BACKBONE_LAYERS} = the backbone)"
        )


def parse_device(device: str, label: str = "device") -> tuple[str, ...]:
    """The CUDA device indices ``device`` asks for (``()`` for ``auto``, ``cpu``, ``mps``); ConfigError otherwise."""
    text = str(device).strip().lower().replace(" ", "")
    if not _DEVICE.fullmatch(text):
        raise ConfigError(f"{label} {device!r}: use auto, cpu, mps, a GPU index (0), several (0,1) or cuda:0")
    if text in ("auto", "cpu", "mps"):
        return ()
    return tuple(text.removeprefix("cuda:").split(","))


def check_dataset_shape(spec: DatasetSpec) -> None:
    """Refuse a dataset without class names or with an empty train or val list (one line naming the file)."""
    if not spec.names:
        raise DatasetError(f"{spec.yaml_path}: no class names; list them under 'names'")
    for split in ("train", "val"):
        lst = spec.splits.get(split)
        if lst is not None and lst.is_file() and not read_list(lst):
            raise DatasetError(
                f"{lst}: the {split} list is empty; training needs at least one {split} image "
                "(re-run 'yolo-kfp split' with more images or another ratio)"
            )


def check_training_setup(
    *,
    freeze: int,
    imgsz: int,
    train_args: Any,
    layers: int | None = None,
    device: str = "auto",
    spec: DatasetSpec | None = None,
    cli: bool = False,
) -> dict[str, Any]:
    """Every check of a training configuration that needs no GPU; returns ``train_args`` as checked.

    ``device`` is checked in form only; ``cli`` names the values as CLI flags (``--freeze``).
    """
    args = check_train_args_keys(train_args)
    for key, value in args.items():
        _check_kind(key, value)
    dash = "--" if cli else ""
    check_imgsz(imgsz, f"{dash}imgsz")
    check_freeze(freeze, layers, f"{dash}freeze")
    parse_device(device, f"{dash}device")
    if spec is not None:
        check_dataset_shape(spec)
    return args


class _Stub:
    """Stands in for every class or function a checkpoint's pickle names: nothing of theirs runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.__dict__["state"] = state


class _StubUnpickler(pickle.Unpickler):
    """Builds a checkpoint's object tree from plain dicts, lists and ``_Stub`` s (tensors become stubs)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return dict
        if module in ("builtins", "__builtin__") and name in ("set", "frozenset", "dict", "list", "tuple"):
            return {"set": set, "frozenset": frozenset, "dict": dict, "list": list, "tuple": tuple}[name]
        return type(name, (_Stub,), {})

    def persistent_load(self, pid: Any) -> None:
        return None  # tensor storages: never read


def _modules(obj: Any) -> dict[str, Any]:
    state = obj.__dict__.get("state") if isinstance(obj, _Stub) else None
    state = state if isinstance(state, dict) else (obj.__dict__ if isinstance(obj, _Stub) else {})
    modules = state.get("_modules")
    return modules if isinstance(modules, dict) else {}


def checkpoint_layers(path: Path) -> int | None:
    """Top-level layers of a checkpoint's model, read from its pickle without torch; None when not such a checkpoint."""
    try:
        with zipfile.ZipFile(path) as z:
            pkl = next((i for i in z.infolist() if i.filename.endswith("data.pkl")), None)
            if pkl is None or pkl.file_size > MAX_PICKLE_BYTES:
                return None
            ckpt = _StubUnpickler(io.BytesIO(z.read(pkl))).load()
    except Exception:  # noqa: BLE001 - not a readable torch zip: unknown, not an error here
        return None
    if not isinstance(ckpt, dict):
        return None
    model = ckpt.get("ema") or ckpt.get("model")
    layers = _modules(_modules(model).get("model"))
    return len(layers) or None
