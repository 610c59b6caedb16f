"""The whole DAG through kfp.local on a small synthetic sample: artifacts, parity, gate, S3 wiring."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from components.make_sample.core import SampleConfig, make_sample
from pipelines.local_run import run_local
from pipelines.summary import format_summary

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def sample_voc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 images of synthetic task B (the demo's target task)."""
    voc = tmp_path_factory.mktemp("voc") / "sample"
    make_sample(voc, SampleConfig(images=40, seed=1, task="B", imgsz=128))
    return voc


def _onnx_matches_pytorch(onnx_path: Path, best_pt: Path, imgsz: int) -> float:
    """Max abs difference of raw outputs on a real-looking input, computed independently of export."""
    import onnxruntime as ort
    import torch
    from ultralytics import YOLO

    x = np.random.default_rng(0).random((1, 3, imgsz, imgsz), dtype=np.float32)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    onnx_out = session.run(None, {session.get_inputs()[0].name: x})[0]
    model = YOLO(str(best_pt)).model.float().eval()
    with torch.no_grad():
        torch_out = model(torch.from_numpy(x))
    torch_out = (torch_out[0] if isinstance(torch_out, list | tuple) else torch_out).numpy()
    assert onnx_out.shape == torch_out.shape
    return float(np.abs(onnx_out - torch_out).max())


def test_local_run_reads_and_publishes_through_s3(
    sample_voc: Path, s3, s3_env: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """It ingests a tar.gz from S3, checkpoints and publishes to S3, and leaves a parity-checked ONNX model."""
    from moto_s3 import SECRET

    for b in ("datasets", "models", "runs"):
        s3.ensure_bucket(b)
    archive = tmp_path / "sample.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(sample_voc, arcname="sample")
    s3.upload_file(archive, "datasets", "e2e/sample.tar.gz")
    params = {"epochs_frozen": 2, "epochs_finetune": 2, "imgsz": 128, "min_map50_95": 0.0,
              "publish_dest": "s3://models/yolo-e2e", "checkpoint_root": "s3://runs/ckpt"}  # fmt: skip
    result = run_local("s3://datasets/e2e/sample.tar.gz", tmp_path / "out", params)

    assert result.stages["frozen"]["epochs"] == 2 and result.stages["frozen"]["frozen_verified"] is True
    assert result.stages["finetune"]["epochs"] == 2 and result.stages["finetune"]["backbone_changed"] is True
    assert result.onnx_model is not None and result.onnx_model.is_file()
    best = next(result.run_dir.glob("train-model-2/weights/best.pt"))
    assert _onnx_matches_pytorch(result.onnx_model, best, 128) < 1e-2
    export = json.loads((result.onnx_model.parent / "export.json").read_text())
    assert (
        export["parity"]["passed"]
        and export["parity"]["detections_onnx"] == export["parity"]["detections_torch"]
    )
    assert {"pytorch", "onnx"} <= set(result.stages)
    assert result.gate["passed"] is True
    assert result.plan["freeze"] == 10 and result.plan["chosen"]["freeze"] == "auto"
    assert result.plan_json is not None and "plan: two-stage, freeze 10" in format_summary(result)
    names = {p.name for p in result.reports}
    assert any("stats" in n for n in names) and sum("validation" in n for n in names) == 2
    assert all("<img" in p.read_text() for p in result.reports if "validation" in p.name or "stats" in p.name)

    assert result.published and result.published.startswith("s3://models/yolo-e2e/")
    summary = result.run_summary.read_text(encoding="utf-8")
    assert "SUCCEEDED" in summary and "| gate | PASSED on the test split |" in summary
    assert f"published {result.published.rstrip('/').rsplit('/', 1)[-1]} (promoted to production)" in summary
    assert f"published:   {result.published}" in format_summary(result)
    prod = s3.get_json("models", "yolo-e2e/production.json")
    version = prod["version"]
    manifest = s3.get_json("models", f"yolo-e2e/{version}/manifest.json")
    assert {f["name"] for f in manifest["files"]} >= {"model.onnx", "best.pt", "model.json", "metrics.json"}
    ingest_out = json.loads((result.run_dir / "ingest-dataset" / "executor_output.json").read_text())
    fingerprint = ingest_out["parameterValues"]["fingerprint"]
    assert len(fingerprint) == 64 and version.endswith("-" + fingerprint[:12])
    assert manifest["dataset_fingerprint"] == fingerprint
    keys = [o.name for o in s3.list_objects("runs", "ckpt/")]
    assert any(k.endswith("/frozen/checkpoint.json") for k in keys)
    assert any(k.endswith("/finetune/last.pt") for k in keys)

    out, err = capfd.readouterr()
    assert SECRET not in out + err + format_summary(result)
    for f in (tmp_path / "out").rglob("*"):
        if f.is_file() and f.suffix in (".json", ".yaml", ".html", ".md", ".txt", ".csv", ""):
            assert SECRET not in f.read_text(errors="ignore"), f


def test_gate_threshold_of_one_blocks_publishing(sample_voc: Path, tmp_path: Path) -> None:
    """It trains, validates and exports, but a threshold of 1.0 keeps the model out of the registry."""
    params = {"epochs_frozen": 1, "epochs_finetune": 1, "imgsz": 96, "min_map50_95": 1.0}
    result = run_local(sample_voc, tmp_path / "out", params)
    assert result.gate["passed"] is False
    assert "threshold" in result.gate["reason"]
    assert result.published is None
    assert not (tmp_path / "out" / "models").exists() or not any(
        (tmp_path / "out" / "models").rglob("manifest.json")
    )
    assert "BLOCKED" in format_summary(result)


def test_champion_and_challenger_meet_on_the_same_test_split(sample_voc: Path, tmp_path: Path) -> None:
    """A first run publishes; a worse model is refused against it on the same test split; a better one wins."""
    dest = tmp_path / "registry"
    common = {"imgsz": 96, "min_map50_95": 0.0, "publish_dest": str(dest), "seed": 1}
    first = run_local(sample_voc, tmp_path / "r1", {**common, "strategy": "frozen", "epochs_frozen": 1,
                                                    "epochs_finetune": 0})  # fmt: skip
    assert first.gate["passed"] and first.published and "first run" in first.gate["reason"]
    champion = json.loads((dest / "production.json").read_text())["version"]

    worse = run_local(sample_voc, tmp_path / "r2", {**common, "weights": "yolov5n.yaml", "strategy": "full",
                                                    "epochs_frozen": 0, "epochs_finetune": 1})  # fmt: skip
    assert worse.gate["passed"] is False and worse.published is None
    checks = {c["name"]: c for c in worse.gate["checks"]}
    assert checks["threshold"]["passed"] and not checks["champion"]["passed"]
    assert f"champion {champion}" in checks["champion"]["detail"] and worse.gate["split"] == "test"
    assert json.loads((dest / "production.json").read_text())["version"] == champion

    better = run_local(sample_voc, tmp_path / "r3", {**common, "strategy": "two-stage", "epochs_frozen": 3,
                                                     "epochs_finetune": 12})  # fmt: skip
    onnx = better.stages["onnx"]
    assert better.gate["passed"] is True and better.published, better.gate["reason"]
    assert onnx["champion"]["version"] == champion and onnx["map50_95"] >= onnx["champion"]["map50_95"]
    prod = json.loads((dest / "production.json").read_text())
    assert prod["version"] != champion and champion in [h["version"] for h in prod["history"]]
    print(f"champion/challenger verdicts: first: {first.gate['reason']} | worse: {worse.gate['reason']} | "
          f"better: {better.gate['reason']}")  # fmt: skip


def test_a_failed_task_ends_the_run_with_its_one_line_reason(sample_voc: Path, tmp_path: Path) -> None:
    """It names the failed task and the stage's own one-line error, not kfp's "Inner task failed"."""
    from components._shared.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        run_local(sample_voc, tmp_path / "out", {"classes": str(tmp_path / "missing" / "classes.txt")})
    text = str(info.value)
    assert text.startswith("local pipeline run failed in task convert-voc: ConfigError:")
    assert "classes.txt" in text and "\n" not in text
    summary = next((tmp_path / "out" / "kfp").glob("*/summarize-run/run_summary")).read_text(encoding="utf-8")
    assert "FAILED" in summary and "not published: the run failed before the gate" in summary


def test_the_data_is_written_to_the_workspace_once_and_artifacts_are_manifests(
    sample_voc: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It runs the DAG with kfp.local's workspace under --out: the data is there once (every image one
    inode), each Dataset artifact is a small manifest pointing there, and the run trains from it."""
    import types

    from kfp.local import pipeline_orchestrator

    from components._shared.dataset import MANIFEST_FILE, read_manifest
    from pipelines.local_run import WORKSPACE_DIR

    kept: list[str] = []  # kfp.local deletes the workspace when the run ends: keep it to look inside
    monkeypatch.setattr(pipeline_orchestrator, "shutil", types.SimpleNamespace(rmtree=kept.append))
    out = tmp_path / "out"
    result = run_local(sample_voc, out, {"epochs_frozen": 1, "epochs_finetune": 1, "imgsz": 64,
                                         "min_map50_95": 0.0})  # fmt: skip
    workspace = out / WORKSPACE_DIR
    assert kept == [str(workspace)]
    assert result.stages["finetune"]["epochs"] == 1 and result.onnx_model is not None

    artifacts = {p.parent.name: p for p in result.run_dir.glob("*/*") if p.name in ("voc_tree", "yolo_labels",
                                                                                      "yolo_dataset")}  # fmt: skip
    assert set(artifacts) == {"ingest-dataset", "convert-voc", "split-dataset"}
    for task, folder in artifacts.items():
        pointer = ["dataset.yaml"] if task == "split-dataset" else []  # absolute paths into the workspace
        assert sorted(p.name for p in folder.iterdir()) == sorted([MANIFEST_FILE, *pointer]), task
        assert all(p.stat().st_size < 4096 for p in folder.iterdir()), task
        manifest = read_manifest(folder)
        assert manifest is not None and Path(manifest.path).parent == workspace / "yolo-kfp", task
    dataset = read_manifest(artifacts["split-dataset"])
    assert dataset is not None and sum(dataset.counts.values()) == 40 and len(dataset.fingerprint) == 64

    inodes: dict[str, set[int]] = {}
    for image in workspace.rglob("*.jpg"):
        inodes.setdefault(image.stem, set()).add(image.stat().st_ino)
    assert len(inodes) == 40 and all(len(i) == 1 for i in inodes.values()), "each image stored once"
    travelled = [p for p in result.run_dir.rglob("*") if p.stem in inodes]
    assert not travelled, f"no image or label travels as an artifact: {travelled[:3]}"
