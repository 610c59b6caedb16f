"""What every benchmark shares: the machine record, the result file, the table, the data locations.

A result file is ``benchmarks/results/<name>.json``::

    {"name", "ours", "baseline", "ratio" (= ours / baseline), "unit", "machine", ...detail}

Ratios measured in one run are the claim (the 2 CPU cores here are shared with other people's test
runs); absolute times are recorded as detail. ``machine`` also records the load average when the
result was written, so a reader can see whether the machine was busy.

Importing this module is cheap and needs neither kfp nor minio nor torch (the GPU machine has no kfp).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "benchmarks"
RESULTS = BENCH_DIR / "results"
CACHE = BENCH_DIR / ".cache"  # git-ignored: the scaled-up VOC tree, pre-trained checkpoints
SHARED_DATA = Path(os.environ.get("YOLO_KFP_SHARED_DATA", REPO.parent / "shared" / "data"))
SAMPLE_WEIGHTS = REPO / "pipelines" / "sample" / "pretrained_task_a.pt"

log = logging.getLogger("benchmarks")


def setup() -> None:
    """Offline Ultralytics, quiet third-party loggers, our logging on stderr (tables go to stdout)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ.setdefault("TQDM_DISABLE", "1")
    from components._shared.log import setup_logging

    setup_logging(os.environ.get("YOLO_KFP_LOG_LEVEL", "WARNING"))
    log.setLevel(logging.INFO)


def shared_voc(name: str) -> Path | None:
    """A real VOC sample under ``../shared/data`` (``voc-helmet``, ``voc-other``), or None when absent."""
    path = SHARED_DATA / name
    return path if (path / "Annotations").is_dir() and (path / "JPEGImages").is_dir() else None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, Python, torch, GPU (or None), date, and the current load average."""
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gib": _ram_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "loadavg_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "torch": None,
        "gpu": None,
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
            info["cuda"] = torch.version.cuda
    except ImportError:
        pass
    return info


def write_result(
    name: str, *, ours: float, baseline: float, unit: str, results_dir: Path = RESULTS, **detail: Any
) -> dict[str, Any]:
    """Write ``results_dir/<name>.json`` with ``ratio = ours / baseline`` and the machine; return it."""
    record: dict[str, Any] = {
        "name": name,
        "ours": _round(ours),
        "baseline": _round(baseline),
        "ratio": _round(ours / baseline) if baseline else None,
        "unit": unit,
        "machine": machine(),
        **detail,
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    log.info("%s: ours %s, baseline %s %s, ratio %s -> %s", name, record["ours"], record["baseline"],
             unit, record["ratio"], path)  # fmt: skip
    return record


def add_to_result(name: str, key: str, part: dict[str, Any], results_dir: Path = RESULTS) -> None:
    """Set ``key`` of the existing ``results_dir/<name>.json`` to ``part`` (temp file + rename).

    Raises:
        SystemExit: one line when that result does not exist yet (nothing is written).
    """
    path = results_dir / f"{name}.json"
    if not path.is_file():
        raise SystemExit(f"{path}: not found; run the study that writes it first (then add {key})")
    record = json.loads(path.read_text(encoding="utf-8"))
    record[key] = part
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    log.info("%s: %s added -> %s", name, key, path)


def _round(v: float, digits: int = 4) -> float:
    return float(f"{v:.{digits}g}") if isinstance(v, float) else v


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (so it pastes into the docs), printed to stdout and returned."""
    cells = [[_cell(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = [
        f"\n## {title}\n",
        "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
    ]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1000 else f"{v:,.0f}"
    return "—" if v is None else str(v)


@contextmanager
def stopwatch() -> Iterator[dict[str, float]]:
    """``with stopwatch() as t: ...`` then ``t["s"]`` holds the wall seconds."""
    box = {"s": 0.0}
    t0 = time.perf_counter()
    try:
        yield box
    finally:
        box["s"] = time.perf_counter() - t0


def median_ms(fn: Callable[[], Any], runs: int, warmup: int = 3) -> tuple[float, list[float]]:
    """Median wall time of ``fn`` in milliseconds over ``runs`` calls after ``warmup`` calls; all times."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), times


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def synthetic_dataset(out: Path, *, images: int, task: str = "B", seed: int = 0, val: float = 0.2,
                      test: float = 0.0, imgsz: int = 160) -> Path:  # fmt: skip
    """make-sample -> convert -> split into ``out`` (reused when already there); returns dataset.yaml.

    Uses only our data stages (no kfp, no torch), so it also runs on the GPU machine.
    """
    from components.make_sample.core import SampleConfig, make_sample
    from components.split.core import SplitConfig, split_dataset

    dataset_yaml = out / "dataset" / "dataset.yaml"
    if dataset_yaml.is_file():
        return dataset_yaml
    make_sample(out / "voc", SampleConfig(images=images, seed=seed, task=task, imgsz=imgsz))
    try:
        from components.convert.core import ConvertConfig, convert_voc
    except ModuleNotFoundError as err:  # e.g. no defusedxml on a bare GPU machine: same labels, plain ET
        from benchmarks.bench_data import reference_convert

        log.warning(
            "convert stage unavailable (%s); converting the synthetic sample with plain ElementTree", err
        )
        reference_convert(out / "voc", out / "yolo")
    else:
        convert_voc([out / "voc"], out / "yolo", ConvertConfig(workers=1))
    split_dataset(out / "yolo", out / "dataset", SplitConfig(val=val, test=test, seed=seed))
    return dataset_yaml


def voc_dataset(voc: Path, out: Path, *, val: float = 0.2, test: float = 0.0, seed: int = 0,
                classes: tuple[str, ...] | None = None) -> Path:  # fmt: skip
    """convert (only ``classes`` when given) -> split of a real VOC tree into ``out`` (reused when already
    there); returns dataset.yaml."""
    from components.convert.core import ConvertConfig, convert_voc
    from components.split.core import SplitConfig, split_dataset

    dataset_yaml = out / "dataset" / "dataset.yaml"
    if not dataset_yaml.is_file():
        convert_voc([voc], out / "yolo", ConvertConfig(workers=1, classes=classes))
        split_dataset(out / "yolo", out / "dataset", SplitConfig(val=val, test=test, seed=seed))
    return dataset_yaml


def run_module(module: str, args: Sequence[str], *, timeout: float | None = None) -> None:
    """Run ``python -m <module> <args>`` from the repository root (one benchmark per process)."""
    import subprocess

    cmd = [sys.executable, "-m", module, *args]
    log.info("running %s", " ".join(cmd))
    subprocess.run(cmd, cwd=REPO, check=True, timeout=timeout)
