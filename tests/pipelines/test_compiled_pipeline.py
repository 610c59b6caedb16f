"""The compiled IR: stages, edges, Kubernetes settings where intended, no credentials, not stale."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from pipelines.compile import COMPILED, compile_pipeline

DATA_TASKS = {
    "ingest-dataset",
    "convert-voc",
    "split-dataset",
    "dataset-stats",
    "plan-training",
    "fetch-weights",
}
WORKSPACE_WRITERS = {"ingest-dataset", "convert-voc", "split-dataset"}
GPU_TASKS = {"train-model", "train-model-2", "validate-model"}
CPU_MODEL_TASKS = {"export-onnx", "validate-model-2"}


@pytest.fixture(scope="module")
def ir() -> tuple[dict, dict]:
    """The committed pipeline spec and its Kubernetes platform spec."""
    docs = list(yaml.safe_load_all(COMPILED.read_text(encoding="utf-8")))
    return docs[0], docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def _tasks(spec: dict) -> dict:
    """The guarded tasks: everything runs inside the exit handler's sub-DAG."""
    return spec["components"]["comp-exit-handler-1"]["dag"]["tasks"]


def _producers(task: dict) -> set[str]:
    inputs = task.get("inputs", {})
    found = {a["taskOutputArtifact"]["producerTask"] for a in inputs.get("artifacts", {}).values()
             if "taskOutputArtifact" in a}  # fmt: skip
    found |= {p["taskOutputParameter"]["producerTask"] for p in inputs.get("parameters", {}).values()
              if "taskOutputParameter" in p}  # fmt: skip
    return found


def test_compiled_pipeline_is_fresh(tmp_path: Path) -> None:
    """It fails when the committed YAML differs from what the code compiles to (run `make compile`)."""
    from components._shared import images

    fresh = compile_pipeline(tmp_path / "p.yaml", registry=images.DEFAULT_REGISTRY, tag=images.DEFAULT_TAG)
    fresh = fresh.read_text(encoding="utf-8")
    strip = lambda s: re.sub(r"^sdkVersion:.*$", "", s, flags=re.M)  # noqa: E731
    assert strip(fresh) == strip(COMPILED.read_text(encoding="utf-8")), (
        "stale: run 'yolo-kfp compile' and commit"
    )


def test_every_stage_is_wired_in_order(ir: tuple[dict, dict]) -> None:
    """It has every stage, each fed by the one before it, and publish only inside the gate."""
    spec, _ = ir
    tasks = _tasks(spec)
    assert set(tasks) == DATA_TASKS | GPU_TASKS | CPU_MODEL_TASKS | {"condition-2"}
    expected_edges = {
        "convert-voc": {"ingest-dataset"},  # VOC tree and fingerprint
        "split-dataset": {"convert-voc"},
        "dataset-stats": {"split-dataset"},
        "plan-training": {"split-dataset"},
        "fetch-weights": {"plan-training"},
        "train-model": {"fetch-weights", "split-dataset", "plan-training"},
        "train-model-2": {"train-model", "split-dataset", "plan-training"},
        "validate-model": {"train-model-2", "split-dataset"},
        "export-onnx": {"train-model-2", "split-dataset"},
        "validate-model-2": {"export-onnx", "split-dataset"},
    }
    for name, producers in expected_edges.items():
        assert _producers(tasks[name]) == producers, name
    cond = tasks["condition-2"]
    assert "validate-model-2" in cond["dependentTasks"]
    assert "Output" in cond["triggerPolicy"]["condition"] and "== true" in cond["triggerPolicy"]["condition"]
    inner = spec["components"]["comp-condition-2"]["dag"]["tasks"]
    assert set(inner) == {"publish-model"}
    assert tasks["train-model"]["inputs"]["parameters"]["stage"]["runtimeValue"]["constant"] == "frozen"
    assert tasks["train-model-2"]["inputs"]["parameters"]["freeze"]["runtimeValue"]["constant"] == 0


def test_the_plan_is_an_artifact_and_decides_the_freeze_depth(ir: tuple[dict, dict]) -> None:
    """It outputs the plan as artifacts, feeds its freeze depth to the frozen stage, and defaults freeze to auto."""
    spec, _ = ir
    outputs = spec["components"]["comp-plan-training"]["outputDefinitions"]["artifacts"]
    assert outputs["plan"]["artifactType"]["schemaTitle"] == "system.Artifact"
    assert outputs["plan_view"]["artifactType"]["schemaTitle"] == "system.Markdown"
    frozen = _tasks(spec)["train-model"]["inputs"]["parameters"]
    for name, key in (("freeze", "freeze"), ("epochs", "epochs_frozen"), ("lr0", "lr_frozen")):
        assert frozen[name]["taskOutputParameter"] == {
            "outputParameterKey": key,
            "producerTask": "plan-training",
        }
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["freeze"]["defaultValue"] == "auto" and params["strategy"]["defaultValue"] == "auto"
    assert "parameters" not in spec["components"]["comp-dataset-stats"].get("outputDefinitions", {})


def test_the_gate_measures_production_on_the_test_split(ir: tuple[dict, dict]) -> None:
    """It validates on the ``auto`` (test) split, gives the ONNX gate the publish destination as its
    champion, and passes every gate parameter to it and ``allow_class_change`` to publish."""
    spec, _ = ir
    tasks = _tasks(spec)
    gate, pt = (
        tasks["validate-model-2"]["inputs"]["parameters"],
        tasks["validate-model"]["inputs"]["parameters"],
    )
    assert gate["split"]["runtimeValue"]["constant"] == pt["split"]["runtimeValue"]["constant"] == "auto"
    assert gate["champion_dest"] == {"componentInputParameter": "pipelinechannel--publish_dest"}
    assert pt["champion_dest"]["runtimeValue"]["constant"] == ""
    for name in ("min_map50_95", "champion_tolerance", "class_tolerance", "allow_class_change"):
        assert gate[name] == {"componentInputParameter": f"pipelinechannel--{name}"}, name
    publish = spec["components"]["comp-condition-2"]["dag"]["tasks"]["publish-model"]["inputs"]["parameters"]
    assert publish["allow_class_change"] == {"componentInputParameter": "pipelinechannel--allow_class_change"}
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert params["test"]["defaultValue"] == params["val"]["defaultValue"] == 0.15
    assert params["allow_class_change"]["defaultValue"] is False


def test_every_parameter_is_described(ir: tuple[dict, dict]) -> None:
    """It gives every pipeline parameter a description for the Kubeflow UI."""
    spec, _ = ir
    params = spec["root"]["inputDefinitions"]["parameters"]
    missing = [name for name, p in params.items() if not p.get("description")]
    assert not missing, missing


def test_gpu_settings_only_on_training_and_gpu_validation(ir: tuple[dict, dict]) -> None:
    """It requests GPUs, tolerates the GPU taint and mounts /dev/shm only on GPU tasks."""
    spec, k8s = ir
    executors = spec["deploymentSpec"]["executors"]
    for name, ex in executors.items():
        task = name.removeprefix("exec-")
        resources = ex["container"].get("resources", {})
        platform = k8s.get(name, {})
        on_gpu = task in GPU_TASKS
        assert ("accelerator" in resources) is on_gpu, task
        assert bool(platform.get("tolerations")) is on_gpu, task
        mounts = [m["mountPath"] for m in platform.get("emptyDirMounts", [])]
        assert (mounts == ["/dev/shm"]) is on_gpu, task
        if on_gpu:
            assert platform["emptyDirMounts"][0]["medium"] == "Memory"
            assert platform["tolerations"][0] == {
                "effect": "NoSchedule",
                "key": "nvidia.com/gpu",
                "operator": "Exists",
            }
            assert "nodeSelectorJson" in platform["nodeSelector"]
            assert float(resources["memoryRequest"]) >= 16
        else:
            assert "memoryLimit" in resources, task


def test_training_retries_and_caching(ir: tuple[dict, dict]) -> None:
    """It retries GPU tasks (preemption) with caching off, caches only the weights fetch (on the
    weights' content), and never caches a task that reads the run's workspace (the backend's cache key
    holds the run's PVC name: tests/pipelines/test_backend_conformance.py)."""
    spec, _ = ir
    tasks = _tasks(spec)
    for name in GPU_TASKS:
        assert tasks[name]["retryPolicy"]["maxRetryCount"] == 3
        assert tasks[name]["cachingOptions"] == {}, f"{name} must not be cached"
    for name in DATA_TASKS:
        assert "retryPolicy" not in tasks[name]
        cached = tasks[name]["cachingOptions"] == {"enableCache": True}
        assert cached is (name == "fetch-weights"), name
    assert tasks["ingest-dataset"]["cachingOptions"] == {}, "ingest must see new labels under the same URI"
    fp = tasks["convert-voc"]["inputs"]["parameters"]["fingerprint"]["taskOutputParameter"]
    assert fp == {"outputParameterKey": "fingerprint", "producerTask": "ingest-dataset"}


def test_the_run_asks_for_a_workspace_that_the_data_tasks_write(ir: tuple[dict, dict]) -> None:
    """It requests a ReadWriteMany workspace PVC of the configured size and passes its path to every task
    that writes or reads the data (KFP mounts it only there), and every later task takes the split's
    (manifest) Dataset artifact."""
    from pipelines.config import WORKSPACE

    spec, _ = ir
    docs = list(yaml.safe_load_all(COMPILED.read_text(encoding="utf-8")))
    workspace = docs[1]["platforms"]["kubernetes"]["pipelineConfig"]["workspace"]
    assert workspace["size"] == WORKSPACE.size
    assert workspace["kubernetes"]["pvcSpecPatch"] == WORKSPACE.pvc_spec_patch()
    assert "ReadWriteMany" in workspace["kubernetes"]["pvcSpecPatch"]["accessModes"]
    tasks = _tasks(spec)
    readers = {n for n, t in tasks.items() if "yolo_dataset" in t.get("inputs", {}).get("artifacts", {})}
    assert readers == {"dataset-stats", "plan-training", "train-model", "train-model-2", "validate-model",
                       "export-onnx", "validate-model-2"}  # fmt: skip
    for name, task in tasks.items():
        params = task.get("inputs", {}).get("parameters", {})
        ws = params.get("workspace") or params.get("workspace_path")
        if name in WORKSPACE_WRITERS | readers:
            assert ws == {"runtimeValue": {"constant": "{{$.workspace_path}}"}}, name
        elif name != "fetch-weights":
            assert name.startswith("condition") or ws is None, name


def test_the_run_summary_runs_after_everything_even_on_failure(ir: tuple[dict, dict]) -> None:
    """It guards every task with an exit handler whose summary task runs when they all completed or failed."""
    spec, _ = ir
    root = spec["root"]["dag"]["tasks"]
    assert set(root) == {"exit-handler-1", "summarize-run"}
    summary = root["summarize-run"]
    assert summary["triggerPolicy"] == {"strategy": "ALL_UPSTREAM_TASKS_COMPLETED"}
    assert summary["dependentTasks"] == ["exit-handler-1"]
    assert summary["inputs"]["parameters"]["checkpoint_root"] == {
        "componentInputParameter": "checkpoint_root"
    }
    outputs = spec["components"]["comp-summarize-run"]["outputDefinitions"]["artifacts"]
    assert outputs["run_summary"]["artifactType"]["schemaTitle"] == "system.Markdown"


def test_credentials_come_from_the_secret_only(ir: tuple[dict, dict]) -> None:
    """It reads MINIO_* from the Secret on storage tasks, and no parameter or value looks like a credential."""
    spec, k8s = ir
    for name in ("exec-ingest-dataset", "exec-publish-model", "exec-train-model", "exec-validate-model-2"):
        secret = k8s[name]["secretAsEnv"][0]
        assert secret["secretName"] == "yolo-kfp-minio"
        assert {e["envVar"] for e in secret["keyToEnv"]} >= {
            "MINIO_ENDPOINT",
            "MINIO_ACCESS_KEY",
            "MINIO_SECRET_KEY",
        }
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert not [p for p in params if re.search(r"secret|password|access_key|token", p, re.I)]
    text = COMPILED.read_text(encoding="utf-8")
    assert not re.search(r"minioadmin|AKIA[0-9A-Z]{12}|s3cr3t|CHANGE_ME|aws_secret", text, re.I)


def test_images_come_from_one_place(ir: tuple[dict, dict]) -> None:
    """It runs data tasks on the data image and model tasks on the training image."""
    spec, _ = ir
    images = {
        n.removeprefix("exec-"): ex["container"]["image"]
        for n, ex in spec["deploymentSpec"]["executors"].items()
    }
    for task, image in images.items():
        kind = "data" if task in DATA_TASKS | {"publish-model", "summarize-run"} else "train"
        assert re.fullmatch(rf"[\w./:-]+/yolo-kfp-{kind}:[\w.-]+", image), (task, image)
