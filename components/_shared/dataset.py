"""The dataset hand-over between stages: the split folder, its manifest in a run workspace, and the
YOLO label format. Layout: ``components/split/README.md`` ("Output"); consumers read it with
``load_dataset`` and hand Ultralytics ``resolve_dataset_yaml``'s copy with absolute locations.
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
JPEG_START, JPEG_END = b"\xff\xd8\xff", b"\xff\xd9"  # SOI and the first marker byte; EOI


@dataclass(frozen=True)
class DatasetManifest:
    """What a Dataset artifact holds when the data is in the run's workspace (fields: split README.md)."""

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
    """Whether a JPEG lacks the final EOI marker ``FF D9`` (Ultralytics' ``check_image`` re-saves or drops
    it); ``None`` for other files. Reads 5 bytes; ``OSError`` when it cannot."""
    with open(path, "rb") as fh:
        if fh.read(len(JPEG_START)) != JPEG_START:
            return None
        fh.seek(-len(JPEG_END), os.SEEK_END)
        return fh.read(len(JPEG_END)) != JPEG_END


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


def data_output(artifact_dir: Path, workspace: str, name: str) -> Path:
    """Where a stage writes its data: ``<workspace>/yolo-kfp/<name>`` in a run with a workspace, else the
    artifact folder itself (the data then travels as the artifact, as in a pipeline without one)."""
    return Path(workspace) / WORKSPACE_SUBDIR / name if workspace else Path(artifact_dir)


def hand_over(
    artifact_dir: Path,
    data_dir: Path,
    *,
    stage: str,
    fingerprint: str = "",
    counts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Metadata for a stage's Dataset artifact; for data in the workspace, also write the manifest (and,
    for a split dataset, a ``dataset.yaml`` with absolute locations, for consumers that open it directly)
    into the artifact folder and add the manifest to the metadata."""
    data_dir, artifact_dir = Path(data_dir).resolve(), Path(artifact_dir)
    if data_dir == artifact_dir.resolve():
        return {}
    files, size, digest = file_list(data_dir)
    manifest = DatasetManifest(str(data_dir), stage, fingerprint, files, size, digest, dict(counts or {}))
    artifact_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(artifact_dir / MANIFEST_FILE, manifest.to_dict())
    if (data_dir / "dataset.yaml").is_file():
        resolve_dataset_yaml(data_dir, artifact_dir).replace(artifact_dir / "dataset.yaml")
    return {"manifest": manifest.to_dict()}


def read_manifest(folder: Path) -> DatasetManifest | None:
    """The manifest in ``folder`` (or beside a file in it), or None; ``DatasetError`` when malformed."""
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
    """The data a path stands for: a manifest folder (or a missing file in one) leads to the workspace
    folder it names (or the same file in it); ``DatasetError`` when that folder is gone (another run's)."""
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


def label_path(image: str | os.PathLike[str]) -> Path:
    """The YOLO label file of an image, as Ultralytics' ``img2label_paths`` finds it: the last
    ``/images/`` of the path becomes ``/labels/`` and the suffix ``.txt``."""
    head, sep, tail = os.fspath(image).rpartition(f"{os.sep}images{os.sep}")
    path = f"{head}{os.sep}labels{os.sep}{tail}" if sep else tail
    return Path(os.path.splitext(path)[0] + ".txt")


# One YOLO box: class id, then centre x, centre y, width and height as fractions of the image side.
Box = tuple[int, float, float, float, float]


def parse_label_line(line: str, n_classes: int) -> Box | None:
    """One YOLO label line as a ``Box`` (``None`` for a blank line); a polygon becomes its bounding box.

    Raises:
        ValueError: why the line is no box (bad class id, a value that is no number, wrong value count).
    """
    fields = line.split()
    if not fields:
        return None
    try:
        c = int(fields[0])
    except ValueError:
        c = -1
    if not 0 <= c < n_classes:
        raise ValueError(f"class id {fields[0]!r} is not an integer in [0, {n_classes})")
    try:
        v = [float(x) for x in fields[1:]]
    except ValueError:
        raise ValueError(f"values {' '.join(fields[1:])!r:.60} are not all numbers") from None
    if len(v) > 4 and len(v) % 2 == 0:  # a segment: x1 y1 x2 y2 ...
        xs, ys = v[0::2], v[1::2]
        return c, (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2, max(xs) - min(xs), max(ys) - min(ys)
    if len(v) != 4:
        raise ValueError(f"{len(v)} values after the class id; a box has 4 (cx cy w h), a polygon 6, 8, ...")
    return c, v[0], v[1], v[2], v[3]


def read_label_file(path: str | os.PathLike[str], n_classes: int) -> tuple[list[Box], list[str]] | None:
    """The boxes of a YOLO label file and ``line N: why`` per bad line; ``None`` when there is no file."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as err:
        return [], [f"not UTF-8 text (byte {err.start})"]
    boxes, errors = [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        try:
            box = parse_label_line(line, n_classes)
        except ValueError as err:
            errors.append(f"line {lineno}: {err}")
            continue
        if box is not None:
            boxes.append(box)
    return boxes, errors


def load_dataset(yaml_path: Path) -> DatasetSpec:
    """Parse and check a ``dataset.yaml`` (or its folder, or a manifest of either).

    A hand-edited file is checked as strictly as one split wrote; ``path`` and every list file must lie
    inside the dataset folder, so a YAML can never make a stage read, and report, files elsewhere.

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
