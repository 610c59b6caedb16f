"""Backend conformance: what Kubeflow Pipelines 2.17 and Argo do with the compiled pipeline.

Each rule (``backend_rules.py``, citing the upstream file and tag it encodes) must hold on the
committed pipeline and must catch the pipeline as it was before these rules existed
(``data/yolo_transfer.0c4da1a.yaml``), which would have failed on its first cluster run.
"""

from __future__ import annotations

from pathlib import Path

import backend_rules as rules
import pytest
import yaml

from pipelines.compile import COMPILED
from pipelines.config import RETRY

BEFORE = Path(__file__).parent / "data" / "yolo_transfer.0c4da1a.yaml"


def _load(path: Path) -> tuple[dict, dict]:
    docs = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    return docs[0], docs[1]["platforms"]["kubernetes"]


RULES = {
    "workspace_mounts": lambda spec, _: rules.workspace_mounts(spec),
    "workspace_tasks_not_cached": lambda spec, _: rules.workspace_tasks_not_cached(spec),
    "cache_keys_follow_content": lambda spec, _: rules.cache_keys_follow_content(spec),
    "retry_deadlines": lambda spec, _: rules.retry_deadlines(spec, RETRY.attempt_budget_s),
    "launchers_hold_no_gpu": lambda spec, _: rules.launchers_hold_no_gpu(spec),
    "failed_runs_release_workspace": lambda _, platform: rules.failed_runs_release_workspace(platform),
}


@pytest.mark.parametrize("rule", sorted(RULES))
def test_the_committed_pipeline_conforms_to_the_backend(rule: str) -> None:
    """It finds no violation of the rule in the committed pipeline."""
    assert RULES[rule](*_load(COMPILED)) == []


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_rule_catches_the_pipeline_before_issue_23(rule: str) -> None:
    """It reports the defect the rule guards against in the pipeline as committed at 0c4da1a."""
    assert RULES[rule](*_load(BEFORE)) != []


def test_the_five_readers_were_not_mounted_before(rule: str = "workspace_mounts") -> None:
    """It names exactly the tasks that read the dataset with no workspace before (issue 23, item 1),
    and every reader of a manifest is mounted now."""
    before = {v.split(":")[0] for v in rules.workspace_mounts(_load(BEFORE)[0])}
    assert before == {"dataset-stats", "plan-training", "validate-model", "export-onnx", "validate-model-2"}
    spec = _load(COMPILED)[0]
    mounted = {t.name for t in rules.tasks(spec) if rules.mounts_workspace(t)}
    readers = {t.name for t in rules.tasks(spec) if "yolo_dataset" in t.artifacts}
    assert readers <= mounted


def test_only_the_fetch_task_is_cached_and_on_the_weights_content() -> None:
    """It caches fetch-weights alone, keyed on the plan's weights_digest as well as the URI."""
    spec = _load(COMPILED)[0]
    cached = {t.name: t for t in rules.tasks(spec) if t.cached}
    assert set(cached) == {"fetch-weights"}
    digest = cached["fetch-weights"].params["weights_digest"]["taskOutputParameter"]
    assert digest == {"outputParameterKey": "weights_digest", "producerTask": "plan-training"}


def test_the_retry_deadline_covers_every_attempt_and_wait() -> None:
    """It compiles the GPU tasks' deadline from config.RETRY: 4 attempts of 48 h plus 60+120+240 s."""
    spec = _load(COMPILED)[0]
    retried = {t.name: t.spec["retryPolicy"] for t in rules.tasks(spec) if "retryPolicy" in t.spec}
    assert set(retried) == {"train-model", "train-model-2", "validate-model"}
    for policy in retried.values():
        assert rules.duration_s(policy["backoffMaxDuration"]) == 4 * 48 * 3600 + 420
    assert rules.retry_deadlines(spec, RETRY.attempt_budget_s * 1.01) != []  # the bound is tight


def test_the_launcher_gpu_rule_is_the_plans() -> None:
    """It gives the training task's pod `gpus` on one node and none when it launches a TrainJob."""
    from components.plan.core import launcher_gpus

    assert launcher_gpus(1, 1) == 1
    assert launcher_gpus(4, 1) == 4
    assert launcher_gpus(1, 2) == 0
    assert launcher_gpus(8, 16) == 0
    assert launcher_gpus(0, 1) == 0


def test_failed_runs_are_deleted_with_their_workspace_after_the_configured_time() -> None:
    """It asks Argo to delete a failed run (and the PVC it owns) after FAILED_RUN_TTL_S, not never."""
    from pipelines.config import FAILED_RUN_TTL_S

    _, platform = _load(COMPILED)
    assert platform["pipelineConfig"]["resourceTtlOnFailure"] == FAILED_RUN_TTL_S
    assert "resourceTtlOnSuccess" not in platform["pipelineConfig"]  # Argo's volumeClaimGC handles success


def test_images_run_as_a_numeric_non_root_user() -> None:
    """It finds a numeric, non-zero USER as the last USER of every Dockerfile: the argocompiler gives
    every Workflow ``securityContext.runAsNonRoot: true`` (``argocompiler/argo.go``, tag 2.17.0), and
    the kubelet can only verify that for a numeric user (a named one fails to start)."""
    docker = Path(__file__).resolve().parents[2] / "docker"
    files = sorted(docker.glob("*.Dockerfile"))
    assert files
    for path in files:
        users = [line.split()[1] for line in path.read_text(encoding="utf-8").splitlines()
                 if line.startswith("USER ")]  # fmt: skip
        assert users, path
        uid = users[-1].split(":")[0]
        assert uid.isdigit() and int(uid) != 0, f"{path.name}: USER {users[-1]}"
