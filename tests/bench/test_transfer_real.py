"""The real-data transfer study: its committed result keeps the contract, the docs table is generated
from it, and ``auto`` is what the plan stage resolves (not written in the benchmark).

Nothing here trains; the one test that converts ``voc-helmet`` skips when ``../shared`` is absent.
"""

import json
import math

import pytest

from benchmarks import transfer_real
from benchmarks.common import REPO, RESULTS
from benchmarks.transfer import FREEZE, RECIPE
from components.plan.core import FINETUNE_SHARE, PlanRequest, resolve_plan

RESULT = RESULTS / f"{transfer_real.NAME}.json"
VARIANTS = {"scratch", "full", "frozen", RECIPE, transfer_real.AUTO}


@pytest.fixture(scope="module")
def record() -> dict:
    if not RESULT.is_file():
        pytest.skip(f"{RESULT.name} not committed yet")
    return json.loads(RESULT.read_text())


def test_result_keeps_the_contract(record: dict) -> None:
    """name, ours (auto's mean), baseline (best variant unlike auto), ratio, unit, 3 seeds, machine."""
    s = record["summary"]
    assert record["name"] == "transfer_real" and record["unit"]
    assert set(s) == VARIANTS and record["seeds"] == [0, 1, 2]
    assert math.isclose(record["ours"], s[transfer_real.AUTO]["map50_95_mean"], rel_tol=1e-3)
    best, baseline = transfer_real.verdict(s, {n: record["same_as"].get(n, n) for n in s})
    assert record["best_other"] == best and math.isclose(record["baseline"], baseline, rel_tol=1e-3)
    assert math.isclose(record["ratio"], record["ours"] / record["baseline"], rel_tol=2e-3)
    assert record["auto_wins"] == (record["ours"] > record["baseline"])
    assert record["machine"]["cores"] >= 1 and record["machine"]["date"]
    assert "YOLOv8s fall detector" in record["pretrained"]["is"]
    for name, v in s.items():
        assert len(record["runs"][name]) == 3
        assert v["peak_rss_mib"] > 0 and v["seconds_per_epoch"] > 0
        assert sum(st["epochs"] for st in v["stages"]) == record["epochs"]


def test_docs_table_is_generated_from_the_result(record: dict) -> None:
    """docs/transfer.md holds exactly what ``--markdown`` prints for the committed JSON."""
    text = transfer_real.markdown(record)
    for name, v in record["summary"].items():
        assert f"| {name}" in text and f"{v['map50_95_mean']:.3f} ± {v['map50_95_std']:.3f}" in text
    assert text.strip() in (REPO / "docs" / "transfer.md").read_text()


def test_auto_is_the_plan_stage_choice_scaled_to_the_budget() -> None:
    """A small dataset: the table's two-stage with its frozen share; a huge one: a single full stage."""
    stages, info = transfer_real.auto_stages(20, 87, "w.pt")
    plan = resolve_plan(PlanRequest(weights="w.pt"), 87)
    assert info["strategy"] == plan.strategy == "two-stage"
    assert [(st.freeze, st.epochs) for st in stages] == [(plan.freeze, round(20 * (1 - FINETUNE_SHARE))),
                                                         (0, 20 - round(20 * (1 - FINETUNE_SHARE)))]  # fmt: skip
    assert stages[1].lr0 == plan.lr_finetune and stages[1].weights is None
    big, info = transfer_real.auto_stages(10, 60_000, "w.pt")
    assert info["strategy"] == "full" and [(st.freeze, st.epochs) for st in big] == [(0, 10)]


def test_identical_variants_train_once() -> None:
    """Variants with the same stages share runs; every variant spends the same epochs."""
    plan, _ = transfer_real.variants(10, 87, "w.pt")
    assert set(plan) == VARIANTS
    assert {sum(st.epochs for st in v) for v in plan.values()} == {10}
    assert plan["scratch"][0].weights == transfer_real.SCRATCH_YAML
    assert plan["frozen"][0].freeze == FREEZE
    same = transfer_real._unique(plan)
    assert all(plan[n] == plan[first] for n, first in same.items())
    assert same["scratch"] == "scratch"


@pytest.mark.skipif(not transfer_real.available(), reason="../shared (fall-yolov8s, voc-helmet) absent")
def test_split_is_fixed_and_test_is_held_out() -> None:
    """convert + split with the project's stages: test images appear in neither train nor val."""
    from components._shared.dataset import load_dataset, read_list

    spec = load_dataset(transfer_real.dataset())
    lists = {k: set(read_list(v)) for k, v in spec.splits.items()}
    assert set(lists) == {"train", "val", "test"}
    assert not lists["test"] & (lists["train"] | lists["val"])
    assert sum(map(len, lists.values())) == 150
