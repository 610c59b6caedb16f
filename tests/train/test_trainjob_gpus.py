"""A multi-node run holds each GPU once, and a TrainJob whose pods cannot start is given up in bounded time.

Against the loopback fake of the Kubernetes API in ``test_trainjob_lifecycle.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from _crd import TRAINJOB_CRD, crd_validator, errors
from test_trainjob_lifecycle import (
    FAST,
    _inputs,
    _manifest,
    _rank_zero_writes_outputs,
    _TaskConfig,
)

from components.plan.core import launcher_gpus
from components.train.core import TrainConfig
from components.train.stage import run_distributed_stage
from components.train.trainjob import TrainJobError, run_trainjob, why_pending

REPO = Path(__file__).resolve().parents[2]
UNSCHEDULABLE = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available"


@dataclass
class _Pending:
    """Pods that never start: the scheduler's message on each, or no pod at all (a quota refused them)."""

    message: str | None

    def __call__(self, name: str) -> list[dict]:
        if self.message is None:
            return []
        cond = {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": self.message}
        return [
            {
                "metadata": {"name": f"{name}-node-{i}-0-x"},
                "status": {"phase": "Pending", "conditions": [cond]},
            }
            for i in range(2)
        ]


def test_a_trainjob_whose_pods_cannot_schedule_is_deleted_with_the_reason(kube, monkeypatch):
    """It gives up after pending_s, deletes the TrainJob and names the scheduler's reason in one line."""
    fake, client = kube
    fake.outcome = None
    monkeypatch.setattr(fake, "pods", _Pending(UNSCHEDULABLE))
    with pytest.raises(TrainJobError) as err:
        run_trainjob(client, _manifest(), poll_s=0.02, timeout_s=30.0, pending_s=0.2)
    assert "no pod started within 0 s" in str(err.value)
    assert "Insufficient nvidia.com/gpu" in str(err.value)
    assert "\n" not in str(err.value)
    assert fake.deleted == ["yolo-frozen-0123456789"]


def test_a_trainjob_with_no_pods_names_the_quota(kube, monkeypatch):
    """It says no pod was created and points at the ResourceQuota when the pods never appear."""
    fake, client = kube
    fake.outcome = None
    monkeypatch.setattr(fake, "pods", _Pending(None))
    with pytest.raises(TrainJobError, match="no pod was created.*ResourceQuota"):
        run_trainjob(client, _manifest(), poll_s=0.02, timeout_s=30.0, pending_s=0.2)
    assert fake.deleted == ["yolo-frozen-0123456789"]


def test_pods_that_started_are_never_given_up_as_pending(kube):
    """It follows a TrainJob whose pods run, however short pending_s is."""
    fake, client = kube
    fake.polls = 6
    job = run_trainjob(client, _manifest(), poll_s=0.05, timeout_s=30.0, pending_s=0.01 + 0.15)
    assert job["status"]["conditions"][0]["type"] == "Complete"


def test_why_pending_reads_image_pull_errors():
    """It reports a waiting container's reason (an image that cannot be pulled) as well."""
    pod = {"status": {"phase": "Pending", "containerStatuses": [
        {"state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image\n x"}}}]}}  # fmt: skip
    assert why_pending([pod]) == "ImagePullBackOff: Back-off pulling image x"


def test_the_trainjob_nodes_get_gpus_the_launcher_does_not_hold(kube, tmp_path: Path):
    """It gives every node `gpus_per_node` GPUs although the launcher's own TaskConfig asks for none."""
    fake, client = kube
    fake.on_complete = _rank_zero_writes_outputs
    data, weights, workspace = _inputs(tmp_path)
    task = _TaskConfig(
        resources={"limits": {"nvidia.com/gpu": "0", "memory": "32Gi"}, "requests": {"cpu": "4"}},
        volumes=[{"name": "kfp-workspace", "persistentVolumeClaim": {"claimName": "r-kfp-workspace"}}],
        volume_mounts=[{"name": "kfp-workspace", "mountPath": str(workspace)}],
    )
    cfg = TrainConfig(freeze=10, epochs=3, imgsz=64, batch=8, stage_name="frozen")
    run_distributed_stage(
        data, weights, tmp_path / "out", cfg, nodes=2, workspace_path=str(workspace), run_id="run-1",
        image="img:1", task_config=task, client=client, gpus_per_node=1, **FAST,
    )  # fmt: skip
    (job,) = fake.created
    trainer = job["spec"]["trainer"]
    assert trainer["resourcesPerNode"]["limits"]["nvidia.com/gpu"] == 1
    assert "nvidia.com/gpu" not in trainer["resourcesPerNode"].get("requests", {})
    assert (trainer["numNodes"], trainer["numProcPerNode"]) == (2, 1)
    if TRAINJOB_CRD.is_file():
        pytest.importorskip("jsonschema")
        assert not errors(crd_validator(TRAINJOB_CRD, "v1alpha1"), job)


@pytest.mark.parametrize("nodes,gpus", [(1, 1), (1, 2), (2, 1)])
def test_a_run_fits_the_base_gpu_quota_it_was_sized_for(nodes: int, gpus: int):
    """It needs nodes x gpus GPUs at once (launcher included), within k8s/base's 2-GPU ResourceQuota:
    a 2 x 1 run needed 3 before (the launcher kept its own)."""
    quota = yaml.safe_load((REPO / "k8s" / "base" / "resourcequota.yaml").read_text(encoding="utf-8"))
    limit = int(quota["spec"]["hard"]["requests.nvidia.com/gpu"])
    trainjob = nodes * gpus if nodes > 1 else 0
    assert launcher_gpus(gpus, nodes) + trainjob == nodes * gpus <= limit
