"""The compiled pipeline runs end to end under kfp.local's DockerRunner: every task in its own container."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import time
import warnings
from pathlib import Path

import pytest
from container_kit import REPO, Images, docker

pytestmark = pytest.mark.container


def test_the_compiled_pipeline_runs_in_its_images_and_publishes(
    images: Images,
    s3_container_env: dict[str, str],
    shared_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """It compiles the pipeline for the built images, runs it on the tiny sample with the data in moto S3
    (loopback, host network): 8 data tasks and 5 train tasks each in its own container, the gate passes
    and publish promotes the model in S3, manifest last."""
    from kfp import components, local
    from moto_s3 import S3Admin

    from components.make_sample.core import SampleConfig, make_sample
    from pipelines.local_run import SAMPLE_WEIGHTS

    for key, value in s3_container_env.items():
        monkeypatch.setenv(key, value)
    s3 = S3Admin()
    for bucket in ("datasets", "models", "runs"):
        s3.ensure_bucket(bucket)
    make_sample(shared_dir / "voc", SampleConfig(images=40, seed=1, task="B", imgsz=96))
    with tarfile.open(shared_dir / "sample.tar.gz", "w:gz") as tar:
        tar.add(shared_dir / "voc", arcname="sample")
    s3.upload_file(shared_dir / "sample.tar.gz", "datasets", "sample.tar.gz")
    s3.upload_file(SAMPLE_WEIGHTS, "models", "pretrained/task_a.pt")

    package = shared_dir / "pipeline.yaml"
    subprocess.run([sys.executable, "-m", "pipelines.cli", "compile", "--image-registry", images.registry,
                    "--image-tag", images.tag, "--out", str(package)], check=True, cwd=REPO)  # fmt: skip
    root, workspace = shared_dir / "kfp", shared_dir / "workspace"
    for folder in (root, workspace):
        folder.mkdir(mode=0o777)
        folder.chmod(0o777)  # the tasks run as the image's UID 1000
    warnings.filterwarnings("ignore", message=".*have no effect in the current local runner.*")
    local.init(runner=local.DockerRunner(network_mode="host", environment=s3_container_env),
               pipeline_root=str(root), workspace_root=str(workspace), raise_on_error=True)  # fmt: skip
    started = time.perf_counter()
    components.load_component_from_file(str(package))(
        source="s3://datasets/sample.tar.gz",
        weights="s3://models/pretrained/task_a.pt",
        imgsz=96,
        batch=16,
        epochs_frozen=1,
        epochs_finetune=1,
        gpus=0,
        min_map50_95=0.0,
        publish_dest="s3://models/yolo",
        checkpoint_root="s3://runs/ckpt",
    )
    seconds = time.perf_counter() - started

    out = capfd.readouterr().out
    ran = re.findall(r"Found image '([^']+)'", out)
    assert sorted(set(ran)) == [images.data, images.train] and (
        ran.count(images.data),
        ran.count(images.train),
    ) == (8, 5)
    production = s3.get_json("models", "yolo/production.json")
    assert production["gate"]["passed"] is True, production["gate"]
    manifest = s3.get_json("models", f"yolo/{production['version']}/manifest.json")
    assert {f["name"] for f in manifest["files"]} >= {"model.onnx", "best.pt", "model.json"}
    summary = next(root.glob("*/summarize-run/run_summary")).read_text(encoding="utf-8")
    assert "SUCCEEDED" in summary and "(promoted to production)" in summary
    sys.stderr.write(f"pipeline in containers: 13 tasks in {seconds:.0f} s\n")
    assert json.loads(json.dumps(production))["version"] in summary


def test_predict_runs_in_the_data_image_without_torch(
    images: Images, s3_container_env: dict[str, str], shared_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It runs ``yolo-kfp predict`` from the data image (ONNX Runtime; no torch there) on the sample
    checkpoint's export, published to moto S3, reading it back as production (sha256-checked)."""
    from moto_s3 import S3Admin

    from components.export.core import ExportConfig, export_onnx
    from components.make_sample.core import SampleConfig, make_sample
    from components.publish.core import PublishConfig, publish_model
    from pipelines.local_run import SAMPLE_WEIGHTS

    proc = docker(
        "run", "--rm", "--network", "none", images.data, "python", "-c", "import torch", check=False
    )
    assert proc.returncode != 0 and "No module named 'torch'" in proc.stderr
    for key, value in s3_container_env.items():
        monkeypatch.setenv(key, value)
    S3Admin().ensure_bucket("models")
    model = shared_dir / "model"
    export_onnx(SAMPLE_WEIGHTS, model, ExportConfig(imgsz=96, parity_count=1, latency_runs=1))
    (model / "metrics.json").write_text(
        json.dumps({"map50_95": 0.5, "gate": {"passed": True}}), encoding="utf-8"
    )
    publish_model(model, "s3://models/predict-check", PublishConfig(promote=True, version="v1"))
    make_sample(shared_dir / "voc", SampleConfig(images=6, seed=3, task="A", imgsz=96))
    env = [x for key, value in s3_container_env.items() for x in ("-e", f"{key}={value}")]
    docker("run", "--rm", "--network", "host", *env, "-v", f"{shared_dir}:/data", images.data, "yolo-kfp",
           "predict", "--model", "s3://models/predict-check@production", "--source", "/data/voc/JPEGImages",
           "--out", "/data/pred")  # fmt: skip
    report = json.loads((shared_dir / "pred" / "predict.json").read_text(encoding="utf-8"))
    assert len(report["images"]) == 6 and report["detections"] > 0, report
    assert len(list((shared_dir / "pred" / "images").iterdir())) == 6
