"""What every benchmark shares: the machine record, the result file, the table, the data locations.

A result file is ``benchmarks/results/<name>.json``::

    {"name", "ours", "baseline", "ratio", "ratio_min", "ratio_max", "pairs", "pair_ratios",
     "repeats_are", "unit", "goal", "goal_met", "spread_straddles_goal", "load", "machine", ...detail}

A ratio is never one shot: ``interleaved`` measures ours and the baseline as A, B, A, B ... (a warm-up
pair first, then at least five pairs), takes the ratio of each pair and reports the median with its
min..max, so a burst of load from elsewhere (the 2 CPU cores here are shared) moves one pair, not the
claim. ``ours`` and ``baseline`` are the medians of each side. The goal is judged on the median; when
min..max straddles it, the output says so. ``load`` is the 1-minute load average before and after the
measurement. Accuracy ratios repeat over seeds instead (``repeats_are: "seeds"``), and a count that
cannot vary (bytes) is measured once (``"deterministic"``).

``YOLO_KFP_BENCH_RESULTS`` and ``YOLO_KFP_BENCH_CACHE`` move the results and the cache elsewhere (the
smoke run, ``run_all --smoke``, never writes over ``benchmarks/results``).

Importing this module is cheap and needs neither kfp nor minio nor torch (the GPU machine has no kfp).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "benchmarks"
RESULTS = Path(os.environ.get("YOLO_KFP_BENCH_RESULTS") or BENCH_DIR / "results")
# git-ignored: the scaled-up VOC tree, pre-trained checkpoints
CACHE = Path(os.environ.get("YOLO_KFP_BENCH_CACHE") or BENCH_DIR / ".cache")
WEIGHTS = BENCH_DIR / "weights"  # committed checkpoints (never moved with the results)
MIN_PAIRS = 5  # interleaved pairs after the warm-up pair (issue 27)
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
        "loadavg_1m": loadavg(),
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


def loadavg() -> float | None:
    """The 1-minute load average (None where the OS has none)."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


@dataclass(frozen=True)
class Goal:
    """A goal on the ratio: ``ratio <op> value`` with ``op`` ``<=`` or ``>=``."""

    op: str
    value: float

    def met(self, ratio: float) -> bool:
        """Whether ``ratio`` reaches the goal."""
        return ratio <= self.value if self.op == "<=" else ratio >= self.value

    def __str__(self) -> str:
        return f"ratio {self.op} {self.value:g}"


@dataclass(frozen=True)
class Repeats:
    """Paired measurements of ours and the baseline, and the ratio of each pair (ours / baseline)."""

    ours: list[float]
    baseline: list[float]
    repeats_are: str = "pairs"  # "pairs" (interleaved A, B), "seeds", "deterministic"
    load_before: float | None = None
    load_after: float | None = None
    warmup: list[float] = field(default_factory=list)  # the warm-up pair (ours, baseline), not counted
    others: dict[str, list[float]] = field(default_factory=dict)  # measured in each round after the pair

    @property
    def ratios(self) -> list[float]:
        """The ratio of each pair (a zero baseline: infinite, or 1 when ours is zero too: equal)."""
        return [_ratio(a, b) for a, b in zip(self.ours, self.baseline, strict=True)]

    def fields(self) -> dict[str, Any]:
        """``ratio`` (median), ``ratio_min``, ``ratio_max``, ``pairs`` and the per-pair values."""
        r = self.ratios
        return {
            "ratio": _round(statistics.median(r)),
            "ratio_min": _round(min(r)),
            "ratio_max": _round(max(r)),
            "pairs": len(r),
            "pair_ratios": [_round(x) for x in r],
            "repeats_are": self.repeats_are,
            "ours_all": [_round(x) for x in self.ours],
            "baseline_all": [_round(x) for x in self.baseline],
            "warmup_pair": [_round(x) for x in self.warmup],
            "load": {"before": self.load_before, "after": self.load_after},
            **(
                {"others_all": {k: [_round(x) for x in v] for k, v in self.others.items()}}
                if self.others
                else {}
            ),
        }

    def ratio_of(self, other: str) -> list[float]:
        """Per-round ratios of another contender (``others``) to the baseline of the same round."""
        return [_ratio(a, b) for a, b in zip(self.others[other], self.baseline, strict=True)]


def _ratio(a: float, b: float) -> float:
    return a / b if b else (math.inf if a else 1.0)


def interleaved(
    ours: Callable[[], float],
    baseline: Callable[[], float],
    *,
    pairs: int = MIN_PAIRS,
    warmup: bool = True,
    others: dict[str, Callable[[], float]] | None = None,
) -> Repeats:
    """Measure A, B, A, B ...: a warm-up pair (not counted), then ``pairs`` pairs, ours first in each.

    Each callable runs one measurement and returns its value (seconds, ms, images/s: the same unit on
    both sides). Interleaving puts a burst of load from elsewhere into one pair's ratio, not into one side.
    ``others`` (e.g. the "before" of a change) are measured in every round right after the pair.
    """
    before = loadavg()
    first = [ours(), baseline(), *(f() for f in (others or {}).values())] if warmup else []
    a, b = [], []
    extra: dict[str, list[float]] = {k: [] for k in others or {}}
    for _ in range(pairs):
        a.append(ours())
        b.append(baseline())
        for k, f in (others or {}).items():
            extra[k].append(f())
    return Repeats(a, b, load_before=before, load_after=loadavg(), warmup=first, others=extra)


def single(ours: float, baseline: float) -> Repeats:
    """A ratio that cannot vary between runs (a byte count): one pair, min = max = the ratio."""
    now = loadavg()
    return Repeats([ours], [baseline], repeats_are="deterministic", load_before=now, load_after=now)


def straddles(repeats: Repeats, goal: Goal) -> bool:
    """Whether min..max of the pair ratios lies on both sides of the goal (the median alone decides)."""
    r = repeats.ratios
    return goal.met(min(r)) != goal.met(max(r))


def write_result(
    name: str,
    *,
    repeats: Repeats,
    unit: str,
    goal: Goal | str | None = None,
    results_dir: Path | None = None,
    ours: float | None = None,
    baseline: float | None = None,
    **detail: Any,
) -> dict[str, Any]:
    """Write ``results_dir/<name>.json`` (default ``RESULTS``) from paired repeats; return the record.

    ``ours`` and ``baseline`` are the medians of each side unless given (the seed studies keep their
    means); ``ratio`` is always the median of the pair ratios.
    A ``Goal`` is judged on that median (``goal_met``) and ``spread_straddles_goal`` says whether the
    min..max of the pairs lies on both sides of it (also logged as one line); a ``str`` goal (not a
    ratio, e.g. an absolute rate) is recorded as given with the caller's ``goal_met``.
    """
    spread = repeats.fields()
    record: dict[str, Any] = {
        "name": name,
        "ours": _round(statistics.median(repeats.ours) if ours is None else ours),
        "baseline": _round(statistics.median(repeats.baseline) if baseline is None else baseline),
        **spread,
        "unit": unit,
        "goal": str(goal) if goal is not None else None,
        "machine": machine(),
    }
    if isinstance(goal, Goal):
        record["goal_met"] = goal.met(spread["ratio"])
        record["spread_straddles_goal"] = straddles(repeats, goal)
    record.update(detail)
    results_dir = RESULTS if results_dir is None else results_dir
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)
    log.info("%s: ours %s, baseline %s %s, ratio %s (%s..%s over %d %s) -> %s", name, record["ours"],
             record["baseline"], unit, record["ratio"], record["ratio_min"], record["ratio_max"],
             record["pairs"], repeats.repeats_are, path)  # fmt: skip
    if record.get("spread_straddles_goal"):
        log.warning("%s: the spread %s..%s straddles the goal (%s); only the median %s meets or misses it",
                    name, record["ratio_min"], record["ratio_max"], goal, record["ratio"])  # fmt: skip
    return record


REPEATS_ARE = ("pairs", "seeds", "deterministic")


def contract_errors(record: dict[str, Any]) -> list[str]:
    """What a result record lacks of the contract in this module's docstring (empty: it keeps it)."""
    errors = [f"no {k}" for k in ("name", "ours", "baseline", "ratio", "ratio_min", "ratio_max", "pairs",
                                  "pair_ratios", "repeats_are", "unit", "goal", "goal_met", "load", "machine")
              if k not in record]  # fmt: skip
    if errors:
        return errors
    r, pairs = record["pair_ratios"], record["pairs"]
    if record["repeats_are"] not in REPEATS_ARE:
        errors.append(f"repeats_are {record['repeats_are']!r} not one of {REPEATS_ARE}")
    if not (isinstance(pairs, int) and pairs == len(r) >= 1):
        errors.append(f"pairs {pairs!r} is not the number of pair_ratios ({len(r)})")
    elif not math.isclose(record["ratio"], _round(statistics.median(r)), rel_tol=1e-3):
        errors.append(f"ratio {record['ratio']} is not the median of pair_ratios {r}")
    elif (record["ratio_min"], record["ratio_max"]) != (min(r), max(r)):
        errors.append(
            f"ratio_min..ratio_max {record['ratio_min']}..{record['ratio_max']} is not min..max of {r}"
        )
    if not record["unit"] or not record["goal"]:
        errors.append("empty unit or goal")
    if set(record["load"]) != {"before", "after"}:
        errors.append("load lacks before/after")
    return errors


def add_to_result(name: str, key: str, part: dict[str, Any], results_dir: Path | None = None) -> None:
    """Set ``key`` of the existing ``results_dir/<name>.json`` to ``part`` (temp file + rename).

    Raises:
        SystemExit: one line when that result does not exist yet (nothing is written).
    """
    path = (RESULTS if results_dir is None else results_dir) / f"{name}.json"
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
