"""What each artifact folder holds, decided in one place.

Stages hand folders to each other (KFP artifacts, or ``runs/<stage>/`` on the CLI). These are the
names inside them and the rules for "which file in this folder is the model":

    best.pt             the training stage's checkpoint (fp16, optimizer stripped)
    model.onnx          the export stage's model (preferred by validate and publish when present)
    architecture.txt    a built-in architecture name (``yolov5n.yaml``) standing in for weights
    dataset.yaml        the split dataset (see ``components._shared.dataset``)
"""

from __future__ import annotations

from pathlib import Path

from components._shared.errors import ConfigError

ARCH_FILE = "architecture.txt"  # holds a built-in architecture name such as yolov5n.yaml
MODEL_ONNX = "model.onnx"
MODEL_E2E_ONNX = "model_e2e.onnx"  # NMS inside: what Triton/KServe serve (issue 28)
BEST_PT = "best.pt"
LAST_PT = "last.pt"
DATASET_YAML = "dataset.yaml"
MODEL_FILES = (MODEL_ONNX, BEST_PT)  # in order of preference


def model_file(folder: Path) -> Path:
    """The model a folder holds: ``model.onnx`` first, else ``best.pt`` (a file stands for itself).

    Raises:
        ConfigError: the folder holds neither.
    """
    folder = Path(folder)
    for name in MODEL_FILES:
        if (folder / name).is_file():
            return folder / name
    if folder.is_file():
        return folder
    raise ConfigError(f"{folder}: neither {MODEL_ONNX} nor {BEST_PT} in the model folder")


def weights_in(folder: Path) -> str:
    """The ``--weights`` value a model folder stands for: its ``best.pt``/``*.pt``, YAML or architecture name.

    Raises:
        ConfigError: the folder holds no weights, architecture YAML or ``architecture.txt``.
    """
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
    """The ``dataset.yaml`` of a split-dataset folder (a YAML file stands for itself).

    Only locates the file; ``components._shared.dataset.load_dataset`` checks it and
    ``resolve_dataset_yaml`` makes it absolute for Ultralytics.
    """
    folder = Path(folder)
    return folder / DATASET_YAML if folder.is_dir() else folder
