"""The run workspace: ingest, convert and split write the data there once; artifacts are manifests that
every consumer follows (``components/_shared/dataset.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kfp.dsl import Dataset, Markdown

from components._shared.dataset import (
    MANIFEST_FILE,
    file_list,
    follow_manifest,
    load_dataset,
    read_manifest,
    resolve_dataset_yaml,
)
from components._shared.errors import DatasetError
from components.convert.component import convert_voc
from components.ingest.component import ingest_dataset
from components.make_sample.core import SampleConfig, make_sample
from components.split.component import split_dataset


def _artifact(kind: type, root: Path, key: str) -> Dataset:
    return kind(name=key, uri=str(root / key), metadata={})


def _data_stages(voc: Path, root: Path, workspace: str) -> dict[str, Dataset]:
    """Call the three data components as their pods do; return their Dataset artifacts."""
    tree, labels, dataset = (_artifact(Dataset, root, k) for k in ("voc_tree", "yolo_labels", "yolo_dataset"))
    (fingerprint,) = ingest_dataset.python_func(source=str(voc), voc_tree=tree, workspace=workspace)
    convert_voc.python_func(voc_tree=tree, classes="", include_difficult=False, fingerprint=fingerprint,
                            yolo_labels=labels, convert_report=_artifact(Markdown, root, "report"),
                            workspace=workspace)  # fmt: skip
    split_dataset.python_func(yolo_labels=labels, val=0.2, test=0.2, seed=0, group="", yolo_dataset=dataset,
                              workspace=workspace)  # fmt: skip
    return {"voc_tree": tree, "yolo_labels": labels, "yolo_dataset": dataset}


@pytest.fixture(scope="module")
def voc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("voc") / "sample"
    make_sample(path, SampleConfig(images=30, seed=0, task="B", imgsz=64))
    return path


def test_data_is_written_to_the_workspace_once_and_artifacts_are_manifests(voc: Path, tmp_path: Path) -> None:
    """It leaves only a manifest in each Dataset artifact, and every image in the workspace is one inode."""
    ws = tmp_path / "ws"
    arts = _data_stages(voc, tmp_path / "artifacts", str(ws))
    for key, art in arts.items():
        pointer = ["dataset.yaml"] if key == "yolo_dataset" else []  # absolute paths into the workspace
        assert sorted(p.name for p in Path(art.path).iterdir()) == sorted([MANIFEST_FILE, *pointer]), key
        assert art.metadata["manifest"]["path"].startswith(str(ws)), key
    manifest = read_manifest(Path(arts["yolo_dataset"].path))
    assert manifest is not None and manifest.stage == "split"
    assert (
        manifest.fingerprint == arts["voc_tree"].metadata["fingerprint"] and len(manifest.fingerprint) == 64
    )
    assert sum(manifest.counts.values()) == 30
    assert (manifest.files, manifest.bytes, manifest.file_list_sha256) == file_list(Path(manifest.path))
    inodes: dict[str, set[int]] = {}
    for image in ws.rglob("*.jpg"):
        inodes.setdefault(image.stem, set()).add(image.stat().st_ino)
    assert len(inodes) == 30 and all(len(i) == 1 for i in inodes.values())  # voc, converted, dataset: links


def test_consumers_read_the_same_dataset_through_a_manifest(voc: Path, tmp_path: Path) -> None:
    """It gives load_dataset and resolve_dataset_yaml the same data from a manifest as from the folder."""
    ws = _data_stages(voc, tmp_path / "ws-run", str(tmp_path / "ws"))["yolo_dataset"]
    copy = _data_stages(voc, tmp_path / "copy-run", "")["yolo_dataset"]
    assert (Path(copy.path) / "dataset.yaml").is_file() and "manifest" not in copy.metadata
    via_manifest, direct = load_dataset(Path(ws.path)), load_dataset(Path(copy.path))
    assert via_manifest.names == direct.names
    for split in ("train", "val", "test"):
        assert [p.name for p in via_manifest.images(split)] == [p.name for p in direct.images(split)]
        assert all(p.is_file() for p in via_manifest.images(split))
    # export passes "<artifact>/dataset.yaml": it exists and names the same files in the workspace
    pointer = load_dataset(Path(ws.path) / "dataset.yaml")
    assert pointer.root == via_manifest.root and pointer.splits == via_manifest.splits
    resolved = resolve_dataset_yaml(Path(ws.path), tmp_path / "work")
    assert str(tmp_path / "ws") in resolved.read_text(encoding="utf-8")


def test_a_manifest_of_another_runs_workspace_fails_with_the_fix(tmp_path: Path) -> None:
    """It names the missing workspace folder and says to re-run the data stages (a stale cache hit)."""
    art = tmp_path / "yolo_dataset"
    art.mkdir()
    (art / MANIFEST_FILE).write_text(json.dumps({"path": str(tmp_path / "gone"), "stage": "split"}))
    with pytest.raises(DatasetError, match="re-run the data stages"):
        load_dataset(art)
    assert follow_manifest(tmp_path) == tmp_path  # a folder without a manifest stands for itself
