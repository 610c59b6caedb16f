"""run-local reports a failed task at once: kfp.local would otherwise honour the cluster's retries."""

from __future__ import annotations

from pipelines.local_run import without_retries
from pipelines.yolo_transfer import yolo_transfer


def _retried(pipeline) -> dict[str, int]:
    spec = pipeline.pipeline_spec
    return {
        name: task.retry_policy.max_retry_count
        for comp in [spec.root, *spec.components.values()]
        for name, task in comp.dag.tasks.items()
        if task.HasField("retry_policy")
    }


def test_the_local_run_retries_nothing_and_leaves_the_cluster_pipeline_alone() -> None:
    """It clears every retry policy in the copy run-local executes (kfp.local sleeps 60 + 120 + 240 s
    between attempts: a failed local training used to surface after 7 minutes), and keeps the GPU tasks'
    retries in the pipeline that is compiled for the cluster."""
    local = without_retries(yolo_transfer)
    assert _retried(local) == {}
    assert _retried(yolo_transfer) == {"train-model": 3, "train-model-2": 3, "validate-model": 3}
    assert set(local.pipeline_spec.root.dag.tasks) == set(yolo_transfer.pipeline_spec.root.dag.tasks)
