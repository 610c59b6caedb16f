"""The dataset hand-over format between stages (split -> stats/train/validate/export).

A split dataset is a self-contained folder, so it survives being copied between KFP tasks:

    dataset.yaml      Ultralytics format; ``path: .`` (relative to this file), train/val[/test] lists, names
    train.txt         one ``./images/<name>`` per line (Ultralytics resolves ``./`` against the list's folder)
    val.txt, test.txt
    images/, labels/  hard links to the converted images and YOLO label files
    classes.txt       one class name per line

Ultralytics resolves a relative ``path`` against its own datasets folder, so consumers call
``resolve_dataset_yaml`` to get a copy with the absolute location filled in.

In the pipeline the data itself lives in the run's workspace (a PVC every task mounts, written once by
ingest, convert and split) and the KFP Dataset artifact is a *manifest*: a folder holding only
``dataset-manifest.json`` (``DatasetManifest``: where the data is, its fingerprint, file count, bytes
and a hash of the file list). ``load_dataset`` and ``follow_manifest`` follow a manifest to the data,
so a stage given either the data folder or its manifest reads the same files.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components._shared.errors import ConfigError, DatasetError
from components._shared.fsio import write_json_atomic, write_text_atomic
from components._shared.safe_yaml import read_user_yaml

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
MANIFEST_FILE = "dataset-manifest.json"
MANIFEST_KIND = "yolo-kfp/dataset-manifest/v1"
WORKSPACE_SUBDIR = "yolo-kfp"  # everything this pipeline writes in the run's workspace goes under here
# Ultralytics' check_image (ultralytics/data/utils.py, 8.4) drops an image whose side is below this.
TRAINER_MIN_SIDE = 10


@dataclass(frozen=True)
class DatasetManifest:
    """What a Dataset artifact holds when the data itself is in the run's workspace.

    Attributes:
        path: absolute path of the data folder in the workspace.
        stage: the stage that wrote it (``ingest``, ``convert``, ``split``).
        fingerprint: the ingested source's fingerprint (lineage; empty when unknown).
        files: number of files under ``path``.
        bytes: their total size (hard links counted at full size, as a download would).
        file_list_sha256: sha256 over the sorted ``relative path, size`` lines of those files.
        counts: the stage's own counts (images per split, ...).
    """

    path: str
    stage: str
    fingerprint: str = ""
    files: int = 0
    bytes: int = 0
    file_list_sha256: str = ""
    counts: dict[str, Any] = field(default_factory=dict)
    kind: str = MANIFEST_KIND

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (also the artifact's metadata)."""
        return asdict(self)


def jpeg_lacks_end_marker(path: str | os.PathLike[str]) -> bool | None:
    """Whether a JPEG file does not end in the EOI marker (``FF D9``); ``None`` for other files.

    Ultralytics' ``check_image`` re-saves such a JPEG (trailing bytes) or drops it (a truncated one), so
    convert and stats look for it; only the first 3 and last 2 bytes are read.

    Raises:
        OSError: the file cannot be read.
    """
    with open(path, "rb") as fh:
        if fh.read(3) != b"\xff\xd8\xff":
            return None
        fh.seek(-2, os.SEEK_END)
        return fh.read(2) != b"\xff\xd9"


def workspace_dir(workspace: str | os.PathLike[str], name: str) -> Path:
    """Where stage ``name`` keeps its data in a run workspace: ``<workspace>/yolo-kfp/<name>``."""
    return Path(workspace) / WORKSPACE_SUBDIR / name


def file_list(data_dir: Path) -> tuple[int, int, str]:
    """``(files, bytes, sha256 of the sorted "relative path\\tsize" lines)`` of every file under ``data_dir``."""
    lines: list[str] = []
    total = 0
    stack = [(os.fspath(data_dir), "")]
    while stack:
        folder, rel = stack.pop()
        with os.scandir(folder) as entries:
            for e in entries:
                name = f"{rel}{e.name}"
                if e.is_dir(follow_symlinks=False):
                    stack.append((e.path, name + "/"))
                elif e.is_file(follow_symlinks=False):
                    size = e.stat(follow_symlinks=False).st_size
                    total += size
                    lines.append(f"{name}\t{size}\n")
    lines.sort()
    return len(lines), total, hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()


def write_manifest(
    artifact_dir: Path,
    data_dir: Path,
    *,
    stage: str,
    fingerprint: str = "",
    counts: dict[str, Any] | None = None,
) -> DatasetManifest:
    """Write ``artifact_dir/dataset-manifest.json`` describing ``data_dir`` and return it."""
    data_dir = Path(data_dir).resolve()
    files, size, digest = file_list(data_dir)
    manifest = DatasetManifest(str(data_dir), stage, fingerprint, files, size, digest, dict(counts or {}))
    Path(artifact_dir).mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(artifact_dir) / MANIFEST_FILE, manifest.to_dict())
    return manifest


def data_output(artifact_dir: Path, workspace: str, name: str) -> Path:
    """Where a stage writes its data: ``<workspace>/yolo-kfp/<name>`` in a run with a workspace, else the
    artifact folder itself (the data then travels as the artifact, as in a pipeline without one)."""
    return workspace_dir(workspace, name) if workspace else Path(artifact_dir)


def hand_over(
    artifact_dir: Path,
    data_dir: Path,
    *,
    stage: str,
    fingerprint: str = "",
    counts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Metadata for a stage's Dataset artifact; when the data is not in the artifact folder itself (it is
    in the workspace), also write the manifest there and add it to the metadata as ``manifest``.

    A split dataset's artifact also gets a ``dataset.yaml`` with absolute locations in the workspace, so a
    consumer that opens ``<artifact>/dataset.yaml`` directly (export's parity images, Ultralytics) reads
    the same data.
    """
    if Path(data_dir).resolve() == Path(artifact_dir).resolve():
        return {}
    manifest = write_manifest(artifact_dir, data_dir, stage=stage, fingerprint=fingerprint, counts=counts)
    if (Path(data_dir) / "dataset.yaml").is_file():
        resolve_dataset_yaml(Path(data_dir), Path(artifact_dir)).replace(Path(artifact_dir) / "dataset.yaml")
    return {"manifest": manifest.to_dict()}


def read_manifest(folder: Path) -> DatasetManifest | None:
    """The manifest in ``folder`` (or beside a file in it), or None when there is none.

    Raises:
        DatasetError: the manifest is not valid JSON or lacks ``path``.
    """
    folder = Path(folder)
    path = folder / MANIFEST_FILE
    if not path.is_file():
        path = folder.parent / MANIFEST_FILE
        if folder.exists() or not path.is_file():
            return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        known = {k: data[k] for k in DatasetManifest.__dataclass_fields__ if k in data}
        return DatasetManifest(**known)
    except (ValueError, TypeError) as err:
        raise DatasetError(
            f"{path}: not a dataset manifest ({err.__class__.__name__}); re-run the stage"
        ) from err


def follow_manifest(path: Path) -> Path:
    """The data a path stands for: a manifest folder (or a missing file inside one) leads to the
    workspace folder it names (the same file name inside it); anything else is returned unchanged.

    Raises:
        DatasetError: the manifest names a folder that does not exist (the workspace of another run,
            or of a run that has ended).
    """
    path = Path(path)
    manifest = read_manifest(path)
    if manifest is None:
        return path
    target = Path(manifest.path)
    if not target.is_dir():
        raise DatasetError(
            f"{path}: the dataset manifest points at {target}, which does not exist: the data lives in the "
            "workspace of the run that wrote it (a cached task of another run, or a run that has ended); "
            "re-run the data stages in this run"
        )
    return target if path.is_dir() else target / path.name


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
    """Parse and check a ``dataset.yaml`` (or its folder, or a manifest of either).

    A hand-edited file is checked as strictly as one split wrote: ``names`` is a list of one-line names
    or a mapping with the keys 0..n-1; ``train``/``val``/``test`` are each one list file; ``path`` and
    every list file lie inside the dataset folder (the folder holding the YAML, or the one a dataset
    manifest beside it names), so a YAML can never make a stage read, and report, files elsewhere
    (``path: /etc``).

    Raises:
        DatasetError: one line naming the file, the key and the fix, when the YAML is unusable.
    """
    yaml_path = follow_manifest(Path(yaml_path))
    if yaml_path.is_dir():
        yaml_path = yaml_path / "dataset.yaml"
    if not yaml_path.is_file():
        raise DatasetError(f"{yaml_path}: dataset YAML not found (run 'yolo-kfp split' to create it)")
    try:  # a hand-edited dataset.yaml is user input: no aliases (a YAML bomb), bounded size and depth
        data = read_user_yaml(yaml_path)
    except ConfigError as err:
        raise DatasetError(str(err)) from None
    if not isinstance(data, dict) or "names" not in data or "train" not in data or "val" not in data:
        raise DatasetError(f"{yaml_path}: needs 'train', 'val' and 'names' keys (Ultralytics dataset format)")
    # the dataset folder: the YAML's own, or the workspace folder a manifest beside it names (the
    # dataset.yaml that hand_over writes into an artifact points there)
    manifest = read_manifest(yaml_path.parent)
    home = Path(manifest.path if manifest else yaml_path.parent).resolve()
    root = _inside(home, home / str(data.get("path") or "."), yaml_path, "path")
    names = _class_names(data["names"], yaml_path)
    splits = {}
    for split in ("train", "val", "test"):
        rel = data.get(split)
        if not rel:
            continue
        if not isinstance(rel, str):
            raise DatasetError(
                f"{yaml_path}: {split!r} must be one list file (e.g. {split}.txt), not "
                f"{type(rel).__name__} {rel!r}; merge the lists into one file"
            )
        p = _inside(home, root / rel, yaml_path, split)
        if not p.is_file():
            raise DatasetError(f"{yaml_path}: {split} list {p} does not exist")
        splits[split] = p
    return DatasetSpec(yaml_path=yaml_path, root=root, names=names, splits=splits)


def _inside(home: Path, path: Path, yaml_path: Path, key: str) -> Path:
    """``path`` resolved (links followed), refused unless it is ``home`` or lies inside it."""
    resolved = path.resolve()
    if resolved != home and home not in resolved.parents:
        raise DatasetError(
            f"{yaml_path}: {key!r} points at {resolved}, outside the dataset folder {home}; "
            "keep the data and lists beside dataset.yaml (path: .)"
        )
    return resolved


def _class_names(names: object, yaml_path: Path) -> tuple[str, ...]:
    """``names`` as a tuple of one-line strings, in id order; one-line ``DatasetError`` otherwise."""
    if isinstance(names, str):
        raise DatasetError(
            f"{yaml_path}: 'names' is the string {names[:40]!r}, which would be read as one class per "
            "character; write a list, e.g. names: [star]"
        )
    if isinstance(names, dict):
        keys = list(names)
        if any(type(k) is not int for k in keys) or sorted(keys) != list(range(len(keys))):
            raise DatasetError(
                f"{yaml_path}: 'names' keys must be the integers 0..{len(keys) - 1}, got "
                f"{', '.join(repr(k) for k in keys[:10])}; number the classes 0, 1, ..."
            )
        names = [names[k] for k in range(len(keys))]
    if not isinstance(names, list) or not names:
        raise DatasetError(
            f"{yaml_path}: 'names' must be a list of class names or an id -> name mapping, not "
            f"{names!r:.40}; e.g. names: [helmet, head]"
        )
    for i, n in enumerate(names):
        if not isinstance(n, str | int | float) or isinstance(n, bool):
            raise DatasetError(f"{yaml_path}: 'names': class {i} is {n!r:.40}; give every class a name")
        if str(n) != " ".join(str(n).split()) or not str(n):
            raise DatasetError(
                f"{yaml_path}: 'names': class {i} {str(n)!r:.60} must be one line without outer or "
                "repeated whitespace"
            )
    return tuple(str(n) for n in names)


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
