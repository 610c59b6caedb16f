"""The benchmarks' own claims: the committed results keep their contract, the data baseline really
follows our conventions, and the transfer study compares the recipe the pipeline actually runs.

Nothing here times anything (timings live in ``benchmarks/results``); these tests check that the
numbers there are computed from the right things.
"""

import json
import math
from pathlib import Path

import pytest

from benchmarks import transfer
from benchmarks.bench_data import reference_convert, same_labels
from benchmarks.common import (
    MIN_PAIRS,
    REPO,
    RESULTS,
    Goal,
    Repeats,
    contract_errors,
    import_warmup,
    in_forked_process,
    interleaved,
    write_result,
)
from benchmarks.run_all import BENCHMARKS, BUDGET_S, RESULT_NAMES
from components.convert.core import ConvertConfig, convert_voc

RESULT_FILES = ("data", "data_path", "data_movement", "freeze", "export", "pipeline", "transfer", "predict")


def _load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


@pytest.mark.parametrize("name", RESULT_FILES)
def test_committed_result_keeps_the_contract(name: str) -> None:
    """Every result names itself, states ours/baseline/unit/goal, and its ratio is the median of its
    pairs' ratios with their min..max (``common.contract_errors``)."""
    r = _load(name)
    if "pairs" not in r:
        pytest.skip(f"{name}.json predates interleaved pairs (issue 27): a full make bench regenerates it")
    assert r["name"] == name
    assert contract_errors(r) == []
    assert r["ratio_min"] <= r["ratio"] <= r["ratio_max"]
    assert r["pairs"] >= (MIN_PAIRS if r["repeats_are"] == "pairs" else 1)
    assert r["machine"]["cores"] >= 1 and r["machine"]["date"] and r["machine"]["cpu"]


def test_run_all_produces_every_result_and_says_whether_it_fit_the_budget() -> None:
    """``make bench`` covers every result name; its committed full run records whether it fit in 15 minutes,
    and README's heading gives that run's duration and says when it was over (a missed goal is reported,
    like every other goal, not hidden)."""
    produced = {n for name in BENCHMARKS for n in RESULT_NAMES.get(name, [name])}
    assert produced == set(RESULT_FILES)
    record = _load("run_all")
    if "smoke" not in record:
        pytest.skip(
            "run_all.json predates issue 27 (and the predict benchmark): a full make bench regenerates it"
        )
    assert not record["smoke"]
    assert not record["quick"]
    assert set(record["seconds"]) == set(BENCHMARKS)
    assert record["total_s"] >= sum(record["seconds"].values()) - 1
    assert record["budget_s"] == BUDGET_S == 15 * 60
    assert record["within_budget"] is (record["total_s"] <= BUDGET_S)
    heading = next(
        line for line in (REPO / "README.md").read_text().splitlines() if line.startswith("## Benchmarks")
    )
    assert f"{record['total_s'] / 60:.1f} min" in heading
    assert ("over its 15-minute budget" in heading) is not record["within_budget"]


def test_transfer_verdict_matches_its_own_numbers() -> None:
    """``ours`` is the recipe's mean, ``baseline`` the best other variant's, and the verdict follows."""
    r = _load("transfer")
    summary = r["synthetic"]["summary"]
    others = {n: v["map50_95_mean"] for n, v in summary.items() if n != transfer.RECIPE}
    assert set(others) == {"scratch", "full", "frozen"}
    assert math.isclose(r["ours"], summary[transfer.RECIPE]["map50_95_mean"], rel_tol=1e-3)
    assert math.isclose(r["baseline"], max(others.values()), rel_tol=1e-3)
    assert r["recipe_wins"] == (r["ours"] > r["baseline"])
    assert r["synthetic"]["seeds"] == 3


def test_markdown_tables_list_every_variant() -> None:
    """The tables in docs/transfer.md are generated from transfer.json and show each variant's mean."""
    r = _load("transfer")
    text = transfer.markdown(r)
    for name, v in r["synthetic"]["summary"].items():
        assert f"| {name} | {v['map50_95_mean']:.3f} ± " in text
    assert text.strip() in (REPO / "docs" / "transfer.md").read_text()


def test_recipe_variant_is_the_pipeline_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The compared two-stage variant is scaled from ``pipelines/params/local.yaml``, not written in the benchmark."""
    from pipelines import config

    params = tmp_path / "local.yaml"
    monkeypatch.setattr(config, "LOCAL_PARAMS", params)
    params.write_text("epochs_frozen: 10\nepochs_finetune: 10\nlr_finetune: 0.001\n")
    assert transfer.recipe_setting(16) == (8, 0.001)
    params.write_text("epochs_frozen: 5\nepochs_finetune: 15\nlr_finetune: 0.01\n")
    frozen, finetune = transfer.variants(16, "w.pt")[transfer.RECIPE]
    assert (frozen.freeze, frozen.epochs, finetune.freeze, finetune.epochs) == (10, 4, 0, 12)
    assert finetune.weights is None and finetune.lr0 == 0.01


def test_every_variant_spends_the_same_epochs() -> None:
    """Equal total epochs is what makes the comparison fair, explored settings included."""
    every = {**transfer.variants(16, "w.pt"), **transfer.explore_variants(16, "w.pt")}
    assert len(every) >= 10
    for name, stages in every.items():
        assert sum(s.epochs for s in stages) == 16, name
        assert all(s.epochs >= 1 for s in stages), name


def test_write_result_takes_the_median_of_the_pair_ratios(tmp_path: Path) -> None:
    """It writes the median ratio of the pairs (not the ratio of the medians), their min..max and count,
    judges the goal on the median and says when the spread straddles it."""
    rep = Repeats(ours=[1.0, 3.0, 2.0, 10.0, 1.0], baseline=[2.0, 2.0, 2.0, 2.0, 4.0])  # 0.5 1.5 1 5 0.25
    record = write_result("x", repeats=rep, unit="s", goal=Goal("<=", 1.2), results_dir=tmp_path, extra=1)
    on_disk = json.loads((tmp_path / "x.json").read_text())
    assert on_disk == json.loads(json.dumps(record))
    assert [on_disk[k] for k in ("ratio", "ratio_min", "ratio_max", "pairs")] == [1.0, 0.25, 5.0, 5]
    assert on_disk["ours"] == 2.0 and on_disk["baseline"] == 2.0 and on_disk["extra"] == 1
    assert on_disk["goal"] == "ratio <= 1.2" and on_disk["goal_met"] is True
    assert on_disk["spread_straddles_goal"] is True
    assert contract_errors(on_disk) == []
    assert not list(tmp_path.glob("*.tmp"))
    steady = write_result("y", repeats=Repeats([1.0] * 5, [2.0] * 5), unit="s", goal=Goal("<=", 0.7),
                          results_dir=tmp_path)  # fmt: skip
    assert steady["goal_met"] is True and steady["spread_straddles_goal"] is False


def test_interleaved_alternates_after_a_warm_up_pair() -> None:
    """It calls ours, baseline, ours, baseline ...: one uncounted warm-up pair, then the pairs, with any
    other contender right after each pair; the load average is recorded before and after."""
    calls: list[str] = []

    def measure(name: str, value: float):
        return lambda: calls.append(name) or value

    rep = interleaved(measure("a", 1.0), measure("b", 4.0), pairs=5, others={"c": measure("c", 2.0)})
    assert calls == ["a", "b", "c"] * 6
    assert rep.ratios == [0.25] * 5 and rep.ratio_of("c") == [0.5] * 5 and rep.warmup == [1.0, 4.0, 2.0]
    fields = rep.fields()
    assert fields["pairs"] == 5 and set(fields["load"]) == {"before", "after"}
    calls.clear()
    interleaved(measure("a", 1.0), measure("b", 1.0), pairs=2, warmup=False)
    assert calls == ["a", "b", "a", "b"]
    calls.clear()  # a cheaper warm-up instead of the pair: run once, first, and nothing of it is counted
    rep = interleaved(measure("a", 1.0), measure("b", 1.0), pairs=2, warmup=lambda: calls.append("warm"))
    assert calls == ["warm", "a", "b", "a", "b"] and rep.warmup == []


def test_import_warmup_imports_in_a_fresh_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warm-up of the process benchmarks imports in a child (this process gains nothing), and a
    module that cannot be imported fails the benchmark instead of warming nothing."""
    import os
    import subprocess
    import sys

    (tmp_path / "warm_probe.py").write_text(
        "import os, pathlib\npathlib.Path(os.environ['PROBE']).write_text(str(os.getpid()))\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv("PROBE", str(tmp_path / "imported-by"))
    import_warmup("warm_probe", "json")()
    assert int((tmp_path / "imported-by").read_text()) != os.getpid() and "warm_probe" not in sys.modules
    with pytest.raises(subprocess.CalledProcessError):
        import_warmup("benchmarks.no_such_module")()


def _child_main(argv: list[str]) -> None:
    out = Path(argv[argv.index("--out") + 1])
    if "--fail" in argv:
        raise ValueError("the run failed")
    (out / "bench.json").write_text(json.dumps({"pid": __import__("os").getpid(), "argv": argv}))


def test_a_forked_run_returns_its_record_and_a_failed_one_raises(tmp_path: Path) -> None:
    """``in_forked_process`` runs ``main`` in a child of this process (freeze's CPU runs), returns its
    ``bench.json`` and removes its folder; a child that fails is an error naming its arguments."""
    import os

    seconds, record = in_forked_process(_child_main, tmp_path / "one", ["--one", "10"])
    assert record["argv"] == ["--out", str(tmp_path / "one"), "--one", "10"] and record["pid"] != os.getpid()
    assert seconds > 0 and not (tmp_path / "one").exists()
    with pytest.raises(RuntimeError, match="--fail exited with 1"):
        in_forked_process(_child_main, tmp_path / "two", ["--fail"])


def test_contract_errors_name_what_a_result_lacks() -> None:
    """A record without the repeat fields, or whose ratio is not the median of its pairs, is named."""
    good = {**Repeats([1.0, 2.0, 3.0], [2.0, 2.0, 2.0]).fields(), "name": "x", "ours": 2.0, "baseline": 2.0,
            "unit": "s", "goal": "ratio <= 1", "goal_met": True, "machine": {}}  # fmt: skip
    assert contract_errors(good) == []
    assert contract_errors({k: v for k, v in good.items() if k != "ratio_min"}) == ["no ratio_min"]
    assert "not the median" in contract_errors({**good, "ratio": 0.5})[0]
    assert "pairs" in contract_errors({**good, "pairs": 7})[0]


def test_reference_converter_writes_the_same_labels_as_convert(shared_data: Path, tmp_path: Path) -> None:
    """The data baseline follows our convention on the real VOC sample (difficult objects, parts)."""
    voc = shared_data / "voc-other"
    n = reference_convert(voc, tmp_path / "ref")
    result = convert_voc([voc], tmp_path / "ours", ConvertConfig())
    assert n == result.images > 0
    check = same_labels(tmp_path / "ours", tmp_path / "ref")
    assert check == {"files": n, "differ": 0, "classes_equal": True}
    # and the comparison itself notices a difference
    first = sorted((tmp_path / "ref" / "labels").iterdir())[0]
    first.write_text(first.read_text() + "0 0.5 0.5 0.1 0.1\n")
    assert same_labels(tmp_path / "ours", tmp_path / "ref")["differ"] == 1


def test_data_movement_counts_every_dataset_reader_of_the_compiled_pipeline() -> None:
    """Its task graph is the compiled pipeline's: each reader of the split dataset is one download, and
    artifacts passed into the gate's sub-DAG are followed back to the task that made them."""
    import yaml

    from benchmarks.bench_data_movement import input_bindings
    from pipelines.compile import COMPILED

    spec = next(yaml.safe_load_all(COMPILED.read_text(encoding="utf-8")))
    bindings = input_bindings(spec)
    readers = {
        c for c, name, producer, key in bindings if (producer, key) == ("split-dataset", "yolo_dataset")
    }
    assert readers == {"dataset-stats", "plan-training", "train-model", "train-model-2", "validate-model",
                       "export-onnx", "validate-model-2"}  # fmt: skip
    assert ("publish-model", "onnx_model", "export-onnx", "onnx_model") in bindings  # inside dsl.If
    r = _load("data_movement")
    assert r["goal_met"] is (r["ratio"] <= 0.25) and r["dataset"]["images"] >= 20_000
    for design in r["designs"].values():
        assert set(design["downloads"]) == {f"{c}.{n}" for c, n, p, _ in bindings
                                            if p in ("ingest-dataset", "convert-voc", "split-dataset")}  # fmt: skip
        assert design["total_bytes"] == sum(design["uploads"].values()) + sum(design["downloads"].values())
    assert r["ours"] == r["designs"]["workspace"]["total_bytes"]
    assert r["baseline"] == r["designs"]["copies"]["total_bytes"]


def test_data_movement_runs_the_components_in_both_designs(tmp_path: Path) -> None:
    """It calls the data components with and without a workspace; only the copies carry the images."""
    from benchmarks.bench_data_movement import count_moves, run_data_stages
    from components.make_sample.core import SampleConfig, make_sample

    voc = tmp_path / "voc"
    make_sample(voc, SampleConfig(images=24, seed=0, task="B", imgsz=64))
    bindings = [("train-model", "yolo_dataset", "split-dataset", "yolo_dataset")]
    copies = count_moves(bindings, run_data_stages(voc, tmp_path / "copies", ""))
    ours = count_moves(bindings, run_data_stages(voc, tmp_path / "ws-art", str(tmp_path / "ws")))
    image_bytes = sum(p.stat().st_size for p in (voc / "JPEGImages").iterdir())
    assert copies["downloads"]["train-model.yolo_dataset"] > image_bytes
    assert ours["downloads"]["train-model.yolo_dataset"] < 4096
    assert ours["total_bytes"] <= 0.25 * copies["total_bytes"]


def test_size_check_compares_the_same_variants_at_the_real_backbones_size() -> None:
    """The YOLOv8s task-A check: full, frozen and the recipe, same budget, 3 seeds, ranked by its own means."""
    check = _load("transfer").get("size_check")
    if check is None:
        pytest.skip("no size check in transfer.json yet")
    s = check["summary"]
    assert set(s) == {"full", "frozen", transfer.RECIPE} and check["seeds"] == 3
    assert check["ranking"] == sorted(s, key=lambda n: s[n]["map50_95_mean"], reverse=True)
    assert all(len(check["runs"][n]) == 3 for n in s)
    assert transfer.SIZE_CHECK_MODEL in check["backbone"]
    for name, v in s.items():
        assert sum(st["epochs"] for st in v["stages"]) == check["epochs"], name
        assert f"| {name} | {v['map50_95_mean']:.3f} ± " in transfer.markdown(_load("transfer"))


def test_adding_to_a_missing_result_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    """--length-check / --size-check before their study: a one-line exit, no file created."""
    from benchmarks.common import add_to_result

    with pytest.raises(SystemExit, match=r"x\.json: not found; run the study that writes it first"):
        add_to_result("x", "length_check", {"a": 1}, results_dir=tmp_path)
    assert not list(tmp_path.iterdir())
    write_result("x", repeats=Repeats([1.0], [2.0]), unit="s", results_dir=tmp_path)
    add_to_result("x", "length_check", {"a": 1}, results_dir=tmp_path)
    assert json.loads((tmp_path / "x.json").read_text())["length_check"] == {"a": 1}
    assert not list(tmp_path.glob("*.tmp"))


def test_readme_table_shows_each_median_with_its_spread(tmp_path: Path) -> None:
    """``run_all --markdown`` writes every README row from its result: the median ratio, min..max, the
    repeats, the goal, and whether it was met, with a note when the spread straddles the goal."""
    from benchmarks.run_all import README_ROWS, markdown

    for name in README_ROWS:
        rep = Repeats([1.0, 2.0, 3.0, 4.0, 5.0], [4.0] * 5)  # ratios 0.25 .. 1.25, median 0.75
        write_result(name, repeats=rep, unit="s", goal=Goal("<=", 0.7), results_dir=tmp_path)
    text = markdown(tmp_path)
    for what in README_ROWS.values():
        row = next(line for line in text.splitlines() if line.startswith(f"| {what} |"))
        assert "| **0.75** | 0.25..1.25 | 5 pairs | ratio <= 0.7 | **no** (spread straddles it) |" in row


def test_readme_table_is_generated_from_the_results() -> None:
    """README's benchmark table is exactly what ``run_all --markdown`` prints for the committed results."""
    from benchmarks.run_all import README_ROWS, markdown

    if any("pairs" not in _load(name) for name in README_ROWS):
        pytest.skip(
            "committed results predate interleaved pairs (issue 27): a full make bench regenerates them"
        )
    assert markdown() in (REPO / "README.md").read_text()


def test_transfer_tables_give_the_per_seed_ratio() -> None:
    """With per-seed ratios in the record, the synthetic table is followed by their median and spread."""
    r = _load("transfer")
    runs = r["synthetic"]["runs"]
    fields = transfer.seed_repeats(runs, transfer.RECIPE, r["synthetic"]["best_other"]).fields()
    text = transfer.markdown({**r, **fields})
    assert f"seed by seed: median **{fields['ratio']:.3f}** ({fields['ratio_min']:.3f}.." in text
    assert fields["pairs"] == len(runs[transfer.RECIPE]) == 3
    assert "seed by seed" not in transfer.markdown({k: v for k, v in r.items() if k != "pairs"})


def test_explored_settings_are_ranked_against_the_variants_at_their_own_epochs() -> None:
    """``--explore`` ran 16 epochs; a shorter run of the four variants (``make bench``: 12) must not be ranked
    beside it. The explore section keeps the four at its own epochs (``base``) from the run that had them."""
    summary = {"frozen": {"map50_95_mean": 0.6, "map50_95_std": 0.0, "map50_mean": 0.7, "seconds_per_epoch": 1.0,
                          "stages": [{"freeze": 10, "epochs": 16, "lr0": 0.01}]}}  # fmt: skip
    explored = {"seeds": 3, "epochs": 16, "summary": {}}
    long = {"seeds": 3, "epochs": 16, "summary": summary}
    short = {"seeds": 3, "epochs": 12, "summary": {"frozen": {**summary["frozen"], "map50_95_mean": 0.1}}}
    kept = transfer.explore_with_base(explored, long)
    assert kept["base"] == summary and "base" not in explored
    assert transfer.explore_with_base(kept, short) is kept  # the shorter run leaves the 16-epoch base alone
    record = {"synthetic": {**short, "split": "test", "imgsz": 160}, "explore": kept}
    text = transfer.markdown(record)
    explored_table = text[
        text.index("**Recipe settings explored** (synthetic, 3 seeds, 16 epochs in total") :
    ]
    assert "| frozen | 0.600 ± 0.000 |" in explored_table and "0.100" not in explored_table


def test_two_writers_of_one_result_leave_one_whole_file(tmp_path: Path) -> None:
    """Two benchmark runs at once (docs/benchmarks.md: run it alone) still never leave a torn result: each
    writer has its own temp name, and the last rename wins."""
    import multiprocessing

    def write(value: float) -> None:
        for _ in range(200):
            write_result("x", repeats=Repeats([value] * 5, [1.0] * 5), unit="s", goal=Goal("<=", 5.0), results_dir=tmp_path,
                         pad="p" * 20_000)  # fmt: skip

    ctx = multiprocessing.get_context("fork")
    writers = [ctx.Process(target=write, args=(v,)) for v in (2.0, 3.0)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    assert [w.exitcode for w in writers] == [0, 0]
    record = json.loads((tmp_path / "x.json").read_text())
    assert record["ratio"] in (2.0, 3.0) and contract_errors(record) == []
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
