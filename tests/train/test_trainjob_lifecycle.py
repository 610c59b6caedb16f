"""A TrainJob's life against a loopback fake of the Kubernetes API: create, follow, fail, cancel, clean up."""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from _crd import TRAINJOB_CRD, crd_validator, errors

from components._shared.errors import ConfigError
from components.train.core import TrainConfig
from components.train.stage import run_distributed_stage
from components.train.trainjob import (
    KubeApiError,
    KubeClient,
    TrainJobCancelled,
    TrainJobError,
    TrainJobSpec,
    render_trainjob,
    run_trainjob,
)

NS = "yolo-kfp"
JOBS = f"/apis/trainer.kubeflow.org/v1alpha1/namespaces/{NS}/trainjobs"
FAST = dict(poll_s=0.02, timeout_s=10.0)


@dataclass
class FakeKube:
    """The handful of endpoints a training task calls, with a scripted TrainJob outcome.

    ``outcome`` is ``Complete``, ``Failed`` or ``None`` (runs until deleted); it is reached after
    ``polls`` GETs of the TrainJob. ``on_complete`` runs once when it completes (rank 0 writing outputs).
    """

    outcome: str | None = "Complete"
    polls: int = 3
    create_status: int = 201
    on_complete: Any = None
    jobs: dict[str, dict] = field(default_factory=dict)
    created: list[dict] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    gets: int = 0
    own_pod: dict | None = None

    def pods(self, name: str) -> list[dict]:
        job = self.jobs.get(name)
        if not job or self.gets < 2:
            return []
        done = next((c["type"] for c in job.get("status", {}).get("conditions", [])), None)
        phase = {"Complete": "Succeeded", "Failed": "Failed"}.get(done, "Running")
        return [
            {"metadata": {"name": f"{name}-node-{i}-0-abcde"}, "status": {"phase": phase}}
            for i in range(job["spec"]["trainer"]["numNodes"])
        ]

    def advance(self, name: str) -> dict:
        job = self.jobs[name]
        self.gets += 1
        if self.outcome and self.gets >= self.polls and not job.get("status"):
            reason = {"Complete": "JobsCompleted", "Failed": "BackoffLimitExceeded"}[self.outcome]
            cond = {
                "type": self.outcome,
                "status": "True",
                "reason": reason,
                "message": f"jobset {reason}\nx",
            }
            if self.outcome == "Complete" and self.on_complete:
                self.on_complete(job)
            job["status"] = {
                "conditions": [{"type": "Created", "status": "True", "reason": "JobsCreated"}, cond]
            }
            job["status"]["conditions"].reverse()  # the final condition first, as _pods() reads it
        return job


def _handler(fake: FakeKube) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # quiet
            pass

        def _send(self, code: int, body: Any, text: bool = False) -> None:
            data = body.encode() if text else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain" if text else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            n = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(n)) if n else None

        def do_POST(self) -> None:
            body = self._body()
            if self.path != JOBS:
                return self._send(404, {"message": "not found"})
            if fake.create_status != 201:
                return self._send(fake.create_status, {"message": "trainjobs is forbidden: no RBAC"})
            name = body["metadata"]["name"]
            if name in fake.jobs:
                return self._send(409, {"message": f'trainjobs "{name}" already exists'})
            fake.created.append(body)
            fake.jobs[name] = json.loads(json.dumps(body))
            self._send(201, body)

        def do_GET(self) -> None:
            url = urllib.parse.urlparse(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            parts = url.path.split("/")
            if url.path.startswith(JOBS + "/"):
                name = parts[-1]
                return self._send(200, fake.advance(name)) if name in fake.jobs else self._send(404, {})
            if url.path == f"/api/v1/namespaces/{NS}/pods":
                name = query["labelSelector"].split("=", 1)[1]
                return self._send(200, {"items": fake.pods(name)})
            if url.path.endswith("/log"):
                lines = [f"epoch {i}/3 mAP50-95 0.{i}" for i in range(1, 4)]
                return self._send(200, "\n".join(lines) + "\n", text=True)
            if url.path.startswith(f"/api/v1/namespaces/{NS}/pods/") and fake.own_pod:
                return self._send(200, fake.own_pod)
            self._send(404, {"message": "not found"})

        def do_DELETE(self) -> None:
            self._body()
            name = self.path.rsplit("/", 1)[-1]
            if fake.jobs.pop(name, None) is None:
                return self._send(404, {"message": "not found"})
            fake.deleted.append(name)
            self._send(200, {"status": "Success"})

    return Handler


@pytest.fixture
def kube() -> Iterator[tuple[FakeKube, KubeClient]]:
    """A fake API server on 127.0.0.1 (its own thread) and a client of it."""
    fake = FakeKube()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake, KubeClient(f"http://127.0.0.1:{server.server_port}", NS, timeout=5.0)
    finally:
        server.shutdown()
        server.server_close()


def _manifest(nodes: int = 2) -> dict:
    return render_trainjob(
        TrainJobSpec(name="yolo-frozen-0123456789", train_args=("--epochs", "3"), image="img:1", nodes=nodes)
    )


def test_trainjob_is_created_and_followed_to_success(kube, caplog: pytest.LogCaptureFixture):
    """It creates the TrainJob in the task's namespace, logs its conditions, pods and rank 0's log, and keeps it."""
    fake, client = kube
    caplog.set_level(logging.INFO, logger="components.train.trainjob")
    job = run_trainjob(client, _manifest(), **FAST)
    assert job["status"]["conditions"][0]["type"] == "Complete"
    (created,) = fake.created
    assert created["metadata"]["namespace"] == NS and created["spec"]["trainer"]["numNodes"] == 2
    text = caplog.text
    assert "TrainJob yolo-kfp/yolo-frozen-0123456789 created: 2 node(s)" in text
    assert "Complete=True JobsCompleted" in text
    assert "yolo-frozen-0123456789-node-0-0-abcde=Running" in text
    assert "[yolo-frozen-0123456789-node-0-0-abcde] epoch 3/3 mAP50-95 0.3" in text
    assert fake.deleted == [] and "yolo-frozen-0123456789" in fake.jobs


def test_failed_trainjob_fails_the_task_with_one_line_and_is_deleted(kube, caplog: pytest.LogCaptureFixture):
    """It raises TrainJobError (one line, with the reason), logs the failed pods' last lines, deletes the job."""
    fake, client = kube
    fake.outcome = "Failed"
    with pytest.raises(TrainJobError) as err:
        run_trainjob(client, _manifest(), **FAST)
    message = str(err.value)
    assert "\n" not in message
    assert "yolo-frozen-0123456789 failed: BackoffLimitExceeded: jobset BackoffLimitExceeded x" in message
    assert fake.deleted == ["yolo-frozen-0123456789"]
    assert any(r.levelno == logging.ERROR and "epoch 3/3" in r.getMessage() for r in caplog.records)


def test_sigterm_deletes_the_trainjob_and_cancels_the_task(kube):
    """It turns SIGTERM (run cancelled) into TrainJobCancelled after deleting the TrainJob."""
    fake, client = kube
    fake.outcome = None  # runs until someone deletes it
    before = signal.getsignal(signal.SIGTERM)
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        with pytest.raises(TrainJobCancelled):
            run_trainjob(client, _manifest(), **FAST)
    finally:
        timer.cancel()
    assert fake.deleted == ["yolo-frozen-0123456789"]
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_retried_task_adopts_its_existing_trainjob(kube, caplog: pytest.LogCaptureFixture):
    """It follows the TrainJob a previous attempt created (409 on create) instead of failing."""
    fake, client = kube
    fake.jobs["yolo-frozen-0123456789"] = json.loads(json.dumps(_manifest()))
    caplog.set_level(logging.INFO, logger="components.train.trainjob")
    run_trainjob(client, _manifest(), **FAST)
    assert fake.created == [] and "exists (a retried task)" in caplog.text


def test_forbidden_create_is_one_line_naming_the_rbac_fix(kube):
    """It reports a 403 as one line that points at k8s/base/trainjob-rbac.yaml."""
    fake, client = kube
    fake.create_status = 403
    with pytest.raises(KubeApiError) as err:
        run_trainjob(client, _manifest(), **FAST)
    assert err.value.status == 403 and "trainjob-rbac.yaml" in str(err.value) and "\n" not in str(err.value)


def test_a_trainjob_past_its_timeout_is_deleted(kube):
    """It gives up after timeout_s, deletes the TrainJob and says so."""
    fake, client = kube
    fake.outcome = None
    with pytest.raises(TrainJobError, match="did not finish within"):
        run_trainjob(client, _manifest(), poll_s=0.02, timeout_s=0.2)
    assert fake.deleted == ["yolo-frozen-0123456789"]


# ---------------------------------------------------------------- the training task's multi-node path


def _rank_zero_writes_outputs(job: dict) -> None:
    """What `yolo-kfp train` on rank 0 leaves in --out (enough for the task to report)."""
    args = job["spec"]["trainer"]["args"]
    out = Path(args[args.index("--out") + 1])
    out.mkdir(parents=True)
    (out / "best.pt").write_bytes(b"best")
    (out / "last.pt").write_bytes(b"last")
    (out / "report.html").write_text("<html></html>")
    (out / "results.csv").write_text("epoch\n1\n")
    metrics = {
        "stage": "frozen", "architecture": "yolov5n", "map50": 0.5, "map50_95": 0.25, "precision": 0.6,
        "recall": 0.4, "epochs": 3, "epochs_this_run": 3, "resumed_from_epoch": None, "seconds_per_epoch": 1.0,
        "seconds": 3.0, "device": "0", "total_params": 100, "trainable_params": 60, "frozen_params": 40,
        "frozen_verified": True, "backbone_changed": False, "backbone_max_abs_change": 0.0,
        "backbone_max_abs_change_fp32": 0.0, "names": ["helmet", "head"], "world_size": 4,
    }  # fmt: skip
    (out / "metrics.json").write_text(json.dumps(metrics))


@dataclass
class _TaskConfig:
    """The fields of kfp.dsl.TaskConfig the stage reads (no kfp import needed)."""

    resources: dict | None = None
    env: list | None = None
    volumes: list | None = None
    volume_mounts: list | None = None
    tolerations: list | None = None
    node_selector: dict | None = None
    affinity: dict | None = None


def _inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    data = tmp_path / "artifacts" / "yolo_dataset"
    (data / "images").mkdir(parents=True)
    (data / "dataset.yaml").write_text("path: .\ntrain: images\nval: images\nnames: [helmet, head]\n")
    weights = tmp_path / "artifacts" / "pretrained"
    weights.mkdir()
    (weights / "yolov5nu.pt").write_bytes(b"pt")
    workspace = tmp_path / "kfp-workspace"
    workspace.mkdir()
    return data, weights, workspace


def test_multi_node_stage_returns_the_same_model_artifact(kube, tmp_path: Path):
    """It stages the inputs on the workspace, runs the TrainJob, and copies rank 0's outputs into the artifact."""
    fake, client = kube
    fake.on_complete = _rank_zero_writes_outputs
    data, weights, workspace = _inputs(tmp_path)
    task = _TaskConfig(
        resources={"limits": {"nvidia.com/gpu": "8", "memory": "32Gi"}, "requests": {"cpu": "4"}},
        volumes=[{"name": "kfp-workspace", "persistentVolumeClaim": {"claimName": "r-kfp-workspace"}}],
        volume_mounts=[{"name": "kfp-workspace", "mountPath": str(workspace)}],
    )
    cfg = TrainConfig(freeze=10, epochs=3, imgsz=64, batch=8, stage_name="frozen")
    out = tmp_path / "artifacts" / "weights"
    result = run_distributed_stage(
        data, weights, out, cfg, nodes=4, workspace_path=str(workspace), run_id="run-1", image="img:1",
        task_config=task, client=client, **FAST,
    )  # fmt: skip
    assert (result.map50_95, result.names, result.frozen_verified) == (0.25, ("helmet", "head"), True)
    assert {p.name for p in out.iterdir()} == {
        "best.pt",
        "last.pt",
        "report.html",
        "results.csv",
        "metrics.json",
    }
    (job,) = fake.created
    trainer = job["spec"]["trainer"]
    assert (trainer["numNodes"], trainer["numProcPerNode"]) == (4, 8)
    args = trainer["args"]
    job_dir = workspace / "trainjobs" / job["metadata"]["name"]
    assert args[args.index("--dataset") + 1] == str(
        job_dir / "dataset"
    )  # copied: it was not on the workspace
    assert args[args.index("--weights") + 1] == str(job_dir / "init" / "yolov5nu.pt")
    assert (job_dir / "dataset" / "dataset.yaml").is_file()
    assert job["metadata"]["labels"]["yolo-kfp/run-id"] == "run-1"
    if TRAINJOB_CRD.is_file():
        pytest.importorskip("jsonschema")
        assert not errors(crd_validator(TRAINJOB_CRD, "v1alpha1"), job)


def test_multi_node_stage_finds_the_workspace_pvc_in_its_own_pod(kube, tmp_path: Path, monkeypatch):
    """It reads the workspace's PVC from the task's pod when TaskConfig carries no volume, and uses data in place."""
    fake, client = kube
    fake.on_complete = _rank_zero_writes_outputs
    _, weights, workspace = _inputs(tmp_path)
    data = workspace / "dataset"
    (data / "images").mkdir(parents=True)
    (data / "dataset.yaml").write_text("path: .\ntrain: images\nval: images\nnames: [a]\n")
    fake.own_pod = {
        "spec": {
            "volumes": [{"name": "ws", "persistentVolumeClaim": {"claimName": "run-9-kfp-workspace"}}],
            "containers": [{"name": "main", "volumeMounts": [{"name": "ws", "mountPath": str(workspace)}]}],
        }
    }
    monkeypatch.setenv("HOSTNAME", "yolo-transfer-abc-train-1")
    cfg = TrainConfig(freeze=0, epochs=1, stage_name="finetune")
    run_distributed_stage(
        data, weights, tmp_path / "out", cfg, nodes=2, workspace_path=str(workspace), run_id="run-9",
        image="img:1", client=client, **FAST,
    )  # fmt: skip
    (job,) = fake.created
    pod = job["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"][0]
    volumes = pod["template"]["spec"]["template"]["spec"]["volumes"]
    assert {"name": "ws", "persistentVolumeClaim": {"claimName": "run-9-kfp-workspace"}} in volumes
    args = job["spec"]["trainer"]["args"]
    assert args[args.index("--dataset") + 1] == str(data)


def test_multi_node_stage_needs_the_workspace(tmp_path: Path):
    """It refuses nodes > 1 without a run workspace, naming the fix, before contacting any cluster."""
    data, weights, _ = _inputs(tmp_path)
    with pytest.raises(ConfigError, match="WORKSPACE_PATH_PLACEHOLDER"):
        run_distributed_stage(
            data,
            weights,
            tmp_path / "o",
            TrainConfig(epochs=1),
            nodes=2,
            workspace_path="",
            run_id="r",
            image="i",
        )


def test_multi_node_stage_with_zero_epochs_passes_through_without_a_trainjob(tmp_path: Path):
    """It passes the weights through locally for a skipped stage: no cluster call at all (no client here)."""
    data, _, workspace = _inputs(tmp_path)
    weights = tmp_path / "arch"
    weights.mkdir()
    (weights / "architecture.txt").write_text("yolov5n.yaml\n")
    result = run_distributed_stage(
        data, weights, tmp_path / "o", TrainConfig(epochs=0, stage_name="frozen"), nodes=2,
        workspace_path=str(workspace), run_id="r", image="i",
    )  # fmt: skip
    assert result.epochs == 0 and (tmp_path / "o" / "architecture.txt").is_file()
    assert not (workspace / "trainjobs").exists()
