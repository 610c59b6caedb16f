"""Pipeline-overhead benchmark: the ``kfp.local`` run versus the same stages called in one process.

Both sides get the same VOC tree (the demo's synthetic task-B sample, 100 images), the same
parameters (``pipelines.local_run.local_params`` with only the epochs changed, e.g. 2 + 2) and a fresh
Python process each; the parent times each process from start to exit. ``run_local`` is what
``yolo-kfp run-local`` / ``make demo`` runs (one subprocess per task, artifacts handed over through
folders); ``benchmarks.direct.run_direct`` calls the stage functions one after another.

Training is deterministic, so both must reach the same mAP: the record shows it.

``ratio`` = local pipeline wall time / direct wall time (goal <= 1.15). The overhead is mostly a
fixed cost per task, so ``detail.overhead_s`` (seconds) is the number to carry to other epoch counts.

Two local runs are timed: ``local_cold`` starts every task in a fresh interpreter (kfp's own
``SubprocessRunner`` launch, ``run-local --cold-start``: the "before"), ``local`` forks every task from
a warm interpreter that imported kfp, torch and Ultralytics once (:mod:`pipelines.warm_tasks`, the
default since this benchmark showed the imports were the overhead: the "after"). The claim is the
warm ratio; the cold one is recorded beside it.

    python -m benchmarks.bench_pipeline [--epochs-frozen 2] [--epochs-finetune 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import log, setup, table, write_result

GOAL = 1.15
# What profiling the cold run showed (python -X importtime; per-task gaps against the direct steps).
PROFILE = [
    "each task is a new interpreter: importing kfp.dsl.executor_main costs ~0.9 s (kfp.client, kubernetes)",
    "torch + Ultralytics import ~3 s in each of train x2, export, validate x2 (direct pays it once)",
    "per task the stage work itself is the same: the gaps are imports, not hand-over of artifacts",
    "fix: pipelines.warm_tasks forks each task from a zygote that imported kfp/torch/Ultralytics once",
]


def _one(kind: str, voc: Path, out: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    """Run one side in this process and return what the parent records."""
    from pipelines.local_run import local_params

    if kind == "direct":
        from benchmarks.direct import run_direct

        r = run_direct(local_params(voc, out, dict(overrides)), out)
        return {"seconds_inner": r.seconds, "steps": r.step_seconds, "map50_95": r.map50_95,
                "gate_passed": r.gate_passed}  # fmt: skip
    from pipelines.local_run import run_local

    r = run_local(voc, out, dict(overrides), warm_start=kind == "local")
    maps = {k: v.get("map50_95") for k, v in r.stages.items()}
    return {"seconds_inner": r.seconds, "steps": r.task_seconds, "map50_95": maps,
            "gate_passed": bool(r.gate.get("passed"))}  # fmt: skip


def run(epochs_frozen: int = 2, epochs_finetune: int = 2, name: str = "pipeline") -> dict[str, Any]:
    """Time both sides in fresh processes; write ``results/pipeline.json``."""
    from components.make_sample.core import SampleConfig, make_sample
    from pipelines.local_run import SAMPLE_IMAGES

    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp_name:
        tmp = Path(tmp_name)
        voc = tmp / "sample-voc"
        make_sample(voc, SampleConfig(images=SAMPLE_IMAGES, seed=0, task="B", imgsz=160))
        for kind in ("direct", "local_cold", "local"):
            out = tmp / kind
            out.mkdir()
            cmd = [sys.executable, "-m", "benchmarks.bench_pipeline", "--one", kind, "--voc", str(voc),
                   "--out", str(out), "--epochs-frozen", str(epochs_frozen),
                   "--epochs-finetune", str(epochs_finetune)]  # fmt: skip
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            runs[kind] = {"seconds": round(time.perf_counter() - t0, 2),
                          **json.loads((out / "bench.json").read_text())}  # fmt: skip
    d, lo, cold = runs["direct"], runs["local"], runs["local_cold"]
    rows = [
        ("direct: stage functions in one process", d["seconds"], d["map50_95"].get("onnx"), d["gate_passed"], 1.0),
        ("kfp.local, fresh interpreter per task (before)", cold["seconds"], cold["map50_95"].get("onnx"),
         cold["gate_passed"], round(cold["seconds"] / d["seconds"], 3)),
        ("kfp.local, tasks forked warm (run_local)", lo["seconds"], lo["map50_95"].get("onnx"), lo["gate_passed"],
         round(lo["seconds"] / d["seconds"], 3)),
    ]  # fmt: skip
    table(f"pipeline: demo sample, {epochs_frozen} + {epochs_finetune} epochs, wall seconds per process",
          ("run", "seconds", "ONNX mAP50-95", "gate passed", "vs direct"), rows)  # fmt: skip
    table("pipeline: seconds per step (direct) / per task (kfp.local, completion gaps)",
          ("direct step", "s", "kfp.local task", "s"), _side_by_side(d["steps"], lo["steps"]))  # fmt: skip
    overhead = lo["seconds"] - d["seconds"]
    return write_result(
        name, ours=lo["seconds"], baseline=d["seconds"], unit="s (wall, whole process)",
        ours_is="run_local (kfp.local SubprocessRunner, one process per task, forked from a warm interpreter)",
        baseline_is="benchmarks.direct.run_direct (same stage functions, one process)",
        overhead_s=round(overhead, 2), goal=f"ratio <= {GOAL}", goal_met=lo["seconds"] / d["seconds"] <= GOAL,
        same_map=d["map50_95"].get("onnx") == lo["map50_95"].get("onnx") == cold["map50_95"].get("onnx"),
        before={"what": "kfp.local with a fresh interpreter per task (run-local --cold-start)",
                "seconds": cold["seconds"], "ratio": round(cold["seconds"] / d["seconds"], 4),
                "overhead_s": round(cold["seconds"] - d["seconds"], 2)},
        profile=PROFILE, epochs={"frozen": epochs_frozen, "finetune": epochs_finetune}, direct=d, local=lo,
        local_cold=cold,
    )  # fmt: skip


def _side_by_side(a: dict[str, float], b: dict[str, float]) -> list[tuple[Any, ...]]:
    left, right = list(a.items()), list(b.items())
    n = max(len(left), len(right))
    left += [("", None)] * (n - len(left))
    right += [("", None)] * (n - len(right))
    return [(la, va, lb, vb) for (la, va), (lb, vb) in zip(left, right, strict=True)]


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.bench_pipeline``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs-frozen", type=int, default=2)
    p.add_argument("--epochs-finetune", type=int, default=2)
    p.add_argument("--name", default="pipeline", help="result name (e.g. pipeline_demo for 10 + 10 epochs)")
    p.add_argument("--one", choices=("direct", "local", "local_cold"), help=argparse.SUPPRESS)
    p.add_argument("--voc", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    setup()
    if a.one is None:
        run(a.epochs_frozen, a.epochs_finetune, a.name)
        return
    overrides = {"epochs_frozen": a.epochs_frozen, "epochs_finetune": a.epochs_finetune}
    record = _one(a.one, a.voc, a.out, overrides)
    (a.out / "bench.json").write_text(json.dumps(record, indent=2, default=str))
    log.info("%s: %s", a.one, record)


if __name__ == "__main__":
    main()
