"""The direct run (the pipeline benchmark's baseline) cannot drift from the DAG.

``pipelines.stage_args.task_params`` is checked against the pipeline compiled from the current source,
value by value, and a tiny direct run must reach exactly the ONNX mAP50-95 of a tiny ``run-local`` with
the same parameters.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from components._shared import images
from pipelines.config import PipelineParams
from pipelines.stage_args import TASKS, task_params

WS, RUN = "/ws", "run-1"
# the compiler's placeholders for the workspace and the job id, as they appear in the IR
PLACEHOLDERS = {"{{$.workspace_path}}": WS, "{{$.pipeline_job_uuid}}": RUN}


def _distinct_params() -> PipelineParams:
    """Parameters where no two fields share a value, so a swapped wiring shows."""
    return PipelineParams(source="s3://src/", classes="a,b", include_difficult=True, weights="w.pt",
                          model_size="s", strategy="full", imgsz=352, batch=7, freeze="3", epochs_frozen=11,
                          epochs_finetune=13, lr0=0.031, lr_finetune=0.0037, warmup_epochs=1.5,
                          warmup_finetune=0.25, val=0.21, test=0.17, group="g(.*)", seed=5, gpus=3, nodes=1,
                          accelerator="acc", train_args={"mosaic": 0.5}, min_map50_95=0.41,
                          champion_tolerance=0.013, class_tolerance=0.07, allow_class_change=True,
                          publish_dest="s3://dest/m", checkpoint_root="s3://ck/r")  # fmt: skip


def _compiled_tasks(tmp_path: Path) -> dict[str, tuple[dict[str, Any], set[str]]]:
    """Each leaf task's IR parameter inputs (pipeline inputs resolved to their root names) and the
    parameter names its component declares."""
    from kfp import compiler

    from pipelines.yolo_transfer import yolo_transfer

    out = tmp_path / "p.yaml"
    compiler.Compiler().compile(yolo_transfer, str(out))
    spec = next(yaml.safe_load_all(out.read_text(encoding="utf-8")))
    found: dict[str, tuple[dict[str, Any], set[str]]] = {}

    def walk(dag: dict[str, Any], outer: dict[str, Any]) -> None:
        for name, t in dag["tasks"].items():
            resolved = {}
            for key, src in t.get("inputs", {}).get("parameters", {}).items():
                if "componentInputParameter" in src:
                    resolved[key] = outer.get(src["componentInputParameter"], src["componentInputParameter"])
                elif "runtimeValue" in src:
                    resolved[key] = ("const", src["runtimeValue"]["constant"])
                else:
                    resolved[key] = ("upstream",)
            comp = spec["components"][t["componentRef"]["name"]]
            if "dag" in comp:
                walk(comp["dag"], resolved)
            else:
                declared = set(comp.get("inputDefinitions", {}).get("parameters", {}))
                found[name] = (resolved, declared)

    walk(spec["root"]["dag"], {})
    return found


def test_task_params_are_what_the_compiled_pipeline_passes(tmp_path: Path) -> None:
    """It gives every task exactly the parameters the compiled DAG gives it, with the same values: a
    pipeline input by name, a constant as compiled, the workspace and job id for their placeholders."""
    p = _distinct_params()
    ours = task_params(p, workspace=WS, run_id=RUN, trainjob_image=images.GPU)
    compiled = _compiled_tasks(tmp_path)
    assert set(ours) == set(TASKS) == set(compiled)
    for task in TASKS:
        ir, declared = compiled[task]
        # status (the exit handler's) is set by KFP itself, like an upstream output
        static = {k: v for k, v in ir.items() if k in declared and v != ("upstream",) and k != "status"}
        assert set(ours[task]) == set(static), task
        for key, source in static.items():
            if isinstance(source, tuple):  # a constant
                want = PLACEHOLDERS.get(source[1], source[1]) if isinstance(source[1], str) else source[1]
            else:  # a pipeline input: its value in p
                want = getattr(p, source)
            assert ours[task][key] == want, f"{task}.{key}: {ours[task][key]!r} != {want!r}"


@pytest.mark.slow
def test_direct_run_reaches_the_local_runs_onnx_map(tmp_path: Path) -> None:
    """It runs the built-in sample through the stages directly and through run-local (kfp.local) with
    the same parameters; training is seeded and deterministic on the CPU, so the ONNX mAP50-95 and the
    gate's verdict are the same, exactly."""
    from benchmarks.direct import run_direct
    from pipelines.local_run import local_params, run_local

    voc = tmp_path / "voc"
    from components.make_sample.core import SampleConfig, make_sample

    make_sample(voc, SampleConfig(images=40, seed=0, task="B", imgsz=96))
    tiny = {"imgsz": 64, "epochs_frozen": 1, "epochs_finetune": 1, "batch": 8, "min_map50_95": 0.0}
    direct = run_direct(local_params(voc, tmp_path / "direct", dict(tiny)), tmp_path / "direct")
    local = run_local(voc, tmp_path / "local", dict(tiny))
    assert direct.map50_95["onnx"] is not None and direct.map50_95["onnx"] > 0
    assert direct.map50_95["onnx"] == local.stages["onnx"]["map50_95"]
    assert direct.gate_passed is bool(local.gate.get("passed")) is True
    assert direct.published is not None and local.published is not None
