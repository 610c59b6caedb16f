"""Transfer-learning evidence: does the pipeline's recipe (frozen backbone, then fine-tune) pay?

Scratch, full, frozen and the recipe on the same epochs; set-up, record keys and results: docs/transfer.md.

    python -m benchmarks.transfer [--quick] [--seeds 3] [--epochs 16] [--no-voc] [--jobs 2]
    python -m benchmarks.transfer --explore | --size-check | --markdown | --pretrain-voc
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.common import (
    CACHE,
    REPO,
    RESULTS,
    SAMPLE_WEIGHTS,
    SHARED_DATA,
    WEIGHTS,
    Repeats,
    add_to_result,
    log,
    mean_std,
    peak_rss_mib,
    setup,
    shared_voc,
    stopwatch,
    synthetic_dataset,
    table,
    voc_dataset,
    write_result,
)
from components._yolo.layers import BACKBONE_LAYERS

if TYPE_CHECKING:
    from pipelines.config import PipelineParams

RECIPE = "two-stage"
VOC_CHECKPOINT = WEIGHTS / "voc_helmet_pretrained.pt"
VOC_TARGET_CLASSES = ("person",)
VOC_PRETRAIN_EPOCHS = 100
VOC_IMGSZ = 224
LR = 0.01
FREEZE = BACKBONE_LAYERS  # the frozen variants freeze the whole backbone
LR_FINETUNE = 0.001  # 10x lower: the first default of lr_finetune, kept as an explored setting
SPLIT = "test"  # every variant's final checkpoint is scored once on it; it picks nothing
UNIT = "mAP50-95 on held-out test images (mean over seeds)"
# trained on seed 0 only: from random weights at these budgets it scores 0.000 on every seed measured
# (3 seeds in every run before issue 27), and its seeds cost ~50 s of `make bench`
ONE_SEED = frozenset({"scratch"})
JOBS = min(2, len(os.sched_getaffinity(0)))  # trainings at once, one torch thread each
SIZE_CHECK_MODEL = "yolov8s.yaml"  # the real backbone's architecture (11.2M parameters; yolov5n: 2.6M)
SIZE_CHECK_WEIGHTS = CACHE / "pretrained_task_a_yolov8s.pt"  # git-ignored; re-created when absent (~10 min)
SYNTH_TRAIN_IMAGES = 80


@dataclass(frozen=True)
class Stage:
    """One training call: ``weights`` None means "the previous stage's best.pt"."""

    weights: str | None
    freeze: int
    epochs: int
    lr0: float
    warmup_epochs: float


def _local_params() -> PipelineParams:
    from pipelines import config

    return config.load_params(config.LOCAL_PARAMS)


def scaled_frozen(total: int, frozen: int, finetune: int) -> int:
    """The frozen epochs of ``total`` in the share ``frozen : finetune``, at least one per stage."""
    return max(1, min(total - 1, round(total * frozen / (frozen + finetune))))


def recipe_setting(total: int) -> tuple[int, float]:
    """The pipeline's local recipe scaled to ``total`` epochs by ``resolve_plan``: (frozen epochs, fine-tune lr)."""
    from components.plan.core import PlanRequest, resolve_plan

    p = _local_params()
    frozen = scaled_frozen(total, p.epochs_frozen, p.epochs_finetune)
    plan = resolve_plan(PlanRequest(strategy=RECIPE, freeze=FREEZE, epochs_frozen=frozen,
                                    epochs_finetune=total - frozen, lr0=LR, lr_finetune=p.lr_finetune), 0)  # fmt: skip
    return plan.epochs_frozen, plan.lr_finetune


def two_stage(pretrained: str, frozen: int, total: int, lr: float, warmup: float, freeze: int = FREEZE) -> list[Stage]:  # fmt: skip
    """``frozen`` epochs at ``LR`` with ``freeze`` layers frozen, then the rest of ``total`` unfrozen at ``lr``."""
    return [Stage(pretrained, freeze, frozen, LR, 1.0), Stage(None, 0, total - frozen, lr, warmup)]


def variants(total: int, pretrained: str, scratch: str = "yolov5n.yaml") -> dict[str, list[Stage]]:
    """The four compared variants for ``total`` epochs; the recipe follows the pipeline's defaults."""
    frozen, lr = recipe_setting(total)
    return {
        "scratch": [Stage(scratch, 0, total, LR, 1.0)],
        "full": [Stage(pretrained, 0, total, LR, 1.0)],
        "frozen": [Stage(pretrained, FREEZE, total, LR, 1.0)],
        RECIPE: two_stage(pretrained, frozen, total, lr, _local_params().warmup_finetune),
    }


def explore_variants(total: int, pretrained: str) -> dict[str, list[Stage]]:
    """Other settings of the recipe (``--explore``): epoch split and fine-tune learning rate."""
    # 8+8 at lr 0.001 was the first default (the user's "lower learning rate"); it lost to frozen-only
    half, quarter, eighth = total // 2, total // 4, total // 8
    settings = [(half, LR_FINETUNE), (half, LR), (total - quarter, LR_FINETUNE), (total - quarter, LR), (quarter, LR),
                (quarter, 0.005), (quarter, 0.003), (eighth, LR)]  # fmt: skip
    return {f"two-stage {f}+{total - f}, fine-tune lr {lr:g}": two_stage(pretrained, f, total, lr, 0.0)
            for f, lr in settings}  # fmt: skip


def train_variant(
    stages: list[Stage], data_yaml: Path, work: Path, *, imgsz: int, seed: int
) -> dict[str, Any]:
    """Train the stages in turn, score the final best.pt on test (with several stages each one: ``per_stage``)."""
    from components.train.core import TrainConfig, train_model
    from components.validate.core import ValidateConfig, validate_model

    def score(best: str, name: str) -> Any:
        cfg = ValidateConfig(split=SPLIT, imgsz=imgsz, device="cpu")
        return validate_model(Path(best), data_yaml, work / name, cfg)

    weights, epoch_s, seconds, val_map, per_stage = "", [], 0.0, 0.0, []
    for i, st in enumerate(stages):
        cfg = TrainConfig(freeze=st.freeze, epochs=st.epochs, imgsz=imgsz, batch=16, lr0=st.lr0,
                          warmup_epochs=st.warmup_epochs, seed=seed, patience=st.epochs, device="cpu",
                          stage_name=f"stage{i}")  # fmt: skip
        result = train_model(data_yaml, st.weights or weights, work / f"stage{i}", cfg)
        weights, seconds, val_map = str(result.best), seconds + result.seconds, result.map50_95
        epoch_s += [result.seconds_per_epoch] * st.epochs
        if i < len(stages) - 1:
            s = score(weights, f"test{i}")
            per_stage.append({"val_map50_95": round(val_map, 5), "map50_95": round(s.map50_95, 5),
                              "map50": round(s.map50, 5)})  # fmt: skip
    final = score(weights, "test")
    rec = {
        "map50_95": round(final.map50_95, 5),
        "map50": round(final.map50, 5),
        "val_map50_95": round(val_map, 5),
        "seconds_per_epoch": round(sum(epoch_s) / len(epoch_s), 3),
        "train_seconds": round(seconds, 1),
        "best": weights,
    }
    if per_stage:
        rec["per_stage"] = [*per_stage, {k: rec[k] for k in ("val_map50_95", "map50_95", "map50")}]
    return rec


def _job(args: tuple[list[Stage], Path, Path, int, int, bool]) -> dict[str, Any]:
    """One (variant, seed) in a worker process; ``alone``: also its wall time and peak RSS."""
    stages, data_yaml, work, imgsz, seed, alone = args
    setup()
    t0 = time.perf_counter()
    try:
        rec = train_variant(stages, data_yaml, work, imgsz=imgsz, seed=seed)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rec.pop("best")
    if alone:
        rec["wall_seconds"] = round(time.perf_counter() - t0, 1)
        rec["peak_rss_mib"] = peak_rss_mib()
        rec["peak_rss_children_mib"] = peak_rss_mib(children=True)  # data-loader workers, if any were used
    return rec


def run_key(stages: list[Stage], seed: int, imgsz: int, data: Path) -> str:
    """What makes two trainings the same (seeded and deterministic): stages, seed, image size, dataset."""
    return json.dumps({"stages": [asdict(st) for st in stages], "seed": seed, "imgsz": imgsz, "data": str(data)},
                      sort_keys=True)  # fmt: skip


def finished_runs(path: Path) -> dict[str, dict[str, Any]]:
    """``{run_key: record}`` of a progress file (``--resume``); torn lines are skipped."""
    done: dict[str, dict[str, Any]] = {}
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a line cut short by a kill
        if isinstance(rec, dict) and "key" in rec:
            done[rec["key"]] = {
                k: v for k, v in rec.items() if k not in ("variant", "seed", "epochs", "imgsz", "key")
            }
    return done


def train_all(plan: dict[str, list[Stage]], data: Path, *, seeds: int, imgsz: int, workers: int, label: str,
              alone: bool = False, progress: Path | None = None,
              resume: bool = False) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:  # fmt: skip
    """Every variant of ``plan`` for every seed, ``workers`` at once; ``resume`` reuses the runs in ``progress``."""
    done = finished_runs(progress) if resume and progress else {}
    jobs = [(name, seed) for seed in range(seeds) for name in plan if seed == 0 or name not in ONE_SEED]
    keys = {(n, s): run_key(plan[n], s, imgsz, data) for n, s in jobs}
    got = {j: done[keys[j]] for j in jobs if keys[j] in done}
    todo = [j for j in jobs if j not in got]
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-transfer-") as tmp:
        args = [(plan[n], data, Path(tmp) / f"{n.replace(' ', '_')}-{s}", imgsz, s, alone) for n, s in todo]
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx, max_tasks_per_child=1 if alone else None) as pool:
            for (name, seed), rec in zip(todo, pool.map(_job, args), strict=True):
                got[name, seed] = rec
                if progress is not None:  # partial results survive an interrupted study
                    progress.parent.mkdir(parents=True, exist_ok=True)
                    line = {"variant": name, "seed": seed, "epochs": sum(st.epochs for st in plan[name]),
                            "imgsz": imgsz, "key": keys[name, seed], **rec}  # fmt: skip
                    with progress.open("a") as f:
                        f.write(json.dumps(line) + "\n")
                log.info("%s %s seed %d: test mAP50-95 %.3f mAP50 %.3f (%.2f s/epoch)", label, name, seed,
                         rec["map50_95"], rec["map50"], rec["seconds_per_epoch"])  # fmt: skip
    runs: dict[str, list[dict[str, Any]]] = {}
    for name, seed in jobs:
        runs.setdefault(name, []).append({"seed": seed, **got[name, seed]})
    reused = [got[j] for j in jobs if j not in todo]
    timing = {"seconds": round(time.perf_counter() - t0, 1), "reused": len(reused),
              "reused_seconds": round(sum(r.get("wall_seconds", 0.0) for r in reused), 1)}  # fmt: skip
    return runs, timing


def summarize(runs: dict[str, list[dict[str, Any]]], plan: dict[str, list[Stage]]) -> dict[str, Any]:
    """Per variant: mean ± sample std of both test mAPs, mean s/epoch, highest peak RSS, the stages."""
    out = {}
    for name, rs in runs.items():
        m, s = mean_std([r["map50_95"] for r in rs])
        m50, s50 = mean_std([r["map50"] for r in rs])
        e, _ = mean_std([r["seconds_per_epoch"] for r in rs])
        rss = {"peak_rss_mib": max(r["peak_rss_mib"] for r in rs)} if "peak_rss_mib" in rs[0] else {}
        out[name] = {"seeds": len(rs), "map50_95_mean": round(m, 4), "map50_95_std": round(s, 4),
                     "map50_mean": round(m50, 4),
                     "map50_std": round(s50, 4), "seconds_per_epoch": round(e, 3), **rss,
                     "stages": [asdict(st) for st in plan[name]]}  # fmt: skip
    return out


def ranked(summary: dict[str, Any]) -> list[str]:
    """Variant names, best mean test mAP50-95 first (ties: the order given)."""
    return sorted(summary, key=lambda n: summary[n]["map50_95_mean"], reverse=True)


def best_other(summary: dict[str, Any], ours: str, same_as: dict[str, str] | None = None) -> str:
    """The variant with the best mean test mAP50-95 among those whose stages differ from ``ours``'s."""
    same = same_as or {n: n for n in summary}
    return max((n for n in summary if same[n] != same[ours]), key=lambda n: summary[n]["map50_95_mean"])


def stages_text(stages: list[dict[str, Any]]) -> str:
    """``4 ep frozen @ lr 0.01 + 12 ep all @ lr 0.01``."""
    return " + ".join(
        f"{st['epochs']} ep {'frozen' if st['freeze'] else 'all'} @ lr {st['lr0']:g}" for st in stages
    )


def summary_table(title: str, summary: dict[str, Any]) -> None:
    """Print the ``summarize`` table, best variant first."""
    table(title, ("variant", "mAP50-95", "mAP50", "s/epoch", "peak RSS MiB", "stages"),
          [(n, f"{v['map50_95_mean']:.3f} ± {v['map50_95_std']:.3f}", f"{v['map50_mean']:.3f} ± {v['map50_std']:.3f}",
            v["seconds_per_epoch"], v.get("peak_rss_mib"), stages_text(v["stages"]))
           for n, v in {n: summary[n] for n in ranked(summary)}.items()])  # fmt: skip


def seed_repeats(runs: dict[str, list[dict[str, Any]]], ours_name: str, other_name: str) -> Repeats:
    """Two variants' test mAP50-95, seed by seed (their ratios: one per seed)."""
    ours = {r["seed"]: r["map50_95"] for r in runs[ours_name]}
    other = {r["seed"]: r["map50_95"] for r in runs[other_name]}
    seeds = sorted(ours.keys() & other.keys())
    return Repeats([ours[s] for s in seeds], [other[s] for s in seeds], repeats_are="seeds")


def write_seed_result(name: str, runs: dict[str, list[dict[str, Any]]], summary: dict[str, Any], ours: str,
                      baseline: str, /, *, goal: str, **detail: Any) -> dict[str, Any]:  # fmt: skip
    """Write a seed study's result: the two variants' means, the median of their per-seed ratios."""
    rep = seed_repeats(runs, ours, baseline)
    o, b = summary[ours]["map50_95_mean"], summary[baseline]["map50_95_mean"]
    return write_result(name, repeats=rep, ours=o, baseline=b, unit=UNIT, goal=goal, goal_met=o > b,
                        spread_straddles_goal=min(rep.ratios) <= 1 < max(rep.ratios), **detail)  # fmt: skip


def compare(data_yaml: Path, plan: dict[str, list[Stage]], *, seeds: int, epochs: int, imgsz: int, label: str,
            workers: int) -> dict[str, Any]:  # fmt: skip
    """Every variant of ``plan`` for every seed: the runs, their (printed) summary and the settings."""
    runs, _ = train_all(plan, data_yaml, seeds=seeds, imgsz=imgsz, workers=workers, label=label)
    summary = summarize(runs, plan)
    summary_table(f"transfer ({label}): {SPLIT} mAP50-95, {seeds} seed(s), {epochs} epochs in total, {imgsz} px",
                  summary)  # fmt: skip
    return dict(runs=runs, summary=summary, seeds=seeds, epochs=epochs, imgsz=imgsz, split=SPLIT)


def synthetic_part(seeds: int, epochs: int, explore: bool, workers: int, skip: set[str] = frozenset(),
                   images: int = 160, imgsz: int = 160) -> dict[str, Any]:  # fmt: skip
    """Task A checkpoint -> task B: 80 train / 20 val / 60 test images at 160 px (smaller for the smoke run)."""
    name = "transfer-taskB-160" if (images, imgsz) == (160, 160) else f"transfer-taskB-{images}-{imgsz}"
    data = synthetic_dataset(CACHE / name, images=images, val=0.125, test=0.375, imgsz=imgsz)
    chosen = (explore_variants if explore else variants)(epochs, str(SAMPLE_WEIGHTS))
    return compare(data, {n: v for n, v in chosen.items() if n not in skip}, seeds=seeds, epochs=epochs,
                   imgsz=imgsz, label="synthetic A -> B", workers=workers)  # fmt: skip


def size_check(*, seeds: int = 3, epochs: int = 16, workers: int = 2) -> dict[str, Any]:
    """``--size-check``: full, frozen and the recipe from a ``yolov8s.yaml`` task-A backbone (``size_check``)."""
    from pipelines.pretrain_sample import pretrain_sample

    if not SIZE_CHECK_WEIGHTS.is_file():
        log.info("pre-training task A with %s -> %s (once)", SIZE_CHECK_MODEL, SIZE_CHECK_WEIGHTS)
        pretrain_sample(SIZE_CHECK_WEIGHTS, model=SIZE_CHECK_MODEL, device="cpu")
    data = synthetic_dataset(CACHE / "transfer-taskB-160", images=160, val=0.125, test=0.375)
    base = variants(epochs, str(SIZE_CHECK_WEIGHTS))
    part = compare(data, {n: base[n] for n in ("full", "frozen", RECIPE)}, seeds=seeds, epochs=epochs, imgsz=160,
                   label=f"synthetic A -> B, {SIZE_CHECK_MODEL}", workers=workers)  # fmt: skip
    part.update(backbone=f"task A, {SIZE_CHECK_MODEL} from scratch (pipelines.pretrain_sample --model)",
                train_images=SYNTH_TRAIN_IMAGES, ranking=ranked(part["summary"]))  # fmt: skip
    add_to_result("transfer", "size_check", part)
    return part


def pretrain_voc(epochs: int = VOC_PRETRAIN_EPOCHS, imgsz: int = VOC_IMGSZ) -> Path:
    """``--pretrain-voc``: re-create ``VOC_CHECKPOINT``, yolov5n from scratch on all of ``voc-helmet``."""
    helmet = shared_voc("voc-helmet")
    if helmet is None:
        raise SystemExit(f"voc-helmet not found under {SHARED_DATA}: cannot pre-train")
    from components.train.core import TrainConfig, train_model

    data = voc_dataset(helmet, CACHE / "voc-helmet-data", val=0.2)
    cfg = TrainConfig(freeze=0, epochs=epochs, imgsz=imgsz, batch=16, lr0=LR, warmup_epochs=3.0, seed=0,
                      patience=epochs, device="cpu", stage_name="pretrain-voc-helmet")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-pretrain-") as tmp, stopwatch() as t:
        result = train_model(data, "yolov5n.yaml", Path(tmp), cfg)
        VOC_CHECKPOINT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.best, VOC_CHECKPOINT)
    info = {"data": "voc-helmet: 120 train / 30 val images, classes helmet, head", "from": "yolov5n.yaml (scratch)",
            "epochs": epochs, "imgsz": imgsz, "val_map50_95": round(result.map50_95, 4),
            "val_map50": round(result.map50, 4), "seconds": round(t["s"], 1)}  # fmt: skip
    VOC_CHECKPOINT.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")
    log.info("pre-trained on voc-helmet: %s -> %s", info, VOC_CHECKPOINT)
    return VOC_CHECKPOINT


def voc_part(seeds: int, epochs: int, imgsz: int, workers: int) -> dict[str, Any] | None:
    """voc-helmet checkpoint -> the ``person`` class of voc-other (50 train / 20 val / 30 test images)."""
    other = shared_voc("voc-other")
    if other is None or (not VOC_CHECKPOINT.is_file() and shared_voc("voc-helmet") is None):
        log.warning("real VOC samples not found: skipping the voc-helmet -> voc-other part")
        return None
    if not VOC_CHECKPOINT.is_file():
        pretrain_voc()
    data = voc_dataset(other, CACHE / "voc-other-person", val=0.2, test=0.3, classes=VOC_TARGET_CLASSES)
    out = compare(data, variants(epochs, str(VOC_CHECKPOINT)), seeds=seeds, epochs=epochs, imgsz=imgsz,
                  label="real voc-helmet -> voc-other person", workers=workers)  # fmt: skip
    out["pretrain"] = json.loads(VOC_CHECKPOINT.with_suffix(".json").read_text())
    out["pretrain"]["checkpoint"] = str(VOC_CHECKPOINT.relative_to(REPO))
    out["target"] = {"data": "voc-other, class person only (other objects ignored), 50 train / 20 val / 30 test",
                     "classes": list(VOC_TARGET_CLASSES)}  # fmt: skip
    return out


def _verdict(summary: dict[str, Any]) -> dict[str, Any]:
    other = best_other(summary, RECIPE)
    return {"best_other": other, "recipe_wins": summary[RECIPE]["map50_95_mean"] > summary[other]["map50_95_mean"],
            "ranking": ranked(summary)}  # fmt: skip


def run(*, seeds: int = 3, epochs: int = 16, voc: bool = True, voc_epochs: int = 16, voc_imgsz: int = VOC_IMGSZ,
        workers: int = 2, images: int = 160, imgsz: int = 160) -> dict[str, Any]:  # fmt: skip
    """Both parts; write ``results/transfer.json`` (keeping its ``explore`` and ``size_check`` sections)."""
    synth = synthetic_part(seeds, epochs, explore=False, workers=workers, images=images, imgsz=imgsz)
    synth.update(_verdict(synth["summary"]))
    real = voc_part(seeds, voc_epochs, voc_imgsz, workers) if voc else None
    if real is not None:
        real.update(_verdict(real["summary"]))
    path = RESULTS / "transfer.json"
    before = json.loads(path.read_text()) if path.is_file() else {}
    # sections other runs wrote; without --voc, the real part of the last run that had one (with its date)
    kept = {k: before[k] for k in ("explore", "size_check") if before.get(k)}
    if kept.get("explore"):
        kept["explore"] = explore_with_base(kept["explore"], before.get("synthetic", {}))
    if real is None and before.get("voc"):
        real = {**before["voc"], "from_run": before.get("machine", {}).get("date")}
    frozen, lr = recipe_setting(epochs)
    return write_seed_result(
        "transfer", synth["runs"], synth["summary"], RECIPE, synth["best_other"],
        goal="the recipe's mean above the best other variant's (recipe_wins)",
        ours_is=f"{RECIPE}: the pipeline's local defaults scaled to {epochs} epochs ({frozen} frozen + "
                f"{epochs - frozen} fine-tune at lr {lr:g})",
        baseline_is=f"best other variant: {synth['best_other']}",
        recipe_wins=synth["recipe_wins"], ranking=synth["ranking"], synthetic=synth, voc=real, **kept,
    )  # fmt: skip


def explore_with_base(explored: dict[str, Any], synthetic: dict[str, Any]) -> dict[str, Any]:
    """``explored`` with ``base``: the four variants at its own epochs, which it is ranked against. Taken from
    ``synthetic`` while that ran the same epochs and seeds (a shorter run, e.g. ``make bench``, keeps the old)."""
    if (synthetic.get("epochs"), synthetic.get("seeds")) == (explored.get("epochs"), explored.get("seeds")):
        return {**explored, "base": synthetic["summary"]}
    return explored


def explore(*, seeds: int = 3, epochs: int = 16, workers: int = 2) -> dict[str, Any]:
    """``--explore``: other recipe settings on the synthetic task, added to ``transfer.json``."""
    path = RESULTS / "transfer.json"
    record = json.loads(path.read_text()) if path.is_file() else {}
    done = record.get("explore", {}) if record.get("explore", {}).get("seeds") == seeds else {}
    found = synthetic_part(seeds, epochs, explore=True, workers=workers, skip=set(done.get("runs", {})))
    found["runs"] = {**done.get("runs", {}), **found["runs"]}
    found["summary"] = {**done.get("summary", {}), **found["summary"]}
    synth = record.get("synthetic", {})
    if (synth.get("epochs"), synth.get("seeds")) != (epochs, seeds):
        log.warning(
            "%s is missing or from other settings; the explored variants are saved beside it only", path
        )
        record = {}
    merged = {**record.get("synthetic", {}).get("summary", {}), **found["summary"]}
    found = {"ranking": ranked(merged), **found}
    if record:
        record["explore"] = found
        path.write_text(json.dumps(record, indent=2) + "\n")
    else:
        (RESULTS / "transfer_explore.json").write_text(json.dumps(found, indent=2) + "\n")
    table("transfer: every variant ranked (synthetic, mean test mAP50-95)", ("variant", "mAP50-95", "std"),
          [(n, merged[n]["map50_95_mean"], merged[n]["map50_95_std"]) for n in found["ranking"]])  # fmt: skip
    return found


def markdown(record: dict[str, Any]) -> str:
    """The tables of ``docs/transfer.md`` from a ``transfer.json`` record."""

    def rows(summary: dict[str, Any], names: list[str], seeds: int = 0) -> list[str]:
        def name(n: str, v: dict[str, Any]) -> str:  # a variant trained on fewer seeds than the part says so
            return f"{n} ({v['seeds']} seed)" if v.get("seeds", seeds) < seeds else n

        return [f"| {name(n, v)} | {v['map50_95_mean']:.3f} ± {v['map50_95_std']:.3f} | {v['map50_mean']:.3f} "
                f"| {v['seconds_per_epoch']:.2f} | {stages_text(v['stages'])} |"
                for n, v in {n: summary[n] for n in names}.items()]  # fmt: skip

    head = ["| variant | mAP50-95 (mean ± std) | mAP50 | s/epoch | stages |", "|---|---|---|---|---|"]
    parts = []
    for key, title in (("synthetic", "Synthetic: task A checkpoint -> task B"),
                       ("voc", "Real: voc-helmet checkpoint -> voc-other, class person")):  # fmt: skip
        part = record.get(key)
        if not part:
            continue
        parts += [f"**{title}** ({part['seeds']} seeds, {part['epochs']} epochs in total, {part['imgsz']} px, "
                  f"{part['split']} split)", "", *head,
                  *rows(part["summary"], part.get("ranking", list(part["summary"])), part["seeds"]),
                  ""]  # fmt: skip
        if key == "synthetic" and "pairs" in record:  # since issue 27: the per-seed ratios of the claim
            parts += [f"{RECIPE} / {part['best_other']}, seed by seed: median **{record['ratio']:.3f}** "
                      f"({record['ratio_min']:.3f}..{record['ratio_max']:.3f}, {record['pairs']} seeds)", ""]  # fmt: skip
    check = record.get("size_check")
    if check:
        parts += [f"**Synthetic, YOLOv8s task-A backbone** (`--size-check`; the same data, split and budget, "
                  f"{check['seeds']} seeds, {check['epochs']} epochs, {check['imgsz']} px, {check['split']} split)",
                  "", *head, *rows(check["summary"], check["ranking"]), ""]  # fmt: skip
    explored = record.get("explore")
    if explored:
        explored = explore_with_base(explored, record["synthetic"])
        merged = {**explored.get("base", {}), **explored["summary"]}
        parts += [f"**Recipe settings explored** (synthetic, {explored['seeds']} seeds, {explored['epochs']} epochs in "
                  "total; `--explore`)", "", *head, *rows(merged, ranked(merged)), ""]  # fmt: skip
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.transfer``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="one seed (instead of 3)")
    p.add_argument("--seeds", type=int, help="seeds per variant (default 3; 1 with --quick)")
    p.add_argument("--epochs", type=int, default=16, help="total epochs of every variant (default 16)")
    p.add_argument(
        "--images", type=int, default=160, help="synthetic images (default 160; the smoke run: fewer)"
    )
    p.add_argument("--imgsz", type=int, default=160, help="synthetic image size (default 160)")
    p.add_argument("--no-voc", action="store_true", help="skip the real voc-helmet -> voc-other part")
    p.add_argument("--voc-epochs", type=int, default=16, help="total epochs of the real part (default 16)")
    p.add_argument(
        "--voc-imgsz", type=int, default=VOC_IMGSZ, help=f"image size of the real part ({VOC_IMGSZ})"
    )
    p.add_argument(
        "--markdown", action="store_true", help="instead: print transfer.json's tables as Markdown"
    )
    p.add_argument("--pretrain-voc", action="store_true",
                   help=f"instead: re-create {VOC_CHECKPOINT.name} (pre-training on voc-helmet, ~15 min)")  # fmt: skip
    p.add_argument("--explore", action="store_true",
                   help="instead: other epoch splits and fine-tune lrs of the recipe, added to transfer.json")  # fmt: skip
    p.add_argument("--size-check", action="store_true",
                   help=f"instead: the synthetic study from a {SIZE_CHECK_MODEL} task-A backbone, added to transfer.json")  # fmt: skip
    p.add_argument("--jobs", type=int, default=JOBS,
                   help="trainings at once, each in its own process (default: 2, or 1 on one core)")  # fmt: skip
    a = p.parse_args(argv)
    setup()
    seeds = a.seeds or (1 if a.quick else 3)
    if a.markdown:
        print(markdown(json.loads((RESULTS / "transfer.json").read_text())))  # noqa: T201
    elif a.pretrain_voc:
        pretrain_voc()
    elif a.size_check:
        size_check(seeds=seeds, epochs=a.epochs, workers=a.jobs)
    elif a.explore:
        explore(seeds=seeds, epochs=a.epochs, workers=a.jobs)
    else:
        run(seeds=seeds, epochs=a.epochs, voc=not a.no_voc, voc_epochs=a.voc_epochs, voc_imgsz=a.voc_imgsz,
            workers=a.jobs, images=a.images, imgsz=a.imgsz)  # fmt: skip


if __name__ == "__main__":
    main()
