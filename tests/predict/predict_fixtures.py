"""Constants and a published-dest builder shared by the predict tests (a unique module name: not conftest)."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE_PT = REPO / "pipelines" / "sample" / "pretrained_task_a.pt"
CLASSES = ("circle", "square", "triangle")
IMGSZ = 160  # the checkpoint's training size


def publish_version(dest: Path, version: str, model: Path, *, promote: bool = True) -> Path:
    """Lay out ``dest/<version>/`` (model.onnx and its manifest) and, when ``promote``, production.json."""
    from components._shared.storage import file_digests

    folder = dest / version
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(model.read_bytes())
    size, sha, _ = file_digests(folder / "model.onnx")
    manifest = {"files": [{"name": "model.onnx", "size": size, "sha256": sha}], "classes": list(CLASSES)}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    if promote:
        pointer = {
            "version": version,
            "manifest_sha256": file_digests(folder / "manifest.json")[1],
            "history": [],
        }
        (dest / "production.json").write_text(json.dumps(pointer), encoding="utf-8")
    return folder
