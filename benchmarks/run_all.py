"""Run every benchmark, one after another, each in its own process; then print the headline ratios.

    python -m benchmarks.run_all                 # what ``make bench`` runs (under 15 minutes on 2 CPUs)
    python -m benchmarks.run_all --quick         # one transfer seed, no real-VOC transfer part
    python -m benchmarks.run_all --only freeze   # one benchmark (repeatable: --only data --only export)
    python -m benchmarks.run_all --only data_movement   # bytes between tasks: run workspace vs copies

Results: ``benchmarks/results/<name>.json`` (see ``benchmarks/common.py``); a full run (not ``--only``)
also records its own duration, per benchmark and in total, in ``benchmarks/results/run_all.json``. The GPU part of ``freeze``
runs only on a machine with CUDA (``python -m benchmarks.bench_freeze --device 0 ...``, see its doc).
"""

from __future__ import annotations

import argparse
import json
import time

from benchmarks.common import RESULTS, log, machine, run_module, setup, table

# name -> (module, arguments, arguments with --quick); data writes data.json and data_path.json
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "data": ("benchmarks.bench_data", [], ["--repeats", "1"]),
    # after data, which builds the 20 000-image tree it reuses
    "data_movement": ("benchmarks.bench_data_movement", [], []),
    "freeze": ("benchmarks.bench_freeze", ["--epochs", "3"], ["--epochs", "2"]),
    "export": ("benchmarks.bench_export", [], ["--runs", "10"]),
    "pipeline": ("benchmarks.bench_pipeline", [], []),
    # the real part at 6 epochs / 160 px keeps the whole run under 15 min on 2 CPUs (16 / 224 px:
    # results/transfer_voc_16ep.json, 10 min on its own)
    "transfer": ("benchmarks.transfer", ["--voc-epochs", "6", "--voc-imgsz", "160"], ["--quick", "--no-voc"]),
}
RESULT_NAMES = {"data": ["data", "data_path"]}
BUDGET_S = 15 * 60  # the limit for ``make bench`` on 2 CPUs


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.run_all``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer repeats and seeds (a few minutes)")
    p.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only this benchmark")
    a = p.parse_args(argv)
    setup()
    seconds: dict[str, float] = {}
    t_all = time.perf_counter()
    for name in a.only or list(BENCHMARKS):
        module, args, quick = BENCHMARKS[name]
        t0 = time.perf_counter()
        run_module(module, quick if a.quick else args)
        seconds[name] = round(time.perf_counter() - t0, 1)
    total = time.perf_counter() - t_all
    rows = []
    for name in a.only or list(BENCHMARKS):
        for result in RESULT_NAMES.get(name, [name]):
            path = RESULTS / f"{result}.json"
            if path.is_file():
                r = json.loads(path.read_text())
                rows.append((result, r["ratio"], r["ours"], r["baseline"], r["unit"], r.get("goal", ""),
                             r.get("goal_met"), seconds[name]))  # fmt: skip
    table(f"headline ratios (ours / baseline), {total / 60:.1f} min in total",
          ("result", "ratio", "ours", "baseline", "unit", "goal", "met", "bench s"), rows)  # fmt: skip
    log.info("all benchmarks done in %.0f s: %s", total, seconds)
    if not a.only:
        record = {"name": "run_all", "quick": a.quick, "seconds": seconds, "total_s": round(total, 1),
                  "budget_s": BUDGET_S, "within_budget": total <= BUDGET_S, "machine": machine()}  # fmt: skip
        (RESULTS / "run_all.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
