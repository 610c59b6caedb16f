"""Run every benchmark in sequence (2 cores: never in parallel): ``make bench``.

python -m benchmarks.run_all [--quick] [--only data|freeze|export|pipeline|transfer]
"""

from __future__ import annotations

import argparse
import importlib
import time

BENCHMARKS = {
    "data": "benchmarks.bench_data",
    "freeze": "benchmarks.bench_freeze",
    "export": "benchmarks.bench_export",
    "pipeline": "benchmarks.bench_pipeline",
    "transfer": "benchmarks.transfer",
}


def main(argv: list[str] | None = None) -> None:
    """Run the selected benchmarks; each writes benchmarks/results/<name>.json."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="transfer: one seed, no real-VOC repeat")
    p.add_argument("--only", choices=sorted(BENCHMARKS), action="append")
    args = p.parse_args(argv)
    started = time.perf_counter()
    for name in args.only or BENCHMARKS:
        extra = ["--quick"] if args.quick and name == "transfer" else []
        importlib.import_module(BENCHMARKS[name]).main(extra)
    print(f"all benchmarks: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
