"""What a checkpoint's pickle references, read from its opcodes without torch or running anything.

``model.safe_load`` is the security boundary; this scan names the refused global and lets the CPU image
refuse a crafted checkpoint early (``check_pickle``). A scan can be evaded, so nothing is loaded on its word.
"""

from __future__ import annotations

import io
import pickletools
import zipfile
from pathlib import Path

from components._shared.errors import ConfigError


class UnsafeCheckpoint(ConfigError):
    """A checkpoint's pickle references a global outside the allowlist: it was refused, nothing ran."""


# ``module.name`` of the classes a YOLO detection checkpoint may reconstruct (``model.ALLOWLIST`` resolves
# them; torch allows tensors, storages and containers by itself). Found in the pickle GLOBAL opcodes of
# genuine checkpoints: the committed sample (YOLOv5nu, Ultralytics 8.4), fall_yolov8s.pt (8.3.202), our
# own last.pt/best.pt, and models built from the yolov5n/n6, yolov8n/-p2/-p6 and yolo11n YAMLs.
ALLOWED_NAMES = frozenset(
    {
        "ultralytics.nn.tasks.DetectionModel",
        "ultralytics.nn.modules.conv.Conv",
        "ultralytics.nn.modules.conv.DWConv",
        "ultralytics.nn.modules.conv.Concat",
        "ultralytics.nn.modules.block.Bottleneck",
        "ultralytics.nn.modules.block.C2",
        "ultralytics.nn.modules.block.C2f",
        "ultralytics.nn.modules.block.C3",
        "ultralytics.nn.modules.block.C3k",
        "ultralytics.nn.modules.block.C3k2",
        "ultralytics.nn.modules.block.C2PSA",
        "ultralytics.nn.modules.block.PSABlock",
        "ultralytics.nn.modules.block.Attention",
        "ultralytics.nn.modules.block.SPPF",
        "ultralytics.nn.modules.block.DFL",
        "ultralytics.nn.modules.head.Detect",
        "ultralytics.utils.IterableSimpleNamespace",
        "torch.nn.modules.conv.Conv2d",
        "torch.nn.modules.batchnorm.BatchNorm2d",
        "torch.nn.modules.activation.SiLU",
        "torch.nn.modules.pooling.MaxPool2d",
        "torch.nn.modules.upsampling.Upsample",
        "torch.nn.modules.linear.Identity",
        "torch.nn.modules.container.ModuleList",
        "torch.nn.modules.container.Sequential",
        "numpy.dtype",
        "numpy.dtypes.Float64DType",
        "numpy.dtypes.Float32DType",
        "numpy.dtypes.Int64DType",
        "numpy.core.multiarray.scalar",
        "numpy._core.multiarray.scalar",
        "pathlib.PosixPath",
        "pathlib.WindowsPath",
    }
)
# Globals torch's restricted unpickler allows by itself (tensors, storages, dict/set/OrderedDict).
TORCH_SAFE_PREFIXES = ("torch._utils.", "torch.Size", "torch.device", "torch.serialization._")
TORCH_SAFE_PREFIXES += tuple(
    f"torch.{t}Storage" for t in ("Float", "Half", "Long", "Int", "Byte", "Bool", "Double")
)
TORCH_SAFE_PREFIXES += (
    "torch.BFloat16Storage",
    "collections.OrderedDict",
    "__builtin__.set",
    "builtins.set",
)


def pickle_globals(path: Path) -> list[str]:
    """The globals (``module.name``) a checkpoint's pickle names (a torch zip's ``data.pkl``, else every pickle)."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            pkl = next((n for n in z.namelist() if n.endswith("data.pkl")), None)
            data = z.read(pkl) if pkl else b""
    else:
        data = path.read_bytes()
    found: list[str] = []
    stream = io.BytesIO(data)
    while stream.tell() < len(data):
        strings: list[str] = []
        try:
            for op, arg, _ in pickletools.genops(stream):
                if isinstance(arg, str) and "UNICODE" in op.name:
                    strings.append(arg)
                if op.name in ("GLOBAL", "INST"):
                    found.append(str(arg).replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.append(f"{strings[-2]}.{strings[-1]}")
        except Exception:  # noqa: BLE001 - not (or no longer) a pickle: report what was found so far
            break
    return list(dict.fromkeys(found))


def check_pickle(path: Path) -> None:
    """Refuse (``UnsafeCheckpoint``) a checkpoint whose opcodes name a global outside the allowlist."""
    try:
        found = pickle_globals(Path(path))
    except (OSError, zipfile.BadZipFile, ValueError) as err:
        raise ConfigError(f"{path}: not a readable checkpoint ({type(err).__name__})") from None
    foreign = [g for g in found if g not in ALLOWED_NAMES and not g.startswith(TORCH_SAFE_PREFIXES)]
    if foreign:
        raise UnsafeCheckpoint(
            f"{path}: refused this checkpoint: it needs the global {foreign[0]}, which is not on the allowlist "
            "of YOLO checkpoint classes (a crafted or foreign pickle); nothing in it was run"
        )
