"""What the Kubeflow Pipelines backend does with a compiled pipeline, as checks over its IR.

``kfp.local`` runs the DAG but is not the backend: it mounts the workspace into every task, retries
nothing and requests nothing. Each function here encodes one decision the backend takes, cites the
upstream file and tag it reads, and returns the violations it finds (empty: conforms).
``test_backend_conformance.py`` runs every rule on the committed pipeline (must conform) and on the
pipeline as committed before issue 23 (``data/yolo_transfer.0c4da1a.yaml``: each rule must catch it).

Sources read (tags): kubeflow/pipelines 2.17.0 (``backend/src/v2/driver``, ``.../cacheutils``,
``.../compiler/argocompiler``); argoproj/argo-workflows v4.1.2 (``workflow/controller/operator.go``,
``pkg/apis/workflow/v1alpha1/workflow_types.go``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

# driver.go needsWorkspaceMount (2.17.0): a parameter value containing either string mounts the workspace
WORKSPACE_MARKERS = ("{{$.workspace_path}}", "/kfp-workspace")
DATASET = "system.Dataset"
# parameters whose value names something a task reads from outside (a file, a prefix, an object)
LOCATION_PARAMS = ("weights", "source", "uri", "champion_dest", "publish_dest", "dest", "checkpoint_root")
_PLACEHOLDER = re.compile(r"\{\{\$\.inputs\.parameters\['([^']+)'\]\}\}")


@dataclass(frozen=True)
class Task:
    """One task of the compiled DAG, wherever it is nested.

    Attributes:
        name: the task's key in its DAG (``train-model``).
        dag: the component whose DAG holds it (``root``, ``comp-exit-handler-1``, ``comp-condition-2``).
        spec: its PipelineTaskSpec.
        component: its ComponentSpec.
        executor: its executor's container spec ({} for a sub-DAG).
    """

    name: str
    dag: str
    spec: dict[str, Any]
    component: dict[str, Any]
    executor: dict[str, Any]

    @property
    def params(self) -> dict[str, Any]:
        """Input parameters: name -> how the value is given."""
        return self.spec.get("inputs", {}).get("parameters", {})

    @property
    def artifacts(self) -> dict[str, Any]:
        """Input artifacts: name -> how the artifact is given."""
        return self.spec.get("inputs", {}).get("artifacts", {})

    def constants(self) -> dict[str, Any]:
        """The parameters given as constants in the IR."""
        return {k: v["runtimeValue"]["constant"] for k, v in self.params.items() if "runtimeValue" in v}

    @property
    def cached(self) -> bool:
        """Whether KFP may answer this task from its cache."""
        return bool(self.spec.get("cachingOptions", {}).get("enableCache"))


def tasks(spec: dict[str, Any]) -> Iterator[Task]:
    """Every container task of the pipeline, in every DAG (root, exit handler, conditions)."""
    dags = {"root": spec["root"], **spec["components"]}
    executors = spec["deploymentSpec"]["executors"]
    for dag_name, comp in dags.items():
        for name, task in comp.get("dag", {}).get("tasks", {}).items():
            component = spec["components"][task["componentRef"]["name"]]
            executor = executors.get(component.get("executorLabel", ""), {}).get("container", {})
            if "dag" not in component:
                yield Task(name, dag_name, task, component, executor)


def _parents(spec: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """For each sub-DAG component: the DAG that holds the task running it, and that task."""
    found = {}
    for dag_name, comp in {"root": spec["root"], **spec["components"]}.items():
        for task in comp.get("dag", {}).get("tasks", {}).values():
            found[task["componentRef"]["name"]] = (dag_name, task)
    return found


def producer(spec: dict[str, Any], task: Task, artifact: str) -> tuple[str, str] | None:
    """``(producer task, output key)`` of an input artifact, followed up through sub-DAG inputs."""
    parents, value, dag = _parents(spec), task.artifacts[artifact], task.dag
    while "componentInputArtifact" in value and dag in parents:
        dag, parent = parents[dag]
        value = parent.get("inputs", {}).get("artifacts", {}).get(value["componentInputArtifact"], {})
    out = value.get("taskOutputArtifact")
    return (out["producerTask"], out["outputArtifactKey"]) if out else None


def mounts_workspace(task: Task) -> bool:
    """driver.go ``needsWorkspaceMount`` (2.17.0), for the values visible at compile time: a parameter
    whose constant contains ``{{$.workspace_path}}`` or ``/kfp-workspace``. (The third way, an input
    artifact from a workspace importer, is not used by this pipeline.)"""
    return any(
        isinstance(v, str) and any(m in v for m in WORKSPACE_MARKERS) for v in task.constants().values()
    )


def _by_name(spec: dict[str, Any]) -> dict[str, Task]:
    return {t.name: t for t in tasks(spec)}


def manifests_read(spec: dict[str, Any], task: Task) -> list[str]:
    """The input artifacts of ``task`` that are manifests into the workspace (``producer.output``).

    The Dataset artifacts of a task that mounts the workspace may point into it
    (``components/_shared/dataset.py``: ingest, convert and split write manifests), so a task taking one
    reads the workspace.
    """
    by_name, found = _by_name(spec), []
    for name in task.artifacts:
        src = producer(spec, task, name)
        if src is None or src[0] not in by_name:
            continue
        maker = by_name[src[0]]
        out = maker.component.get("outputDefinitions", {}).get("artifacts", {}).get(src[1], {})
        if out.get("artifactType", {}).get("schemaTitle") == DATASET and mounts_workspace(maker):
            found.append(f"{src[0]}.{src[1]}")
    return found


def workspace_mounts(spec: dict[str, Any]) -> list[str]:
    """Every task that reads the workspace is one the driver mounts it into.

    The driver mounts the run's PVC only into tasks for which ``needsWorkspaceMount`` is true
    (``backend/src/v2/driver/driver.go``, ``initPodSpecPatch`` -> ``needsWorkspaceMount``, tag 2.17.0);
    every other task finds no ``/kfp-workspace`` at all.
    """
    return [
        f"{task.name}: reads {', '.join(read)} (manifests into the workspace) but is given no workspace "
        "path, so the driver never mounts /kfp-workspace into it"
        for task in tasks(spec)
        if (read := manifests_read(spec, task)) and not mounts_workspace(task)
    ]


def workspace_tasks_not_cached(spec: dict[str, Any]) -> list[str]:
    """A task that reads or mounts the workspace is not cached.

    The run's PVC name is part of the cache key (``backend/src/v2/driver/container.go`` adds
    ``GetWorkspacePVCName(runName)`` to ``pvcNames`` when ``needsWorkspaceMount``; ``cache.go``
    ``getFingerPrint`` -> ``cacheutils.GenerateCacheKey``, tag 2.17.0), and so are the input artifacts'
    names, new in every run: such a task never hits the cache of another run, and a hit would hand it
    data from a workspace that is gone. Marking it cached only promises what the backend does not do.
    """
    return [
        f"{t.name}: reads the workspace and is marked cached"
        for t in tasks(spec)
        if t.cached and (mounts_workspace(t) or manifests_read(spec, t))
    ]


def _placeholder_sources(task: Task, value: str) -> list[dict[str, Any]]:
    return [task.params.get(name, {}) for name in _PLACEHOLDER.findall(value)]


def cache_keys_follow_content(spec: dict[str, Any]) -> list[str]:
    """A cached task that reads a location also takes a token of what is stored there.

    KFP's cache key holds input parameter *values*, input artifact names, the image, the command and PVC
    names (``backend/src/v2/cacheutils/cache.go``, ``GenerateCacheKey``, tag 2.17.0), never the bytes a
    URI points to: a cached task fed only a URI keeps returning what it fetched the first time.
    """
    found = []
    for task in tasks(spec):
        if not task.cached:
            continue
        locations = [p for p in task.params if p in LOCATION_PARAMS]
        tokens = [p for p, v in task.params.items() if p.endswith("_digest") and "taskOutputParameter" in v]
        if locations and not tokens:
            found.append(
                f"{task.name}: cached on {', '.join(locations)} alone; new bytes under the same URI are never fetched"
            )
    return found


def duration_s(text: str) -> float:
    """Argo/KFP duration (``600s``, ``2h``, ``90``) in seconds."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd]?)", str(text).strip())
    if not m:
        raise ValueError(f"unparsable duration {text!r}")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def retry_deadlines(spec: dict[str, Any], attempt_budget_s: float) -> list[str]:
    """Every retried task may use all its attempts at the full budget before Argo's deadline.

    ``set_retry(backoff_max_duration=...)`` becomes Argo's ``retryStrategy.backoff.maxDuration``
    (``backend/src/v2/compiler/argocompiler/container.go``, ``getTaskRetryStrategyFromInput``, tag
    2.17.0), which Argo counts from the first attempt's start: no retry after it, and a running retry
    gets it as its deadline (``workflow_types.go`` ``Backoff.MaxDuration``; ``operator.go``, v4.1.2;
    argoproj/argo-workflows#13044).
    """
    found = []
    for task in tasks(spec):
        policy = task.spec.get("retryPolicy")
        if not policy:
            continue
        retries = int(policy.get("maxRetryCount", 0))
        base, factor = duration_s(policy.get("backoffDuration", "0s")), float(policy.get("backoffFactor", 1))
        waits = sum(base * factor**i for i in range(retries))
        need = (retries + 1) * attempt_budget_s + waits
        have = duration_s(policy.get("backoffMaxDuration", "0s"))
        if have < need:
            found.append(
                f"{task.name}: retry deadline {have:.0f} s < {retries + 1} attempts x {attempt_budget_s:.0f} s "
                f"+ {waits:.0f} s of waits: a long attempt that fails is never retried"
            )
    return found


def launchers_hold_no_gpu(spec: dict[str, Any]) -> list[str]:
    """A training task that may launch a multi-node TrainJob takes its GPU count from the plan's
    ``launcher_gpus`` (0 when ``nodes > 1``), never straight from ``gpus``.

    The driver turns ``resourceCount`` into the pod's accelerator limit (``backend/src/v2/driver/
    driver.go``, ``initPodSpecPatch``, tag 2.17.0) whatever the task then does; the TrainJob's own pods
    request theirs, so a launcher holding GPUs makes a run need ``nodes x gpus + gpus``.
    """
    by_name, found = _by_name(spec), []
    for task in by_name.values():
        if "nodes" not in task.params:
            continue
        accel = task.executor.get("resources", {}).get("accelerator")
        if not accel:
            continue
        count = str(accel.get("resourceCount", accel.get("count", "")))
        sources = _placeholder_sources(task, count)
        ok = [
            s["taskOutputParameter"]
            for s in sources
            if s.get("taskOutputParameter", {}).get("outputParameterKey") == "launcher_gpus"
        ]
        if not ok:
            found.append(f"{task.name}: may launch a TrainJob (nodes) yet requests GPUs {count!r} for itself")
            continue
        plan = by_name.get(ok[0]["producerTask"])
        if plan is None or task.params["nodes"] != plan.params.get("nodes"):
            found.append(f"{task.name}: its launcher_gpus comes from a task not given the same nodes")
    return found


def failed_runs_release_workspace(platform: dict[str, Any]) -> list[str]:
    """A pipeline with a workspace deletes failed runs (and so their PVC) after a while.

    Argo creates the workspace PVC from ``volumeClaimTemplates`` owned by the Workflow (``operator.go``
    ``createPVCs`` sets a controller reference, v4.1.2) and deletes it itself only on success
    (``workflow_types.go``: ``VolumeClaimGC`` defaults to ``OnWorkflowSuccess``). KFP compiles
    ``ttl_seconds_after_failure`` to the Workflow's ``ttlStrategy.secondsAfterFailure``
    (``backend/src/v2/compiler/argocompiler/argo.go``, ``buildTTLStrategy``, tag 2.17.0): deleting the
    Workflow garbage-collects the PVC it owns.
    """
    config = platform.get("pipelineConfig", {})
    if "workspace" not in config:
        return []
    if int(config.get("resourceTtlOnFailure", 0)) > 0 or int(config.get("resourceTtlOnCompletion", 0)) > 0:
        return []
    return ["the run workspace of a failed run is never deleted (no resourceTtlOnFailure)"]
