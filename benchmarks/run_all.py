"""Run every benchmark, each in its own process, then print the headline ratios (docs/benchmarks.md).

python -m benchmarks.run_all                 # what ``make bench`` runs (under 15 minutes on 2 CPUs)
python -m benchmarks.run_all --only freeze   # one benchmark (repeatable: --only data --only export)
python -m benchmarks.run_all --quick | --smoke | --markdown
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import REPO, RESULTS, contract_errors, log, machine, setup, table

# name -> (module, arguments, arguments with --quick); data writes data.json and data_path.json
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "data": ("benchmarks.bench_data", [], ["--pairs", "3"]),
    # after data, which builds the 20 000-image tree it reuses
    "data_movement": ("benchmarks.bench_data_movement", [], []),
    "freeze": ("benchmarks.bench_freeze", ["--images", "80"], ["--images", "80", "--pairs", "3"]),
    "export": ("benchmarks.bench_export", ["--pairs", "15"], ["--pairs", "5"]),
    "pipeline": ("benchmarks.bench_pipeline", [], ["--pairs", "3"]),
    "transfer": (
        "benchmarks.transfer",
        ["--no-voc", "--epochs", "12"],
        ["--quick", "--no-voc", "--epochs", "12"],
    ),
    "predict": ("benchmarks.bench_predict", [], ["--pairs", "3"]),
}
# tiny sizes, seconds each (one pair where a pair is two fresh processes); nothing here is a measurement
SMOKE: dict[str, list[str]] = {
    "data": ["--images", "100", "--pairs", "2", "--no-warmup"],
    "data_movement": ["--images", "100"],
    "freeze": ["--images", "24", "--imgsz", "64", "--batch", "8", "--epochs", "2", "--pairs", "1", "--no-warmup",
               "--only-pair"],
    "export": ["--imgsz", "96", "--pairs", "2", "--block", "1", "--no-warmup"],
    "pipeline": ["--images", "30", "--imgsz", "64", "--pairs", "1", "--no-warmup"],
    "transfer": ["--seeds", "2", "--epochs", "2", "--images", "24", "--imgsz", "64", "--no-voc"],
    "predict": ["--images", "4", "--imgsz", "64", "--pairs", "1", "--no-warmup"],
}  # fmt: skip
RESULT_NAMES = {"data": ["data", "data_path"]}
BUDGET_S = 15 * 60  # the limit for ``make bench`` on 2 CPUs


def run(names: list[str], *, quick: bool = False, smoke: bool = False) -> dict[str, float]:
    """Run the named benchmarks one after another, each in its own process; seconds per benchmark."""
    seconds: dict[str, float] = {}
    for name in names:
        module, args, quick_args = BENCHMARKS[name]
        cmd = [sys.executable, "-m", module, *(SMOKE[name] if smoke else quick_args if quick else args)]
        log.info("running %s", " ".join(cmd))
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, check=True)
        seconds[name] = round(time.perf_counter() - t0, 1)
    return seconds


def headline(names: list[str], results: Path, seconds: dict[str, float], total: float) -> list[dict]:
    """Print the headline table (median, min..max, pairs, goal) and return the records it read."""
    rows, records = [], []
    for name in names:
        for result in RESULT_NAMES.get(name, [name]):
            path = results / f"{result}.json"
            if not path.is_file():
                continue
            r = json.loads(path.read_text())
            records.append(r)
            note = "spread straddles the goal" if r.get("spread_straddles_goal") else ""
            rows.append((result, r["ratio"], f"{r['ratio_min']}..{r['ratio_max']}",
                         f"{r['pairs']} {r['repeats_are']}", r["unit"], r.get("goal") or "",
                         r.get("goal_met"), note, seconds[name]))  # fmt: skip
    table(f"headline ratios (ours / baseline: median of pairs), {total / 60:.1f} min in total",
          ("result", "ratio", "min..max", "repeats", "unit", "goal", "met", "note", "bench s"), rows)  # fmt: skip
    return records


# README's benchmark table: result -> what it compares (the numbers come from the result files)
README_ROWS = {
    "data": "data: `convert` vs single-process ElementTree reference, 20 000 real-VOC images, images/s",
    "data_path": "data path: convert + split + stats, images/s vs the reference's conversion alone",
    "data_movement": "data movement: bytes between tasks, run workspace vs a copy per task",
    "export": "export: ONNX Runtime (onnxsim) vs PyTorch eager, CPU, batch 1, latency",
    "freeze": "freeze: s/epoch freeze 10 vs 0 (CPU)",
    "pipeline": "pipeline: `run-local` (kfp.local) vs the same component functions in one process",
    "transfer": "transfer: recipe vs best other variant, test mAP50-95",
    "predict": "predict: `yolo-kfp predict` vs Ultralytics `YOLO(model.onnx).predict`, images/s",
}


def markdown(results: Path = RESULTS) -> str:
    """README's benchmark table from the result files: median ratio, min..max, repeats, goal, met."""
    lines = ["| benchmark | ratio (median) | min..max | repeats | goal | met |", "|---|---|---|---|---|---|"]
    for name, what in README_ROWS.items():
        r = json.loads((results / f"{name}.json").read_text())
        met = {True: "yes", False: "**no**", None: "—"}[r.get("goal_met")]
        if r.get("spread_straddles_goal"):
            met += " (spread straddles it)"
        lines.append(f"| {what} | **{r['ratio']:.3g}** | {r['ratio_min']:.3g}..{r['ratio_max']:.3g} "
                     f"| {r['pairs']} {r['repeats_are']} | {r['goal']} | {met} |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.run_all``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repeats and seeds (a few minutes)")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, results in a temp folder (CI)")
    p.add_argument(
        "--results-dir", type=Path, help="with --smoke: where the results go (default: a temp folder)"
    )
    p.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only this benchmark")
    p.add_argument("--markdown", action="store_true", help="instead: print README's table from the results")
    a = p.parse_args(argv)
    if a.markdown:
        print(markdown())  # noqa: T201 - the CLI's only output
        return
    setup()
    results = RESULTS
    if a.smoke:  # the children read these: nothing of a smoke run lands in benchmarks/
        results = (a.results_dir or Path(tempfile.mkdtemp(prefix="bench-smoke-"))).resolve()
        os.environ["YOLO_KFP_BENCH_RESULTS"] = str(results)
        os.environ["YOLO_KFP_BENCH_CACHE"] = str(results / ".cache")
    names = a.only or list(BENCHMARKS)
    t_all = time.perf_counter()
    seconds = run(names, quick=a.quick, smoke=a.smoke)
    total = time.perf_counter() - t_all
    records = headline(names, results, seconds, total)
    log.info("all benchmarks done in %.0f s: %s (results in %s)", total, seconds, results)
    broken = {r.get("name"): e for r in records if (e := contract_errors(r))}
    missing = {n for name in names for n in RESULT_NAMES.get(name, [name])} - {r.get("name") for r in records}
    if broken or missing:
        raise SystemExit(f"results break the contract: {broken}; missing: {sorted(missing)}")
    if not a.only:
        record = {"name": "run_all", "quick": a.quick, "smoke": a.smoke, "seconds": seconds,
                  "total_s": round(total, 1), "budget_s": BUDGET_S, "within_budget": total <= BUDGET_S,
                  "machine": machine()}  # fmt: skip
        (results / "run_all.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
