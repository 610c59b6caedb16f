"""What every benchmark shares (result contract: docs/benchmarks.md); imports no kfp, minio or torch."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
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
MIN_PAIRS = 5  # interleaved pairs after the warm-up (issue 27)
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


def _proc_value(path: str, key: str) -> str | None:
    try:
        lines = Path("/proc", path).read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith(key)), None)


def machine() -> dict[str, Any]:
    """CPU model, cores, RAM, Python, torch, GPU (or None), date, and the current load average."""
    ram_kib = _proc_value("meminfo", "MemTotal")
    info: dict[str, Any] = {
        "cpu": _proc_value("cpuinfo", "model name") or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gib": round(int(ram_kib.split()[0]) / 2**20, 1) if ram_kib else None,
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
        out = {
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
        }
        if self.others:
            out["others_all"] = {k: [_round(x) for x in v] for k, v in self.others.items()}
        return out

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
    warmup: bool | Callable[[], object] = True,
    others: dict[str, Callable[[], float]] | None = None,
) -> Repeats:
    """Measure A, B, A, B ...: a warm-up (not counted), then ``pairs`` pairs; ``others`` after each pair.

    ``warmup``: True is one pair of everything; a callable is a cheaper warm-up run instead (nothing recorded).
    """
    before = loadavg()
    first: list[float] = []
    if callable(warmup):
        warmup()
    elif warmup:
        first = [ours(), baseline(), *(f() for f in (others or {}).values())]
    a, b = [], []
    extra: dict[str, list[float]] = {k: [] for k in others or {}}
    for _ in range(pairs):
        a.append(ours())
        b.append(baseline())
        for k, f in (others or {}).items():
            extra[k].append(f())
    return Repeats(a, b, load_before=before, load_after=loadavg(), warmup=first, others=extra)


def import_warmup(*modules: str) -> Callable[[], None]:
    """A warm-up for pairs of fresh processes: one interpreter importing ``modules`` (page cache, bytecode).

    Nothing else of a warm-up pair carries over to the next fresh process, and the pair costs ~10x more.
    """

    def warm() -> None:
        subprocess.run([sys.executable, "-c", f"import {', '.join(modules)}"], cwd=REPO, check=True)

    return warm


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
    """Write ``results_dir/<name>.json`` from paired repeats; a ``str`` goal needs the caller's ``goal_met``."""
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
    path = (RESULTS if results_dir is None else results_dir) / f"{name}.json"
    _write_json(path, record)
    log.info("%s: ours %s, baseline %s %s, ratio %s (%s..%s over %d %s) -> %s", name, record["ours"],
             record["baseline"], unit, record["ratio"], record["ratio_min"], record["ratio_max"],
             record["pairs"], repeats.repeats_are, path)  # fmt: skip
    if record.get("spread_straddles_goal"):
        log.warning("%s: the spread %s..%s straddles the goal (%s); only the median %s meets or misses it",
                    name, record["ratio_min"], record["ratio_max"], goal, record["ratio"])  # fmt: skip
    return record


REPEATS_ARE = ("pairs", "seeds", "deterministic")


def contract_errors(record: dict[str, Any]) -> list[str]:
    """How a result record breaks the contract (keys, median ratio, min..max); empty when it keeps it."""
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
    """Set ``key`` of the existing ``results_dir/<name>.json`` to ``part``; SystemExit when it does not exist."""
    path = (RESULTS if results_dir is None else results_dir) / f"{name}.json"
    if not path.is_file():
        raise SystemExit(f"{path}: not found; run the study that writes it first (then add {key})")
    record = json.loads(path.read_text(encoding="utf-8"))
    record[key] = part
    _write_json(path, record)
    log.info("%s: %s added -> %s", name, key, path)


def _write_json(path: Path, record: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # two runs at once: the last rename wins, whole
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def _round(v: float, digits: int = 4) -> float:
    return float(f"{v:.{digits}g}") if isinstance(v, float) else v


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (so it pastes into the docs), printed to stdout and returned."""
    cells = [[_cell(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    lines = [f"\n## {title}\n", "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |",
             "|" + "|".join("-" * (w + 2) for w in widths) + "|",
             *("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells)]  # fmt: skip
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


def peak_rss_mib(children: bool = False) -> float:
    """Peak resident memory of this process (or of its finished children) in MiB (Linux: KiB units)."""
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def in_fresh_process(module: str, out: Path, args: Sequence[str]) -> tuple[float, dict[str, Any]]:
    """Run ``python -m <module> --out <out> <args>`` in a fresh process; its wall seconds and ``out/bench.json``."""
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", module, "--out", str(out), *args], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    return time.perf_counter() - t0, _take_record(out)


def _take_record(out: Path) -> dict[str, Any]:
    """A measured process's ``out/bench.json``; ``out`` is removed."""
    record = json.loads((out / "bench.json").read_text())
    shutil.rmtree(out, ignore_errors=True)
    return record


def in_forked_process(
    main: Callable[[list[str]], None], out: Path, args: Sequence[str]
) -> tuple[float, dict[str, Any]]:
    """``in_fresh_process`` by ``fork()`` from this process: ``main(["--out", out, *args])`` in the child.

    Every measured side still starts from the same state (this process's imports), without paying them again
    (~5 s of torch, Ultralytics and torch._inductor per process). CPU only: no CUDA may be initialised here.
    """
    out.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: like ``python -m <module> --out <out> <args>`` with stdout discarded
        code = 1
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            main(["--out", str(out), *args])
            code = 0
        finally:
            sys.stderr.flush()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    seconds = time.perf_counter() - t0
    if (code := os.waitstatus_to_exitcode(status)) != 0:
        raise RuntimeError(f"forked benchmark process {' '.join(args)} exited with {code}")
    return seconds, _take_record(out)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def synthetic_dataset(out: Path, *, images: int, task: str = "B", seed: int = 0, val: float = 0.2,
                      test: float = 0.0, imgsz: int = 160) -> Path:  # fmt: skip
    """make-sample -> convert -> split into ``out`` (reused when there); dataset.yaml. No kfp, no torch."""
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
    """convert (only ``classes`` when given) -> split of a real VOC tree into ``out`` (reused); dataset.yaml."""
    from components.convert.core import ConvertConfig, convert_voc
    from components.split.core import SplitConfig, split_dataset

    dataset_yaml = out / "dataset" / "dataset.yaml"
    if not dataset_yaml.is_file():
        convert_voc([voc], out / "yolo", ConvertConfig(workers=1, classes=classes))
        split_dataset(out / "yolo", out / "dataset", SplitConfig(val=val, test=test, seed=seed))
    return dataset_yaml
