"""Run the whole pipeline on this machine through ``kfp.local`` (the laptop demo and the e2e test)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components._shared.errors import ConfigError, YoloKfpError
from pipelines.config import PipelineParams

log = logging.getLogger(__name__)
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
SAMPLE_WEIGHTS = SAMPLE_DIR / "pretrained_task_a.pt"
SAMPLE_IMAGES = 100
WORKSPACE_DIR = "kfp-workspace"  # under --out: kfp.local's workspace_root (dsl.WORKSPACE_PATH_PLACEHOLDER)
LOCK_FILE = ".run-local.lock"  # under --out: held by the run using it (out_lock)


@dataclass(frozen=True)
class LocalRunResult:
    """Where the run left its outputs, and what it measured."""

    out_dir: Path
    run_dir: Path
    params: dict[str, Any]
    task_seconds: dict[str, float]
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    onnx_model: Path | None = None
    reports: list[Path] = field(default_factory=list)
    gate: dict[str, Any] = field(default_factory=dict)
    published: str | None = None  # URI of the published version (any backend); None: not published
    seconds: float = 0.0
    plan: dict[str, Any] = field(default_factory=dict)
    plan_json: Path | None = None
    run_summary: Path | None = None  # the exit handler's Markdown page


def local_params(voc: Path | None, out_dir: Path, overrides: dict[str, Any]) -> PipelineParams:
    """The demo's parameters: cluster defaults <- ``params/local.yaml`` <- sample paths <- user overrides."""
    from pipelines.config import load_params, local_defaults

    base = local_defaults()
    base["source"] = str(voc) if voc else str(out_dir / "sample-voc")
    base["weights"] = str(SAMPLE_WEIGHTS)
    base["publish_dest"] = str(out_dir / "models" / "yolo-transfer")
    base["checkpoint_root"] = str(out_dir / "checkpoints")  # same code path as s3://runs/... on the cluster
    params_file = overrides.pop("params_file", None)
    return load_params(params_file, {**base, **{k: v for k, v in overrides.items() if v is not None}})


def run_local(
    voc: Path | None, out_dir: Path, overrides: dict[str, Any] | None = None, *, warm_start: bool = True
) -> LocalRunResult:
    """Run the compiled DAG locally on ``voc`` (None: the built-in sample), results into ``out_dir``.

    ConfigError: ``out_dir`` unusable or in use, no sample checkpoint, or a task failed.
    """
    out_dir = Path(out_dir).resolve()
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} is a file: run-local writes a folder there; pass a folder path")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"--out {out_dir}: a parent of it is a file; pass a folder path") from None
    with out_lock(out_dir):
        return _run_local_locked(voc, out_dir, dict(overrides or {}), warm_start=warm_start)


@contextlib.contextmanager
def out_lock(out_dir: Path) -> Iterator[None]:
    """Hold ``OUT/.run-local.lock`` (an ``flock``) for the block; ConfigError naming the holder's pid when taken.

    The file stays: removing it would let a third run lock a new file while a second waits on the old one.
    """
    fd = os.open(out_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise ConfigError(
                f"{out_dir} is in use by another run-local (pid {holder}): wait for it to end, or pass another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock; the fd is not inheritable, so no task process holds it


def _run_local_locked(
    voc: Path | None, out_dir: Path, overrides: dict[str, Any], *, warm_start: bool
) -> LocalRunResult:
    params = local_params(voc, out_dir, overrides)
    if voc is None:
        _make_demo_sample(out_dir / "sample-voc")
    if params.weights == str(SAMPLE_WEIGHTS) and not SAMPLE_WEIGHTS.is_file():
        raise ConfigError(f"{SAMPLE_WEIGHTS} is missing: run 'make pretrained-sample' to recreate it")
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from kfp import local

    from pipelines.warm_tasks import FAILURE_FILE_ENV, warm_tasks
    from pipelines.yolo_transfer import yolo_transfer

    root = out_dir / "kfp"
    root.mkdir(exist_ok=True)
    before = {p.name for p in root.iterdir()}
    warnings.filterwarnings(
        "ignore", message=".*(have no effect in the current local runner|non-Python base image).*"
    )
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root),
               workspace_root=str(out_dir / WORKSPACE_DIR), raise_on_error=True)  # fmt: skip
    failure_file = out_dir / ".task-failure.txt"
    failure_file.unlink(missing_ok=True)
    os.environ[FAILURE_FILE_ENV] = str(failure_file)
    started = time.perf_counter()
    try:
        with warm_tasks(enabled=warm_start):
            without_retries(yolo_transfer)(**params.to_dict())
    except RuntimeError as err:  # kfp.local raises RuntimeError naming the failed task
        raise ConfigError(_failure_message(err, failure_file)) from err
    finally:
        os.environ.pop(FAILURE_FILE_ENV, None)
    seconds = time.perf_counter() - started
    new = sorted((p for p in root.iterdir() if p.name not in before), key=lambda p: p.stat().st_mtime)
    if not new:
        raise YoloKfpError(f"{root}: the local run left no outputs")
    return collect_results(new[-1], out_dir, params, seconds, started_at=time.time() - seconds)


def without_retries(pipeline: Any) -> Any:
    """A copy of ``pipeline`` without retries (kfp.local honours ``set_retry``: 60 + 120 + 240 s of sleep)."""
    import copy

    local = copy.deepcopy(pipeline)
    spec = local.pipeline_spec
    for comp in [spec.root, *spec.components.values()]:
        for task in comp.dag.tasks.values():
            task.ClearField("retry_policy")
    return local


def _failure_message(err: RuntimeError, failure_file: Path) -> str:
    """One line: which task failed and, when it recorded it, why (not kfp's "Inner task failed")."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", " ".join(str(err).split()))
    task = re.search(r"Inner task failed: '?([\w-]+)'?", text)
    where = f"task {task.group(1)}" if task else "a task"
    reasons = failure_file.read_text(encoding="utf-8").strip().splitlines() if failure_file.is_file() else []
    if reasons:
        return f"local pipeline run failed in {where}: {reasons[-1][:400]}"
    return f"local pipeline run failed: {text[:300]} (the task's log is above)"


def _make_demo_sample(dest: Path) -> None:
    from components.make_sample.core import SampleConfig, make_sample

    if not (dest / "Annotations").is_dir():
        make_sample(dest, SampleConfig(images=SAMPLE_IMAGES, seed=0, task="B", imgsz=160))


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def collect_results(
    run_dir: Path, out_dir: Path, params: PipelineParams, seconds: float, started_at: float
) -> LocalRunResult:
    """Read the task folders of a finished local run into a ``LocalRunResult``."""
    tasks = sorted((p for p in run_dir.iterdir() if p.is_dir()), key=_finished_at)
    task_seconds, previous = {}, started_at
    for task in tasks:  # kfp.local runs tasks one after another: durations are completion gaps
        end = _finished_at(task)
        task_seconds[task.name] = round(max(0.0, end - previous), 1)
        previous = end
    stages: dict[str, dict[str, Any]] = {}
    reports: list[Path] = []
    onnx_model = published = plan_json = None
    gate: dict[str, Any] = {}
    for task in tasks:
        plan_json = next(iter(task.glob("*/plan.json")), plan_json)
        for metrics in task.glob("*/metrics.json"):
            data = _read_json(metrics)
            key = data.get("stage") or ("onnx" if data.get("format") == "onnx" else "pytorch")
            stages[key] = data
            if data.get("format") == "onnx":
                gate = data.get("gate", {})
        reports += sorted(
            p for p in task.glob("*") if p.is_file() and p.suffix in ("", ".html") and _is_html(p)
        )
        onnx_model = next(iter(task.glob("*/model.onnx")), onnx_model)
    reports = _collect_reports(reports, out_dir / "reports")
    publish_out = _read_json(run_dir / "publish-model" / "executor_output.json").get("parameterValues", {})
    published = publish_out.get("uri") or None
    plan = _read_json(plan_json).get("plan", {}) if plan_json else {}
    summary = run_dir / "summarize-run" / "run_summary"
    return LocalRunResult(out_dir, run_dir, params.to_dict(), task_seconds, stages, onnx_model, reports, gate,
                          published, round(seconds, 1), plan, plan_json,
                          summary if summary.is_file() else None)  # fmt: skip


def _collect_reports(reports: list[Path], dest: Path) -> list[Path]:
    """Copy the HTML reports to ``dest/<task>-<name>.html`` so a browser opens them directly."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    out: dict[Path, None] = {}  # ordered, each report once
    for report in reports:
        target = dest / f"{report.parent.name}-{report.name}.html"
        shutil.copyfile(report, target)
        out[target] = None
    return list(out)


def _finished_at(task: Path) -> float:
    files = [p.stat().st_mtime for p in task.rglob("*") if p.is_file()]
    return max(files, default=task.stat().st_mtime)


def _is_html(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(256).lstrip().lower().startswith((b"<!doctype html", b"<html"))
