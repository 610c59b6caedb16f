"""Every benchmark still runs: ``run_all --smoke`` at tiny sizes, each result checked against the contract.

A benchmark script that breaks (an API it calls changed, a result field went missing) fails here, in
``make test``, instead of in the next full ``make bench``. The numbers of a smoke run mean nothing; the
fields, the pairing and the direct run's parity with the pipeline do.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.common import REPO, RESULTS, contract_errors
from benchmarks.run_all import BENCHMARKS, RESULT_NAMES, SMOKE

SMOKE_TIMEOUT_S = 900  # about 2 min on 2 idle cores; generous for a loaded CI machine


def _committed_state() -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in RESULTS.glob("*.json")}


@pytest.mark.slow
def test_smoke_run_of_every_benchmark_keeps_the_contract(tmp_path: Path) -> None:
    """It runs every benchmark of ``make bench`` at tiny sizes into a temporary folder: each writes its
    result with ratio (the median of its pairs), ratio_min, ratio_max, pairs, unit and goal; the direct
    run reaches the pipeline's ONNX mAP; ``benchmarks/results`` is left untouched."""
    before = _committed_state()
    results = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run_all", "--smoke", "--results-dir", str(results)],
        cwd=REPO, capture_output=True, text=True, timeout=SMOKE_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = [n for name in BENCHMARKS for n in RESULT_NAMES.get(name, [name])]
    assert set(SMOKE) == set(BENCHMARKS)
    for name in names:
        record = json.loads((results / f"{name}.json").read_text())
        assert record["name"] == name
        assert contract_errors(record) == [], name
        assert record["ratio_min"] <= record["ratio"] <= record["ratio_max"], name
        assert record["unit"] and record["goal"], name
        assert set(record["load"]) == {"before", "after"}, name
    pipeline = json.loads((results / "pipeline.json").read_text())
    assert pipeline["same_map"] is True, pipeline["onnx_map50_95"]
    assert pipeline["repeats_are"] == "pairs" and pipeline["pairs"] == 1
    transfer = json.loads((results / "transfer.json").read_text())
    assert transfer["repeats_are"] == "seeds" and transfer["pairs"] == 2
    assert json.loads((results / "data_movement.json").read_text())["repeats_are"] == "deterministic"
    assert json.loads((results / "run_all.json").read_text())["smoke"] is True
    assert _committed_state() == before
