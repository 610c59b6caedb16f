"""Real-data transfer study: a real-image YOLOv8s to ``voc-helmet``, five variants, three seeds.

The starting point is ``../shared/models/fall-yolov8s/fall_yolov8s.pt``: a **YOLOv8s fall detector**
(classes Normal, Fall; Apache-2.0, see its ``SOURCE.md``), not COCO yolov5su, which these offline
machines cannot fetch. The target is ``../shared/data/voc-helmet`` (helmet, head; 150 real photos),
converted and split by the project's own stages with a fixed seed: 87 train / 32 val / 31 test. The
val split picks each stage's best checkpoint (as the pipeline does); the test split scores the final
one, once, and picks nothing.

Five variants spend the same total number of epochs (``--epochs``):

    scratch     yolov8s.yaml (same architecture, random weights), freeze 0, all epochs
    full        the fall checkpoint, freeze 0, all epochs                      (strategy "full")
    frozen      the fall checkpoint, backbone (layers 0-9) frozen, all epochs  (strategy "frozen")
    two-stage   the pipeline's local recipe scaled to the budget (``transfer.recipe_setting``)
    auto        what ``components/plan/core.py`` ``resolve_plan`` chooses for this dataset (its
                strategy, freeze and frozen share of the epochs, fine-tune lr), scaled to the budget

Variants whose stages come out identical (``auto`` and ``two-stage`` when the table's frozen share is
the local recipe's) are trained once and reported under both names (``same_as``): training is
seeded and deterministic, so a second run would only repeat the numbers.

Every stage uses the pipeline's training settings (SGD, batch 16, lr0 0.01, seed, deterministic).
Each (variant, seed) runs in a fresh process (``max_tasks_per_child=1``) so its peak RSS is its own.

``transfer_real.json``: ``ours`` = ``auto``'s mean test mAP50-95, ``baseline`` = the best variant
whose stages differ from ``auto``'s.

    python -m benchmarks.transfer_real [--seeds 3] [--epochs 12] [--imgsz 224] [--jobs 2] [--explore]
    python -m benchmarks.transfer_real --markdown     # the table of docs/transfer.md, from the JSON
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

from benchmarks.common import (
    CACHE,
    RESULTS,
    SHARED_DATA,
    add_to_result,
    log,
    mean_std,
    setup,
    shared_voc,
    table,
    voc_dataset,
)
from benchmarks.common import write_result as _write_result
from benchmarks.transfer import (
    FREEZE,
    LR,
    LR_FINETUNE,
    RECIPE,
    Stage,
    _local_params,
    _stages_text,
    recipe_setting,
    seed_repeats,
    train_variant,
)

NAME = "transfer_real"
AUTO = "auto"
SHARED_MODELS = Path(os.environ.get("YOLO_KFP_SHARED_MODELS", SHARED_DATA.parent / "models"))
CHECKPOINT = SHARED_MODELS / "fall-yolov8s" / "fall_yolov8s.pt"
SCRATCH_YAML = "yolov8s.yaml"
TARGET = "voc-helmet"
TARGETS = {TARGET: None, "voc-other": ("person",)}  # target sample -> the classes kept (None: all of them)
VAL, TEST, SPLIT_SEED = 0.2, 0.2, 0
EPOCHS, IMGSZ = 12, 224  # what fits 2 shared CPUs: 18 trainings (with --explore) in about half an hour
PROGRESS = CACHE / "transfer_real-runs.jsonl"  # one line per finished (variant, seed), appended
FROM_IS = "YOLOv8s fall detector (fall_yolov8s.pt: Normal, Fall; real photos), not COCO yolov5su"


def available(target: str = TARGET) -> bool:
    """Whether the checkpoint and the target sample are both under ``../shared``."""
    return CHECKPOINT.is_file() and shared_voc(target) is not None


def result_name(target: str = TARGET) -> str:
    """``transfer_real`` for voc-helmet (the study), ``transfer_real_voc_other`` for the second target."""
    return NAME if target == TARGET else f"{NAME}_{target.replace('-', '_')}"


def dataset(target: str = TARGET) -> Path:
    """convert (``TARGETS[target]`` classes) -> split (fixed seed, 60/20/20), cached; returns dataset.yaml."""
    voc = shared_voc(target)
    if voc is None:
        raise SystemExit(f"{target} not found under {SHARED_DATA}")
    return voc_dataset(voc, CACHE / f"transfer-real-{target}", val=VAL, test=TEST, seed=SPLIT_SEED,
                       classes=TARGETS[target])  # fmt: skip


def train_images(data_yaml: Path) -> int:
    """Training images of the split, as the plan stage counts them."""
    from components._shared.dataset import load_dataset
    from components.plan.core import count_train_images

    return count_train_images(load_dataset(data_yaml))


def auto_stages(total: int, n_train: int, pretrained: str) -> tuple[list[Stage], dict[str, Any]]:
    """The plan stage's ``auto`` choice for ``n_train`` images, scaled to ``total`` epochs; and that plan.

    The plan's strategy, freeze, fine-tune lr and frozen share of its epochs are kept; only the epoch
    count is scaled to the study's budget (equal total epochs for every variant).
    """
    from components.plan.core import PlanRequest, resolve_plan

    plan = resolve_plan(PlanRequest(weights=pretrained, lr0=LR), n_train)
    planned = plan.epochs_frozen + plan.epochs_finetune
    warm_fine = _local_params().warmup_finetune
    if plan.strategy == "full" or plan.epochs_frozen == 0:
        stages = [Stage(pretrained, 0, total, LR, 1.0)]
    elif plan.strategy == "frozen" or plan.epochs_finetune == 0:
        stages = [Stage(pretrained, plan.freeze, total, LR, 1.0)]
    else:
        frozen = max(1, min(total - 1, round(total * plan.epochs_frozen / planned)))
        stages = [Stage(pretrained, plan.freeze, frozen, LR, 1.0),
                  Stage(None, 0, total - frozen, plan.lr_finetune, warm_fine)]  # fmt: skip
    info = {"strategy": plan.strategy, "freeze": plan.freeze, "epochs_frozen": plan.epochs_frozen,
            "epochs_finetune": plan.epochs_finetune, "lr_finetune": plan.lr_finetune,
            "train_images": n_train, "reason": plan.reason}  # fmt: skip
    return stages, info


def variants(total: int, n_train: int, pretrained: str) -> tuple[dict[str, list[Stage]], dict[str, Any]]:
    """The five compared variants for ``total`` epochs, and the resolved auto plan."""
    frozen, lr = recipe_setting(total)
    auto, info = auto_stages(total, n_train, pretrained)
    return {
        "scratch": [Stage(SCRATCH_YAML, 0, total, LR, 1.0)],
        "full": [Stage(pretrained, 0, total, LR, 1.0)],
        "frozen": [Stage(pretrained, FREEZE, total, LR, 1.0)],
        RECIPE: [Stage(pretrained, FREEZE, frozen, LR, 1.0),
                 Stage(None, 0, total - frozen, lr, _local_params().warmup_finetune)],
        AUTO: auto,
    }, info  # fmt: skip


def explore_variants(total: int, pretrained: str) -> dict[str, list[Stage]]:
    """Other settings tried on the real data (``--explore``): a fine-tune warm-up, a half split, and a
    10x lower fine-tune rate after a quarter or three quarters of the epochs frozen."""
    frozen, lr = recipe_setting(total)
    half, most = total // 2, total - total // 4
    warm = _local_params().warmup_finetune

    def split(f: int, lr_fine: float, warm_fine: float = warm) -> list[Stage]:
        return [Stage(pretrained, FREEZE, f, LR, 1.0), Stage(None, 0, total - f, lr_fine, warm_fine)]

    return {
        f"two-stage {frozen}+{total - frozen}, fine-tune warm-up 1": split(frozen, lr, 1.0),
        f"two-stage {half}+{total - half}, fine-tune lr {lr:g}": split(half, lr),
        f"two-stage {frozen}+{total - frozen}, fine-tune lr {LR_FINETUNE:g}": split(frozen, LR_FINETUNE),
        f"two-stage {most}+{total - most}, fine-tune lr {LR_FINETUNE:g}": split(most, LR_FINETUNE),
    }


def kept_better_stage(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a two-stage run would score if it kept the earlier stage's weights whenever the fine-tune
    stage's best did not beat them on validation (read from ``per_stage``; single-stage runs unchanged)."""
    out = []
    for r in runs:
        stages = r.get("per_stage")
        if not stages:
            out.append(r)
            continue
        pick = max(range(len(stages)), key=lambda i: (stages[i]["val_map50_95"], i))
        out.append({**r, **stages[pick], "kept_stage": pick})
    return out


def _job(args: tuple[list[Stage], Path, Path, int, int]) -> dict[str, Any]:
    """One (variant, seed) in its own process: the scores, the wall time and the peak RSS."""
    stages, data_yaml, work, imgsz, seed = args
    setup()
    t0 = time.perf_counter()
    try:
        rec = train_variant(stages, data_yaml, work, imgsz=imgsz, seed=seed, split="test")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rec.pop("best")
    rec["wall_seconds"] = round(time.perf_counter() - t0, 1)
    # Linux: ru_maxrss in KiB; children = data-loader workers, if any were used
    rec["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    rec["peak_rss_children_mib"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    return rec


def _unique(plan: dict[str, list[Stage]]) -> dict[str, str]:
    """For each variant, the first variant with the same stages (itself when none came before)."""
    first: dict[tuple[Stage, ...], str] = {}
    return {name: first.setdefault(tuple(stages), name) for name, stages in plan.items()}


def summarize(runs: dict[str, list[dict[str, Any]]], plan: dict[str, list[Stage]]) -> dict[str, Any]:
    """Mean ± sample std of each variant's test mAP50-95 and mAP50, mean s/epoch, max peak RSS."""
    out = {}
    for name, rs in runs.items():
        m, s = mean_std([r["map50_95"] for r in rs])
        m50, s50 = mean_std([r["map50"] for r in rs])
        e, _ = mean_std([r["seconds_per_epoch"] for r in rs])
        out[name] = {"map50_95_mean": round(m, 4), "map50_95_std": round(s, 4), "map50_mean": round(m50, 4),
                     "map50_std": round(s50, 4), "seconds_per_epoch": round(e, 3),
                     "peak_rss_mib": max(r["peak_rss_mib"] for r in rs),
                     "stages": [asdict(st) for st in plan[name]]}  # fmt: skip
    return out


def ranked(summary: dict[str, Any]) -> list[str]:
    """Variant names, best mean test mAP50-95 first (ties: the order given)."""
    return sorted(summary, key=lambda n: summary[n]["map50_95_mean"], reverse=True)


def verdict(summary: dict[str, Any], same_as: dict[str, str]) -> tuple[str, float]:
    """The best variant whose stages differ from ``auto``'s, and its mean test mAP50-95."""
    others = {n: v for n, v in summary.items() if n != AUTO and same_as[n] != same_as[AUTO]}
    best = max(others, key=lambda n: others[n]["map50_95_mean"])
    return best, others[best]["map50_95_mean"]


def run(*, seeds: int = 3, epochs: int = EPOCHS, imgsz: int = IMGSZ, workers: int = 2,
        only: list[str] | None = None, explore: bool = False, resume: bool = False, target: str = TARGET,
        results_dir: Path = RESULTS) -> dict[str, Any] | None:  # fmt: skip
    """Every variant for every seed; write ``results_dir/transfer_real.json`` (unless ``only``).

    ``explore`` also trains ``explore_variants`` (reported under ``explore``, never as the baseline);
    ``resume`` takes trainings already in ``PROGRESS`` from there (``wall_seconds`` then adds their own
    time, shared by ``workers``, to this invocation's: an estimate, and ``reused_runs`` says how many).
    """
    if not available(target):
        log.warning("%s or %s not found: skipping the real transfer study", CHECKPOINT, target)
        return None
    data = dataset(target)
    n_train = train_images(data)
    out_name = result_name(target)
    plan, auto_plan = variants(epochs, n_train, str(CHECKPOINT))
    extra = explore_variants(epochs, str(CHECKPOINT)) if explore else {}
    plan = {**plan, **extra}
    same_as = _unique(plan)
    todo = [n for n in plan if same_as[n] == n and (not only or n in only)]
    runs, timing = _train_all({n: plan[n] for n in todo}, data, seeds=seeds, epochs=epochs, imgsz=imgsz,
                              workers=workers, resume=resume)  # fmt: skip
    wall = timing["seconds"] + timing["reused_seconds"] / max(workers, 1)
    for name, first in same_as.items():
        if first != name and first in runs:
            runs[name] = runs[first]
    explored = {n: runs.pop(n) for n in extra if n in runs}
    explored.update({f"{n}{KEPT}": kept_better_stage(rs) for n, rs in {**runs, **explored}.items()
                     if same_as[n] == n and any("per_stage" in r for r in rs)})  # fmt: skip
    summary = summarize(runs, plan)
    names = ranked(summary)
    table(f"{out_name}: test mAP50-95, {seeds} seed(s), {epochs} epochs, {imgsz} px, {wall / 60:.1f} min",
          ("variant", "mAP50-95", "mAP50", "s/epoch", "peak RSS MiB", "stages"),
          [(n, f"{summary[n]['map50_95_mean']:.3f} ± {summary[n]['map50_95_std']:.3f}",
            f"{summary[n]['map50_mean']:.3f} ± {summary[n]['map50_std']:.3f}", summary[n]["seconds_per_epoch"],
            summary[n]["peak_rss_mib"], _stages_text(summary[n]["stages"])) for n in names])  # fmt: skip
    if only or AUTO not in summary:
        return None
    best, baseline = verdict(summary, same_as)
    before = results_dir / f"{out_name}.json"
    kept = (
        {k: v for k, v in json.loads(before.read_text()).items() if k == "length_check"}
        if before.is_file()
        else {}
    )
    rep = seed_repeats(runs, AUTO, best)
    return _write_result(
        out_name, repeats=rep, ours=summary[AUTO]["map50_95_mean"], baseline=baseline,
        unit="mAP50-95 on held-out test images (mean over seeds)", results_dir=results_dir,
        goal="auto's mean above the best variant unlike it (auto_wins)",
        goal_met=summary[AUTO]["map50_95_mean"] > baseline, spread_straddles_goal=min(rep.ratios) <= 1 < max(rep.ratios),
        ours_is=f"auto: the plan stage's choice for {n_train} train images, scaled to {epochs} epochs",
        baseline_is=f"best variant whose stages differ from auto's: {best}",
        auto_wins=summary[AUTO]["map50_95_mean"] > baseline, best_other=best, ranking=names,
        seeds=list(range(seeds)), epochs=epochs, imgsz=imgsz, split="test", jobs=workers,
        wall_seconds=round(wall, 1), reused_runs=timing["reused"],
        same_as={n: f for n, f in same_as.items() if f != n},
        auto_plan=auto_plan, pretrained={"checkpoint": "../shared/models/fall-yolov8s/fall_yolov8s.pt",
                                         "is": FROM_IS},
        target={"data": f"../shared/data/{target}", "classes": _class_names(data),
                "split": f"convert + split (val {VAL}, test {TEST}, seed {SPLIT_SEED})",
                "images": _split_sizes(data)},
        summary=summary, runs=runs, **_explore_record(explored, plan), **kept,
    )  # fmt: skip


KEPT = ", keep the better stage"  # suffix of the settings read from per-stage scores (kept_better_stage)


def run_key(stages: list[Stage], seed: int, imgsz: int, data: Path) -> str:
    """What makes two trainings the same (seeded and deterministic): stages, seed, image size, dataset."""
    return json.dumps({"stages": [asdict(st) for st in stages], "seed": seed, "imgsz": imgsz, "data": str(data)},
                      sort_keys=True)  # fmt: skip


def finished_runs(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """``{run_key: record}`` of the trainings ``PROGRESS`` holds (``--resume``); torn lines are skipped."""
    done: dict[str, dict[str, Any]] = {}
    path = path or PROGRESS
    if not path.is_file():
        return done
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if isinstance(rec, dict) and "key" in rec:
            done[rec["key"]] = {
                k: v for k, v in rec.items() if k not in ("variant", "seed", "epochs", "imgsz", "key")
            }
    return done


def _train_all(plan: dict[str, list[Stage]], data: Path, *, seeds: int, epochs: int, imgsz: int,
               workers: int, resume: bool = False) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:  # fmt: skip
    """Every variant of ``plan`` for every seed, ``workers`` fresh processes at once: the runs, and the
    timing (``seconds`` of wall time, ``reused`` runs and their own ``reused_seconds``). Each finished
    (variant, seed) is appended to ``PROGRESS`` as it comes; with ``resume``, trainings already there
    (same stages, seed, size, dataset) are taken from it, not repeated."""
    done = finished_runs() if resume else {}
    jobs = [(name, seed) for seed in range(seeds) for name in plan]
    todo = [(n, s) for n, s in jobs if run_key(plan[n], s, imgsz, data) not in done]
    t0 = time.perf_counter()
    runs: dict[str, list[dict[str, Any]]] = {}
    got = {(n, s): done[run_key(plan[n], s, imgsz, data)] for n, s in jobs if (n, s) not in todo}
    with tempfile.TemporaryDirectory(prefix="bench-transfer-real-") as tmp:
        args = [(plan[n], data, Path(tmp) / f"{n.replace(' ', '_')}-{s}", imgsz, s) for n, s in todo]
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, max_tasks_per_child=1) as pool:
            for (name, seed), rec in zip(todo, pool.map(_job, args), strict=True):
                got[name, seed] = rec
                PROGRESS.parent.mkdir(parents=True, exist_ok=True)
                with PROGRESS.open("a") as f:  # partial results survive an interrupted study
                    line = {"variant": name, "seed": seed, "epochs": epochs, "imgsz": imgsz,
                            "key": run_key(plan[name], seed, imgsz, data), **rec}  # fmt: skip
                    f.write(json.dumps(line) + "\n")
                log.info("%s seed %d: test mAP50-95 %.3f mAP50 %.3f (%.2f s/epoch, %.0f MiB)", name, seed,
                         rec["map50_95"], rec["map50"], rec["seconds_per_epoch"], rec["peak_rss_mib"])  # fmt: skip
    for name, seed in jobs:
        runs.setdefault(name, []).append({"seed": seed, **got[name, seed]})
    reused = [got[j] for j in jobs if j not in todo]
    timing = {"seconds": round(time.perf_counter() - t0, 1), "reused": len(reused),
              "reused_seconds": round(sum(r.get("wall_seconds", 0.0) for r in reused), 1)}  # fmt: skip
    return runs, timing


def length_check(*, seeds: int = 3, imgsz: int = IMGSZ, workers: int = 2) -> dict[str, Any] | None:
    """``frozen`` against ``auto`` at the plan's own length for this dataset (``--length-check``).

    The main study scales every variant to a CPU budget; this one gives both the epochs
    ``resolve_plan`` itself picks for the split (32 for 87 train images), so ``auto`` is exactly the
    pipeline's plan. Saved as ``length_check`` in ``transfer_real.json`` (which must exist).
    """
    from components.plan.core import PlanRequest, resolve_plan

    if not available():
        log.warning("%s or %s not found: skipping the length check", CHECKPOINT, TARGET)
        return None
    data = dataset()
    n_train = train_images(data)
    own = resolve_plan(PlanRequest(weights=str(CHECKPOINT), lr0=LR), n_train)
    total = own.epochs_frozen + own.epochs_finetune
    plan, auto_plan = variants(total, n_train, str(CHECKPOINT))
    picked = {n: plan[n] for n in ("frozen", AUTO)}
    runs, timing = _train_all(picked, data, seeds=seeds, epochs=total, imgsz=imgsz, workers=workers)
    wall = timing["seconds"]
    summary = summarize(runs, picked)
    part = {"epochs": total, "imgsz": imgsz, "seeds": list(range(seeds)), "wall_seconds": wall,
            "auto_plan": auto_plan, "ranking": ranked(summary), "summary": summary, "runs": runs}  # fmt: skip
    add_to_result(NAME, "length_check", part)
    return part


def _explore_record(
    explored: dict[str, list[dict[str, Any]]], plan: dict[str, list[Stage]]
) -> dict[str, Any]:
    """``explore``: the extra settings and the keep-the-better-stage reading, summarized like the variants."""
    if not explored:
        return {}
    stages = {n: plan[n.removesuffix(KEPT)] for n in explored}
    summary = summarize(explored, stages)
    return {"explore": {"ranking": ranked(summary), "summary": summary, "runs": explored}}


def _class_names(data_yaml: Path) -> list[str]:
    from components._shared.dataset import load_dataset

    return list(load_dataset(data_yaml).names)


def _split_sizes(data_yaml: Path) -> dict[str, int]:
    from components._shared.dataset import load_dataset, read_list

    spec = load_dataset(data_yaml)
    return {k: len(set(read_list(v))) for k, v in spec.splits.items()}


def markdown(record: dict[str, Any]) -> str:
    """The real-study table of ``docs/transfer.md`` from a ``transfer_real.json`` record."""
    s, same = record["summary"], record.get("same_as", {})
    imgs = record["target"]["images"]
    lines = [
        f"**Real: YOLOv8s fall detector -> {Path(record['target']['data']).name} "
        f"({', '.join(record['target']['classes'])})** ({len(record['seeds'])} seeds, "
        f"{record['epochs']} epochs in total, {record['imgsz']} px, {imgs.get('train')} train / "
        f"{imgs.get('val')} val / {imgs.get('test')} test images, {record['split']} split; "
        f"{'about ' if record.get('reused_runs') else ''}{record['wall_seconds'] / 60:.0f} min wall on "
        f"{record['machine']['cores']} CPUs, "
        f"{record['jobs']} trainings at once"
        + (
            "; wall summed from the trainings' own times, taken with `--resume` from the runs that produced "
            "them"
            if record.get("reused_runs")
            else ""
        )
        + ")",  # fmt: skip
        "",
        "| variant | mAP50 (mean ± std) | mAP50-95 (mean ± std) | s/epoch | peak RSS (MiB) | stages |",
        "|---|---|---|---|---|---|",
    ]
    for n in record["ranking"]:
        v = s[n]
        note = f" (= {same[n]}: same stages, same runs)" if n in same else ""
        lines.append(f"| {n}{note} | {v['map50_mean']:.3f} ± {v['map50_std']:.3f} | {v['map50_95_mean']:.3f} ± "
                     f"{v['map50_95_std']:.3f} | {v['seconds_per_epoch']:.2f} | {v['peak_rss_mib']:.0f} | "
                     f"{_stages_text(v['stages'])} |")  # fmt: skip
    if "length_check" in record:
        lc = record["length_check"]
        lines += ["", f"**At the plan's own length** (`--length-check`: {lc['epochs']} epochs, what `resolve_plan` "
                      f"picks for {lc['auto_plan']['train_images']} train images; {len(lc['seeds'])} seeds, "
                      f"{lc['imgsz']} px; {lc['wall_seconds'] / 60:.0f} min wall)", "",
                  "| variant | mAP50 (mean ± std) | mAP50-95 (mean ± std) | s/epoch | peak RSS (MiB) | stages |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        for n in lc["ranking"]:
            v = lc["summary"][n]
            lines.append(f"| {n} | {v['map50_mean']:.3f} ± {v['map50_std']:.3f} | {v['map50_95_mean']:.3f} ± "
                         f"{v['map50_95_std']:.3f} | {v['seconds_per_epoch']:.2f} | {v['peak_rss_mib']:.0f} | "
                         f"{_stages_text(v['stages'])} |")  # fmt: skip
    if "explore" in record:
        ex = record["explore"]
        kept = {n: [r.get("kept_stage") for r in ex["runs"][n]] for n in ex["ranking"] if n.endswith(KEPT)}
        changed = [n for n, k in kept.items() if 0 in k]
        shown = [n for n in ex["ranking"] if n not in kept or n in changed]
        if shown:
            lines += ["", "**Other settings on the real data** (same split, seeds and budget; `--explore`)", "",
                      "| setting | mAP50 (mean ± std) | mAP50-95 (mean ± std) | s/epoch | stages |",
                      "|---|---|---|---|---|"]  # fmt: skip
        for n in shown:
            v = ex["summary"][n]
            lines.append(f"| {n} | {v['map50_mean']:.3f} ± {v['map50_std']:.3f} | {v['map50_95_mean']:.3f} ± "
                         f"{v['map50_95_std']:.3f} | {v['seconds_per_epoch']:.2f} | {_stages_text(v['stages'])} |")  # fmt: skip
        if kept and not changed:
            settings = f"{len(kept)} two-stage setting{'s' if len(kept) > 1 else ''}"
            lines += ["", f"Keeping the frozen stage's weights whenever the fine-tune stage did not beat them on "
                          f"val (read from the same runs: {settings} x {len(record['seeds'])} seeds) changes "
                          "nothing: the fine-tune stage won on val every time."]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.transfer_real``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3, help="seeds per variant (default 3)")
    p.add_argument("--epochs", type=int, default=EPOCHS, help=f"total epochs of every variant ({EPOCHS})")
    p.add_argument("--imgsz", type=int, default=IMGSZ, help=f"image size ({IMGSZ})")
    p.add_argument("--jobs", type=int, default=min(2, len(os.sched_getaffinity(0))),
                   help="trainings at once, each in its own process (default 2)")  # fmt: skip
    p.add_argument("--only", action="append", help="only this variant (timing; writes no result)")
    p.add_argument("--explore", action="store_true", help="also train the other settings (explore_variants)")
    p.add_argument("--length-check", action="store_true",
                   help="instead: frozen vs auto at the plan's own length, added to transfer_real.json")  # fmt: skip
    p.add_argument("--resume", action="store_true",
                   help=f"take trainings already finished (same stages, seed, size) from {PROGRESS.name}")  # fmt: skip
    p.add_argument("--target", choices=sorted(TARGETS), default=TARGET,
                   help=f"the real sample to transfer to ({TARGET}; voc-other: class person only)")  # fmt: skip
    p.add_argument("--markdown", action="store_true", help="instead: print transfer_real.json as Markdown")
    a = p.parse_args(argv)
    setup()
    if a.markdown:
        print(markdown(json.loads((RESULTS / f"{result_name(a.target)}.json").read_text())))  # noqa: T201
    elif a.length_check:
        length_check(seeds=a.seeds, imgsz=a.imgsz, workers=a.jobs)
    else:
        run(
            seeds=a.seeds,
            epochs=a.epochs,
            imgsz=a.imgsz,
            workers=a.jobs,
            only=a.only,
            explore=a.explore,
            resume=a.resume,
            target=a.target,
        )


if __name__ == "__main__":
    main()
