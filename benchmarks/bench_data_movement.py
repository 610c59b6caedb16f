"""Data-movement benchmark: bytes copied between the tasks of one run, run workspace versus copy per task.

``ratio`` = bytes moved with the workspace / with a copy per task (goal <= 0.25); method: docs/benchmarks.md.

    python -m benchmarks.bench_data_movement [--images 20000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from benchmarks.common import Goal, log, setup, single, table, write_result

GOAL = 0.25
DATA_TASKS = ("ingest-dataset", "convert-voc", "split-dataset")  # the tasks whose outputs are counted


def folder_bytes(path: Path) -> int:
    """Bytes the launcher moves for an artifact: every file's size (hard links at full size)."""
    from components._shared.dataset import file_list

    return path.stat().st_size if path.is_file() else file_list(path)[1]


def unique_bytes(path: Path) -> int:
    """Bytes a folder occupies: each inode once (hard links share their data)."""
    seen: dict[tuple[int, int], int] = {}
    for folder, _, files in os.walk(path):
        for name in files:
            st = os.stat(os.path.join(folder, name), follow_symlinks=False)
            seen[(st.st_dev, st.st_ino)] = st.st_size
    return sum(seen.values())


def input_bindings(spec: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """Every ``(consumer task, input name, producer task, output key)`` of artifacts, through sub-DAGs."""
    found: list[tuple[str, str, str, str]] = []

    def walk(dag: dict[str, Any], bound: dict[str, tuple[str, str]]) -> None:
        for name, task in dag.get("tasks", {}).items():
            inputs: dict[str, tuple[str, str]] = {}
            for key, src in task.get("inputs", {}).get("artifacts", {}).items():
                if "taskOutputArtifact" in src:
                    out = src["taskOutputArtifact"]
                    inputs[key] = (out["producerTask"], out["outputArtifactKey"])
                elif src.get("componentInputArtifact") in bound:
                    inputs[key] = bound[src["componentInputArtifact"]]
            component = spec["components"][task["componentRef"]["name"]]
            if "dag" in component:
                walk(component["dag"], inputs)
            else:
                found.extend((name, key, *producer) for key, producer in inputs.items())

    walk(spec["root"]["dag"], {})
    return found


def run_data_stages(voc: Path, root: Path, workspace: str) -> dict[tuple[str, str], Path]:
    """Ingest, convert and split through their components; ``(task, output key) -> artifact folder``."""
    from kfp.dsl import Dataset, Markdown

    from benchmarks.direct import artifacts
    from components.convert.component import convert_voc
    from components.ingest.component import ingest_dataset
    from components.split.component import split_dataset

    artifact = artifacts(root)
    voc_tree = artifact(Dataset, "ingest-dataset", "voc_tree")
    # each component's Python function, called in this process as the executor in its pod calls it
    (fingerprint,) = ingest_dataset.python_func(source=str(voc), voc_tree=voc_tree, workspace=workspace)
    labels = artifact(Dataset, "convert-voc", "yolo_labels")
    report = artifact(Markdown, "convert-voc", "convert_report")
    convert_voc.python_func(voc_tree=voc_tree, classes="", include_difficult=False, fingerprint=fingerprint,
                            yolo_labels=labels, convert_report=report, workspace=workspace)  # fmt: skip
    dataset = artifact(Dataset, "split-dataset", "yolo_dataset")
    split_dataset.python_func(yolo_labels=labels, val=0.15, test=0.15, seed=0, group="", yolo_dataset=dataset,
                              workspace=workspace)  # fmt: skip
    return {(task, key): root / task / key for task, key in
            [("ingest-dataset", "voc_tree"), ("convert-voc", "yolo_labels"),
             ("convert-voc", "convert_report"), ("split-dataset", "yolo_dataset")]}  # fmt: skip


def count_moves(
    bindings: list[tuple[str, str, str, str]], folders: dict[tuple[str, str], Path]
) -> dict[str, Any]:
    """Uploads (each artifact once) and downloads (each binding) in bytes, per task and in total."""
    sizes = {k: folder_bytes(p) for k, p in folders.items()}
    uploads = {f"{task}.{key}": size for (task, key), size in sizes.items()}
    downloads: dict[str, int] = {}
    for consumer, name, producer, key in bindings:
        if (producer, key) in sizes:
            downloads[f"{consumer}.{name}"] = sizes[(producer, key)]
    up, down = sum(uploads.values()), sum(downloads.values())
    return {"uploads": uploads, "downloads": downloads, "upload_bytes": up, "download_bytes": down,
            "total_bytes": up + down}  # fmt: skip


def run(min_images: int = 20_000) -> dict[str, Any]:
    """Both designs on the scaled VOC tree; write ``data_movement.json`` and return its record."""
    from benchmarks.bench_data import scaled_voc, scratch_root
    from pipelines.compile import COMPILED

    voc, info = scaled_voc(min_images)
    spec = next(yaml.safe_load_all(COMPILED.read_text(encoding="utf-8")))
    bindings = [b for b in input_bindings(spec) if b[2] in DATA_TASKS]
    designs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-moves-", dir=scratch_root(voc)) as tmp_name:
        tmp = Path(tmp_name)
        for design in ("copies", "workspace"):
            workspace = str(tmp / design / "kfp-workspace") if design == "workspace" else ""
            t0 = time.perf_counter()
            folders = run_data_stages(voc, tmp / design / "artifacts", workspace)
            seconds = time.perf_counter() - t0
            designs[design] = {**count_moves(bindings, folders), "data_stage_seconds": round(seconds, 1)}
            if workspace:
                designs[design]["workspace"] = {"bytes_on_disk": unique_bytes(Path(workspace)),
                                                "bytes_listed": folder_bytes(Path(workspace)),
                                                "source_bytes": unique_bytes(voc)}  # fmt: skip
    copies, ours = designs["copies"]["total_bytes"], designs["workspace"]["total_bytes"]
    rows = [(f"{d}: {kind}", r[f"{kind}_bytes"] / 1e6) for d, r in designs.items()
            for kind in ("upload", "download", "total")]  # fmt: skip
    table(
        f"data_movement: bytes between tasks, one run, {info['images']} images (MB)", ("design", "MB"), rows
    )
    return write_result(
        "data_movement", repeats=single(ours, copies), unit="bytes", goal=Goal("<=", GOAL),
        baseline_is="the same run with a copy of the data per task (components called with workspace='')",
        repeats_why="bytes of the same files: the same in every run, so measured once", dataset=info,
        counted=f"artifacts of {', '.join(DATA_TASKS)} and every task input bound to them "
        "(compiled pipeline); model, metrics and report artifacts are the same in both designs",
        consumers=sorted({c for c, _, _, _ in bindings}), designs=designs,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.bench_data_movement``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=20_000, help="at least this many images (default 20000)")
    a = p.parse_args(argv)
    setup()
    t0 = time.perf_counter()
    run(a.images)
    log.info("data_movement done in %.0f s", time.perf_counter() - t0)


if __name__ == "__main__":
    main()
