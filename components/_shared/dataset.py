"""The dataset hand-over format between stages (split -> stats/train/validate/export).

A split dataset is a self-contained folder, so it survives being copied between KFP tasks:

    dataset.yaml      Ultralytics format; ``path: .`` (relative to this file), train/val[/test] lists, names
    train.txt         one ``./images/<name>`` per line (Ultralytics resolves ``./`` against the list's folder)
    val.txt, test.txt
    images/, labels/  hard links to the converted images and YOLO label files
    classes.txt       one class name per line

Ultralytics resolves a relative ``path`` against its own datasets folder, so consumers call
``resolve_dataset_yaml`` to get a copy with the absolute location filled in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from components._shared.errors import DatasetError
from components._shared.fsio import write_text_atomic

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


@dataclass(frozen=True)
class DatasetSpec:
    """A parsed ``dataset.yaml`` with every location made absolute."""

    yaml_path: Path
    root: Path
    names: tuple[str, ...]
    splits: dict[str, Path]  # split name -> list file (train/val/test), absolute

    def images(self, split: str) -> list[Path]:
        """Absolute image paths of one split (empty when the split does not exist)."""
        lst = self.splits.get(split)
        if lst is None:
            return []
        return [resolve_list_entry(lst, line) for line in read_list(lst)]


def read_list(list_file: Path) -> list[str]:
    """Non-empty lines of a split list file."""
    return [ln.strip() for ln in list_file.read_text(encoding="utf-8").splitlines() if ln.strip()]


def resolve_list_entry(list_file: Path, entry: str) -> Path:
    """Resolve one list entry the way Ultralytics does (``./`` is relative to the list's folder)."""
    if entry.startswith("./"):
        return list_file.parent / entry[2:]
    p = Path(entry)
    return p if p.is_absolute() else list_file.parent / p


def label_path(image: Path) -> Path:
    """The YOLO label file of an image (Ultralytics convention: /images/ -> /labels/, suffix .txt)."""
    parts = list(image.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def load_dataset(yaml_path: Path) -> DatasetSpec:
    """Parse and check a ``dataset.yaml``; raise ``DatasetError`` with the file named when unusable."""
    yaml_path = Path(yaml_path)
    if yaml_path.is_dir():
        yaml_path = yaml_path / "dataset.yaml"
    if not yaml_path.is_file():
        raise DatasetError(f"{yaml_path}: dataset YAML not found (run 'yolo-kfp split' to create it)")
    try:
        data = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise DatasetError(f"{yaml_path}: not valid YAML ({err.__class__.__name__})") from err
    if not isinstance(data, dict) or "names" not in data or "train" not in data or "val" not in data:
        raise DatasetError(f"{yaml_path}: needs 'train', 'val' and 'names' keys (Ultralytics dataset format)")
    root = Path(data.get("path") or ".")
    if not root.is_absolute():
        root = (yaml_path.parent / root).resolve()
    names = data["names"]
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    splits = {}
    for split in ("train", "val", "test"):
        rel = data.get(split)
        if not rel:
            continue
        p = Path(rel) if Path(rel).is_absolute() else root / rel
        if not p.exists():
            raise DatasetError(f"{yaml_path}: {split} list {p} does not exist")
        splits[split] = p
    return DatasetSpec(yaml_path=yaml_path, root=root, names=tuple(str(n) for n in names), splits=splits)


def resolve_dataset_yaml(yaml_path: Path, work_dir: Path) -> Path:
    """Write ``work_dir/dataset.resolved.yaml`` with an absolute ``path`` and return it (for Ultralytics)."""
    spec = load_dataset(yaml_path)
    data = {
        "path": str(spec.root),
        **{k: str(v) for k, v in spec.splits.items()},
        "names": dict(enumerate(spec.names)),
    }
    out = Path(work_dir) / "dataset.resolved.yaml"
    write_text_atomic(out, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return out
