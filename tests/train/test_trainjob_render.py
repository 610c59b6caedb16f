"""TrainJobs of a multi-node stage: valid against the Kubeflow Trainer v2.3.0 CRD, strictly, for many settings."""

from __future__ import annotations

import argparse
import copy
import re
from pathlib import Path

import pytest
import yaml
from _crd import TRAINJOB_CRD, crd_validator, errors

from components._shared.errors import ConfigError
from components.train import cli as train_cli
from components.train.core import TrainConfig
from components.train.trainjob import (
    API_VERSION,
    MINIO_KEYS,
    TrainJobSpec,
    Workspace,
    gpus_in,
    render_trainjob,
    train_argv,
    trainjob_name,
)
from pipelines.cli import main

IMAGE = "registry.example/yolo-kfp-train:1.2.3"
ARGS = ("--dataset", "/ws/d", "--weights", "/ws/init/best.pt", "--out", "/ws/out")


@pytest.fixture(scope="module")
def validator():
    """The TrainJob v1alpha1 schema, unknown fields refused."""
    pytest.importorskip("jsonschema")
    if not TRAINJOB_CRD.is_file():
        pytest.skip(f"{TRAINJOB_CRD} not present (../shared/specs)")
    return crd_validator(TRAINJOB_CRD, "v1alpha1")


def _pod(job: dict) -> dict:
    (patch,) = job["spec"]["runtimePatches"]
    (node,) = patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    assert node["name"] == "node"
    return node["template"]["spec"]["template"]


SETTINGS = {
    "2 nodes x 1 GPU, no workspace": dict(nodes=2, gpus_per_node=1),
    "4 nodes x 8 GPUs, workspace": dict(nodes=4, gpus_per_node=8, workspace=Workspace("run-1-kfp-workspace")),
    "2 nodes x 8 AMD GPUs, workspace": dict(
        nodes=2, gpus_per_node=8, accelerator="amd.com/gpu", workspace=Workspace("ws", "/mnt/ws")
    ),
    "4 CPU nodes, no Secret, no shm": dict(nodes=4, gpus_per_node=0, minio_secret="", shm_size=""),
    "the task's TaskConfig": dict(
        nodes=2,
        resources={
            "requests": {"cpu": "4", "memory": "16Gi"},
            "limits": {"cpu": "8", "memory": "32Gi", "nvidia.com/gpu": "2"},
        },
        env=({"name": "NCCL_DEBUG", "value": "INFO"},),
        volumes=({"name": "kfp-workspace", "persistentVolumeClaim": {"claimName": "abc-kfp-workspace"}},),
        volume_mounts=({"name": "kfp-workspace", "mountPath": "/kfp-workspace"},),
        tolerations=({"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},),
        node_selector={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"},
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["gpu"]}]}
                    ]
                }
            }
        },
    ),
}


@pytest.mark.parametrize("case", sorted(SETTINGS))
def test_rendered_trainjob_is_valid_against_the_crd_strictly(validator, case: str):
    """It passes the Trainer v2.3.0 TrainJob schema with every unlisted field refused, for each setting."""
    spec = TrainJobSpec(name=trainjob_name("run-1", "frozen"), train_args=ARGS, image=IMAGE, **SETTINGS[case])
    job = render_trainjob(spec)
    assert not errors(validator, job), errors(validator, job)
    # the CRD's CEL rules, which jsonschema does not run
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", job["metadata"]["name"])
    assert len(job["metadata"]["name"]) <= 63


@pytest.mark.parametrize(("nodes", "gpus"), [(2, 1), (4, 8)])
def test_trainjob_runs_the_train_stage_under_torchrun_on_the_runtime(nodes: int, gpus: int):
    """It asks torch-distributed for N nodes x G GPUs and runs `torchrun --no-python yolo-kfp train ...`."""
    job = render_trainjob(
        TrainJobSpec(name="yolo-frozen-1", train_args=ARGS, image=IMAGE, nodes=nodes, gpus_per_node=gpus)
    )
    assert job["apiVersion"] == API_VERSION and job["kind"] == "TrainJob"
    assert job["spec"]["runtimeRef"] == {
        "apiGroup": "trainer.kubeflow.org",
        "kind": "ClusterTrainingRuntime",
        "name": "torch-distributed",
    }
    trainer = job["spec"]["trainer"]
    assert (trainer["numNodes"], trainer["numProcPerNode"]) == (nodes, gpus)
    assert trainer["resourcesPerNode"]["limits"]["nvidia.com/gpu"] == gpus
    assert trainer["image"] == IMAGE
    assert trainer["command"] == ["torchrun", "--no-python", "yolo-kfp", "train"]
    assert trainer["args"] == list(ARGS)
    secret_env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in trainer["env"] if "valueFrom" in e}
    assert set(secret_env) == set(MINIO_KEYS)
    assert all(ref["name"] == "yolo-kfp-minio" and ref["optional"] is True for ref in secret_env.values())
    pod = _pod(job)
    assert pod["spec"]["tolerations"] == [
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert pod["metadata"]["labels"]["yolo-kfp/trainjob"] == "yolo-frozen-1"


def test_trainjob_mounts_the_workspace_pvc_in_every_node():
    """It mounts the run workspace PVC at the task's path and an in-memory /dev/shm in the node container."""
    ws = Workspace("run-1-kfp-workspace", "/kfp-workspace")
    job = render_trainjob(TrainJobSpec(name="yolo-x-1", train_args=ARGS, image=IMAGE, nodes=2, workspace=ws))
    pod = _pod(job)["spec"]
    assert {"name": "kfp-workspace", "persistentVolumeClaim": {"claimName": "run-1-kfp-workspace"}} in pod[
        "volumes"
    ]
    (container,) = pod["containers"]
    assert container["name"] == "node"
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/kfp-workspace", "/dev/shm"}


def test_taskconfig_resources_and_volumes_pass_through_without_duplicates():
    """It uses the task's resources as they are, reads the GPUs from them, and mounts each volume once."""
    settings = SETTINGS["the task's TaskConfig"]
    job = render_trainjob(
        TrainJobSpec(
            name="yolo-x-1",
            train_args=ARGS,
            image=IMAGE,
            workspace=Workspace("abc-kfp-workspace"),
            **settings,
        )
    )
    trainer = job["spec"]["trainer"]
    assert trainer["resourcesPerNode"] == settings["resources"]
    assert trainer["numProcPerNode"] == 2 == gpus_in(settings["resources"])
    pod = _pod(job)["spec"]
    assert [v["name"] for v in pod["volumes"]] == ["kfp-workspace", "dshm"]
    assert pod["nodeSelector"] == settings["node_selector"] and pod["affinity"] == settings["affinity"]
    assert trainer["env"][0] == {"name": "NCCL_DEBUG", "value": "INFO"}


@pytest.mark.parametrize(
    ("where", "wrong"),
    [
        (("spec", "trainer"), {"numNode": 2}),  # misspelt numNodes
        (("spec",), {"podSpecOverrides": []}),  # the pre-v2.3 field (kfp's TaskConfig docstring uses it)
        (("spec", "runtimeRef"), {"nmae": "torch-distributed"}),
        (("spec", "trainer"), {"numNodes": "2"}),  # wrong type
        (("spec", "trainer"), {"numProcPerNode": "auto"}),  # v2.3.0 takes an integer only
    ],
)
def test_a_wrong_trainjob_field_fails_validation(validator, where: tuple[str, ...], wrong: dict):
    """It rejects an unknown field or a wrong type: a typo fails here, not on a cluster."""
    job = copy.deepcopy(render_trainjob(TrainJobSpec(name="yolo-x-1", train_args=ARGS, image=IMAGE, nodes=2)))
    node = job
    for key in where:
        node = node[key]
    node.update(wrong)
    assert errors(validator, job)


def test_a_wrong_pod_patch_field_fails_validation(validator):
    """It refuses a field the runtime patch does not allow (e.g. a container's resources)."""
    job = render_trainjob(TrainJobSpec(name="yolo-x-1", train_args=ARGS, image=IMAGE, nodes=2))
    _pod(job)["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    assert any("resources" in e for e in errors(validator, job))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Yolo_Frozen"}, "TrainJob name"),
        ({"nodes": 0}, "nodes=0"),
        ({"gpus_per_node": -1}, "gpus_per_node"),
    ],
)
def test_invalid_settings_are_refused_with_the_fix(change: dict, message: str):
    """It raises ConfigError naming the bad value instead of rendering a TrainJob the API would refuse."""
    fields = {"name": "yolo-x-1", "train_args": ARGS, "image": IMAGE, "nodes": 2, **change}
    with pytest.raises(ConfigError, match=message):
        render_trainjob(TrainJobSpec(**fields))


def test_trainjob_name_is_stable_per_run_and_stage_and_short():
    """It names one TrainJob per (run, stage): a retried task finds the job it created."""
    a = trainjob_name("7c4a8d09-ca37-4f1f-9b5f-1f2e3d4c5b6a", "finetune")
    assert a == trainjob_name("7c4a8d09-ca37-4f1f-9b5f-1f2e3d4c5b6a", "finetune")
    assert a != trainjob_name("7c4a8d09-ca37-4f1f-9b5f-1f2e3d4c5b6a", "frozen")
    assert re.fullmatch(r"[a-z]([-a-z0-9]*[a-z0-9])?", a) and len(a) <= 40
    assert len(trainjob_name("r", "A_Very Long Stage Name That Goes On And On")) <= 40


def test_train_argv_reads_back_as_the_same_config():
    """It passes the whole TrainConfig to `yolo-kfp train` as one JSON argument, read back without loss."""
    cfg = TrainConfig(
        freeze=10, epochs=7, imgsz=320, batch=64, lr0=0.005, warmup_epochs=0.5, seed=3, stage_name="frozen",
        cos_lr=True, momentum=0.9, cache=True, amp=False, resume=False,
        train_args={"mosaic": 0.5, "optimizer": "AdamW", "close_mosaic": 0, "hsv_h": "0.1"},
    )  # fmt: skip
    argv = train_argv(cfg, Path("/ws/d"), "/ws/init/best.pt", Path("/ws/out"))
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    args = parser.parse_args(argv)
    read = train_cli.train_config(args)
    assert read == cfg and TrainConfig.from_json(cfg.to_json()) == cfg
    assert (read.freeze, read.epochs, read.imgsz, read.batch, read.lr0) == (10, 7, 320, 64, 0.005)
    assert (read.warmup_epochs, read.seed, read.stage_name, read.device) == (0.5, 3, "frozen", "auto")
    assert (read.cos_lr, read.momentum, read.cache, read.amp) == (True, 0.9, True, False)
    assert read.train_args == cfg.train_args and "--train-arg" not in argv  # no option smuggled as a string
    assert str(args.dataset) == "/ws/d" and str(args.out) == "/ws/out"


def test_cli_flags_win_over_the_config_json():
    """It takes --config first, then each option flag given on the command line, --train-arg added."""
    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    base = TrainConfig(epochs=7, lr0=0.002, cos_lr=True, train_args={"hsv_h": 0.1})
    args = parser.parse_args([*ARGS, "--config", base.to_json(), "--epochs", "3", "--no-cos-lr",
                              "--train-arg", "mosaic=0.5"])  # fmt: skip
    cfg = train_cli.train_config(args)
    assert (cfg.epochs, cfg.lr0, cfg.cos_lr) == (3, 0.002, False)
    assert cfg.train_args == {"hsv_h": 0.1, "mosaic": 0.5}
    assert train_cli.train_config(parser.parse_args(list(ARGS))) == TrainConfig()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"epoch": 3}', "unknown field(s) epoch"),
        ('{"epochs": "3"}', "wrong type for epochs='3'"),
        ('{"amp": 1}', "wrong type for amp=1"),
    ],
)
def test_config_json_is_refused_in_one_line(text: str, message: str):
    """It refuses a --config that is not a JSON object of TrainConfig fields of the right types."""
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        TrainConfig.from_json(text)
    assert "\n" not in str(err.value)
    assert TrainConfig.from_json('{"lr0": 1, "workers": 2}') == TrainConfig(lr0=1, workers=2)


def test_render_trainjob_cli_prints_a_valid_trainjob(validator, capsys: pytest.CaptureFixture[str]):
    """It prints the TrainJob as YAML from the command line, with the train options passed through."""
    code = main([
        "render-trainjob", "--nodes", "4", "--gpus-per-node", "8", "--workspace-claim", "ws-pvc",
        "--dataset", "/kfp-workspace/d", "--weights", "/kfp-workspace/w.pt", "--out", "/kfp-workspace/out",
        "--epochs", "30", "--freeze", "10", "--train-arg", "mosaic=0.5", "--no-resume", "--stage-name", "frozen",
    ])  # fmt: skip
    assert code == 0
    job = yaml.safe_load(capsys.readouterr().out)
    assert not errors(validator, job), errors(validator, job)
    trainer = job["spec"]["trainer"]
    assert (trainer["numNodes"], trainer["numProcPerNode"]) == (4, 8)
    args = trainer["args"]
    cfg = TrainConfig.from_json(args[args.index("--config") + 1])
    assert (cfg.epochs, cfg.freeze, cfg.train_args) == (30, 10, {"mosaic": 0.5})
    assert args[args.index("--out") + 1] == "/kfp-workspace/out"
    assert cfg.resume is False and "--nodes" not in args
    assert job["metadata"]["namespace"] == "yolo-kfp"
    assert job["metadata"]["labels"]["yolo-kfp/stage"] == "frozen"


def test_render_trainjob_cli_refuses_zero_nodes(capsys: pytest.CaptureFixture[str]):
    """It reports a bad --nodes as one line with exit code 2."""
    code = main(["render-trainjob", "--nodes", "0", "--dataset", "d", "--weights", "w.pt", "--out", "o"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("yolo-kfp render-trainjob: error:") and "nodes=0" in err and "\n" not in err
