"""Transfer-learning evidence: does the pipeline's recipe (frozen backbone, then fine-tune) pay?

Synthetic part (the claim): task B (star, cross, ring), 160 images split 80 train / 20 val / 60 test,
160 px, starting from the committed task-A checkpoint (circle, square, triangle). Four variants spend
the same total number of epochs (default 16):

    scratch     yolov5n.yaml (random weights), freeze 0, all epochs, lr0 0.01
    full        task-A checkpoint, freeze 0, all epochs, lr0 0.01            (strategy "full")
    frozen      task-A checkpoint, freeze 10, all epochs, lr0 0.01           (strategy "frozen")
    two-stage   the pipeline's local defaults scaled to the budget (``recipe_setting``): freeze 10 for
                a quarter of the epochs at lr0 0.01, then freeze 0 from its best.pt for the rest at
                ``lr_finetune`` (0.01), no warm-up                           (strategy "two-stage")

Every stage uses the pipeline's settings (SGD, batch 16, seed, deterministic), the checkpoint with the
best validation fitness is kept (as in the pipeline) and scored once on the 60 test images, which no
variant saw. Three seeds each; mean +- sample std. Trainings run two at a time, one torch thread each
(what Ultralytics picks on 2 cores), so s/epoch compare only within one run.

``--explore`` runs other splits and fine-tune learning rates of the recipe (8+8 at lr 0.001, the
first default, among them) and adds them to ``transfer.json``; that is how the defaults were chosen.

Real part (``make bench`` leaves it out with ``--no-voc`` and keeps the last one, dated ``from_run``):
yolov5n pre-trained from scratch on all of ``voc-helmet`` (helmet, head; 100 epochs at
224 px, committed as ``benchmarks/weights/voc_helmet_pretrained.pt``, ``--pretrain-voc`` re-creates
it), transferred to the ``person`` class of ``voc-other`` (50 train / 20 val / 30 test images), same
four variants, three seeds. Skipped when ``../shared/data`` is absent.

``transfer.json``: ``ours`` = the recipe's mean test mAP50-95, ``baseline`` = the best other variant's
(synthetic part).

    python -m benchmarks.transfer [--quick] [--seeds 3] [--epochs 16] [--no-voc] [--jobs 2]
    python -m benchmarks.transfer --explore       # other recipe settings, added to transfer.json
    python -m benchmarks.transfer --markdown      # the tables of docs/transfer.md
    python -m benchmarks.transfer --pretrain-voc  # re-create the voc-helmet checkpoint
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import tempfile
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


@dataclass(frozen=True)
class Stage:
    """One training call: ``weights`` None means "the previous stage's best.pt"."""

    weights: str | None
    freeze: int
    epochs: int
    lr0: float
    warmup_epochs: float


def _local_params() -> PipelineParams:
    """The demo's pipeline parameters: the cluster defaults with ``pipelines/params/local.yaml`` over them."""
    from pipelines import config

    return config.load_params(config.LOCAL_PARAMS)


def recipe_setting(total: int) -> tuple[int, float]:
    """The pipeline's local recipe scaled to ``total`` epochs: (frozen epochs, fine-tune lr).

    The epoch split keeps the local defaults' share; the learning rate is what the pipeline's own
    ``resolve_plan`` gives for them (``lr_finetune`` -1 means lr0).
    """
    from components.plan.core import PlanRequest, resolve_plan

    p = _local_params()
    frozen = max(1, min(total - 1, round(total * p.epochs_frozen / (p.epochs_frozen + p.epochs_finetune))))
    plan = resolve_plan(PlanRequest(strategy=RECIPE, freeze=FREEZE, epochs_frozen=frozen,
                                    epochs_finetune=total - frozen, lr0=LR, lr_finetune=p.lr_finetune), 0)  # fmt: skip
    return plan.epochs_frozen, plan.lr_finetune


def variants(total: int, pretrained: str) -> dict[str, list[Stage]]:
    """The four compared variants for ``total`` epochs; the recipe follows the pipeline's defaults."""
    frozen, lr = recipe_setting(total)
    return {
        "scratch": [Stage("yolov5n.yaml", 0, total, LR, 1.0)],
        "full": [Stage(pretrained, 0, total, LR, 1.0)],
        "frozen": [Stage(pretrained, FREEZE, total, LR, 1.0)],
        RECIPE: [Stage(pretrained, FREEZE, frozen, LR, 1.0),
                 Stage(None, 0, total - frozen, lr, _local_params().warmup_finetune)],
    }  # fmt: skip


def explore_variants(total: int, pretrained: str) -> dict[str, list[Stage]]:
    """Other settings of the recipe (``--explore``): epoch split and fine-tune learning rate."""

    def recipe(frozen: int, lr: float) -> list[Stage]:
        return [Stage(pretrained, FREEZE, frozen, LR, 1.0), Stage(None, 0, total - frozen, lr, 0.0)]

    # 8+8 at lr 0.001 was the first default (the user's "lower learning rate"); it lost to frozen-only
    half, quarter, eighth = total // 2, total // 4, total // 8
    settings = [(half, LR_FINETUNE), (half, LR), (total - quarter, LR_FINETUNE), (total - quarter, LR), (quarter, LR),
                (quarter, 0.005), (quarter, 0.003), (eighth, LR)]  # fmt: skip
    return {f"two-stage {f}+{total - f}, fine-tune lr {lr:g}": recipe(f, lr) for f, lr in settings}


def _job(args: tuple[list[Stage], Path, Path, int, int, str]) -> dict[str, Any]:
    """One (variant, seed) in a worker process."""
    stages, data_yaml, work, imgsz, seed, split = args
    setup()
    try:
        return train_variant(stages, data_yaml, work, imgsz=imgsz, seed=seed, split=split)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def train_variant(stages: list[Stage], data_yaml: Path, work: Path, *, imgsz: int, seed: int,
                  split: str) -> dict[str, Any]:  # fmt: skip
    """Train the stages one after another and score the final best.pt on ``split``.

    With more than one stage, every stage's best.pt is also scored on ``split`` (``per_stage``: its
    validation and ``split`` mAP), so a rule that keeps an earlier stage's weights when the next one
    does not beat them on validation can be read from the same runs.
    """
    from components.train.core import TrainConfig, train_model
    from components.validate.core import ValidateConfig, validate_model

    def score(best: str, name: str) -> Any:
        return validate_model(Path(best), data_yaml, work / name, ValidateConfig(split=split, imgsz=imgsz,
                                                                                 device="cpu"))  # fmt: skip

    weights, epoch_s, seconds, val_map, per_stage = "", [], 0.0, 0.0, []
    for i, st in enumerate(stages):
        cfg = TrainConfig(freeze=st.freeze, epochs=st.epochs, imgsz=imgsz, batch=16, lr0=st.lr0,
                          warmup_epochs=st.warmup_epochs, seed=seed, patience=st.epochs, device="cpu",
                          stage_name=f"stage{i}")  # fmt: skip
        result = train_model(data_yaml, st.weights or weights, work / f"stage{i}", cfg)
        weights, seconds, val_map = str(result.best), seconds + result.seconds, result.map50_95
        epoch_s += [result.seconds_per_epoch] * st.epochs
        if len(stages) > 1 and i < len(stages) - 1:
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


def _ranked(summary: dict[str, Any]) -> list[str]:
    """Variant names, best mean test mAP50-95 first."""
    return sorted(summary, key=lambda n: summary[n]["map50_95_mean"], reverse=True)


def _stages_text(stages: list[dict[str, Any]]) -> str:
    """``4 ep frozen @ lr 0.01 + 12 ep all @ lr 0.01``."""
    return " + ".join(
        f"{st['epochs']} ep {'frozen' if st['freeze'] else 'all'} @ lr {st['lr0']:g}" for st in stages
    )


def compare(
    data_yaml: Path,
    pretrained: str,
    *,
    seeds: int,
    epochs: int,
    imgsz: int,
    split: str,
    explore: bool,
    label: str,
    workers: int = 1,
    skip: set[str] = frozenset(),
    given: dict[str, list[Stage]] | None = None,
) -> dict[str, Any]:
    """Every variant (with ``explore``: the other recipe settings; ``given``: those) for every seed."""
    runs: dict[str, list[dict[str, Any]]] = {}
    chosen = given if given is not None else (explore_variants if explore else variants)(epochs, pretrained)
    plan = {n: v for n, v in chosen.items() if n not in skip}
    with tempfile.TemporaryDirectory(prefix="bench-transfer-") as tmp:
        jobs = [(name, seed) for seed in range(seeds) for name in plan]
        args = [(plan[n], data_yaml, Path(tmp) / f"{n.replace(' ', '_')}-{seed}", imgsz, seed, split)
                for n, seed in jobs]  # fmt: skip
        # one torch thread per process (what Ultralytics picks on 2 cores), ``workers`` processes at once
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            for (name, seed), rec in zip(jobs, pool.map(_job, args), strict=True):
                rec.pop("best")
                runs.setdefault(name, []).append({"seed": seed, **rec})
                log.info("%s %s seed %d: %s mAP50-95 %.3f (%.2f s/epoch)", label, name, seed, split,
                         rec["map50_95"], rec["seconds_per_epoch"])  # fmt: skip
    summary = {}
    for name, rs in runs.items():
        m, s = mean_std([r["map50_95"] for r in rs])
        m50, _ = mean_std([r["map50"] for r in rs])
        e, _ = mean_std([r["seconds_per_epoch"] for r in rs])
        summary[name] = {"map50_95_mean": round(m, 4), "map50_95_std": round(s, 4), "map50_mean": round(m50, 4),
                         "seconds_per_epoch": round(e, 3), "stages": [asdict(st) for st in plan[name]]}  # fmt: skip
    rows = [(n, f"{v['map50_95_mean']:.3f} ± {v['map50_95_std']:.3f}", f"{v['map50_mean']:.3f}",
             v["seconds_per_epoch"], _stages_text(v["stages"])) for n, v in summary.items()]  # fmt: skip
    table(f"transfer ({label}): {split} mAP50-95, {seeds} seed(s), {epochs} epochs in total, {imgsz} px",
          ("variant", "mAP50-95 (mean ± std)", "mAP50", "s/epoch", "stages"), rows)  # fmt: skip
    return {
        "runs": runs,
        "summary": summary,
        "seeds": seeds,
        "epochs": epochs,
        "imgsz": imgsz,
        "split": split,
    }


def synthetic_part(
    seeds: int,
    epochs: int,
    explore: bool,
    workers: int,
    skip: set[str] = frozenset(),
    images: int = 160,
    imgsz: int = 160,
) -> dict[str, Any]:
    """Task A checkpoint -> task B: 80 train / 20 val / 60 test images at 160 px (smaller for the smoke run)."""
    name = "transfer-taskB-160" if (images, imgsz) == (160, 160) else f"transfer-taskB-{images}-{imgsz}"
    data = synthetic_dataset(CACHE / name, images=images, val=0.125, test=0.375, imgsz=imgsz)
    return compare(data, str(SAMPLE_WEIGHTS), seeds=seeds, epochs=epochs, imgsz=imgsz, split="test",
                   explore=explore, label="synthetic A -> B", workers=workers, skip=skip)  # fmt: skip


SIZE_CHECK_MODEL = "yolov8s.yaml"  # the real backbone's architecture (11.2M parameters; yolov5n: 2.6M)
SIZE_CHECK_WEIGHTS = CACHE / "pretrained_task_a_yolov8s.pt"  # git-ignored; re-created when absent (~10 min)
SYNTH_TRAIN_IMAGES = 80


def size_check(*, seeds: int = 3, epochs: int = 16, workers: int = 2) -> dict[str, Any]:
    """The synthetic study with a task-A backbone of the real one's size (``--size-check``).

    Same task-A data and recipe as ``pipelines/sample/pretrained_task_a.pt`` but ``yolov8s.yaml``
    instead of ``yolov5n.yaml`` (11.2M parameters, 139k per training image instead of 33k): separates
    "a larger model per training image" from "a real-image backbone" in the real study's result.
    Variants: full, frozen and the recipe (``auto`` is the recipe here). Saved as ``size_check`` in
    ``transfer.json``.
    """
    from pipelines.pretrain_sample import pretrain_sample

    if not SIZE_CHECK_WEIGHTS.is_file():
        log.info("pre-training task A with %s -> %s (once)", SIZE_CHECK_MODEL, SIZE_CHECK_WEIGHTS)
        pretrain_sample(SIZE_CHECK_WEIGHTS, model=SIZE_CHECK_MODEL, device="cpu")
    data = synthetic_dataset(CACHE / "transfer-taskB-160", images=160, val=0.125, test=0.375)
    pre = str(SIZE_CHECK_WEIGHTS)
    base = variants(epochs, pre)
    plan = {n: base[n] for n in ("full", "frozen", RECIPE)}
    part = compare(data, pre, seeds=seeds, epochs=epochs, imgsz=160, split="test", explore=False,
                   label=f"synthetic A -> B, {SIZE_CHECK_MODEL}", workers=workers, given=plan)  # fmt: skip
    part.update(backbone=f"task A, {SIZE_CHECK_MODEL} from scratch (pipelines.pretrain_sample --model)",
                train_images=SYNTH_TRAIN_IMAGES, ranking=_ranked(part["summary"]))  # fmt: skip
    add_to_result("transfer", "size_check", part)
    return part


def pretrain_voc(epochs: int = VOC_PRETRAIN_EPOCHS, imgsz: int = VOC_IMGSZ) -> Path:
    """Pre-train yolov5n from scratch on all of ``voc-helmet`` (helmet, head): ``VOC_CHECKPOINT``.

    The checkpoint is committed (like ``pipelines/sample/pretrained_task_a.pt``) so that ``make bench``
    need not spend its budget here; this re-creates it (``--pretrain-voc``, about 15 min on 2 CPUs).
    """
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
    out = compare(data, str(VOC_CHECKPOINT), seeds=seeds, epochs=epochs, imgsz=imgsz, split="test",
                  explore=False, label="real voc-helmet -> voc-other person", workers=workers)  # fmt: skip
    out["pretrain"] = json.loads(VOC_CHECKPOINT.with_suffix(".json").read_text())
    out["pretrain"]["checkpoint"] = str(VOC_CHECKPOINT.relative_to(REPO))
    out["target"] = {"data": "voc-other, class person only (other objects ignored), 50 train / 20 val / 30 test",
                     "classes": list(VOC_TARGET_CLASSES)}  # fmt: skip
    return out


def _verdict(summary: dict[str, Any]) -> dict[str, Any]:
    others = {n: v for n, v in summary.items() if n in ("scratch", "full", "frozen")}
    best_other = max(others, key=lambda n: others[n]["map50_95_mean"])
    return {
        "best_other": best_other,
        "recipe_wins": summary[RECIPE]["map50_95_mean"] > summary[best_other]["map50_95_mean"],
        "ranking": _ranked(summary),
    }


def seed_repeats(runs: dict[str, list[dict[str, Any]]], ours_name: str, other_name: str) -> Repeats:
    """Two variants' test mAP50-95, seed by seed (their ratios: one per seed)."""
    ours = {r["seed"]: r["map50_95"] for r in runs[ours_name]}
    other = {r["seed"]: r["map50_95"] for r in runs[other_name]}
    seeds = sorted(ours.keys() & other.keys())
    return Repeats([ours[s] for s in seeds], [other[s] for s in seeds], repeats_are="seeds")


def run(*, seeds: int = 3, epochs: int = 16, voc: bool = True, voc_epochs: int = 16, voc_imgsz: int = VOC_IMGSZ,
        workers: int = 2, images: int = 160, imgsz: int = 160) -> dict[str, Any]:  # fmt: skip
    """Both parts; write ``results/transfer.json`` (keeping its ``explore`` section).

    ``ours`` and ``baseline`` stay the means over seeds (the verdict ``recipe_wins`` compares them);
    ``ratio`` is the median of the per-seed ratios, with their min..max.
    """
    synth = synthetic_part(seeds, epochs, explore=False, workers=workers, images=images, imgsz=imgsz)
    synth.update(_verdict(synth["summary"]))
    real = voc_part(seeds, voc_epochs, voc_imgsz, workers) if voc else None
    if real is not None:
        real.update(_verdict(real["summary"]))
    s, best_other = synth["summary"], synth["best_other"]
    path = RESULTS / "transfer.json"
    before = json.loads(path.read_text()) if path.is_file() else {}
    # sections other runs wrote; without --voc, the real part of the last run that had one (with its date)
    kept = {k: before[k] for k in ("explore", "size_check") if before.get(k)}
    if real is None and before.get("voc"):
        real = {**before["voc"], "from_run": before.get("machine", {}).get("date")}
    frozen, lr = recipe_setting(epochs)
    rep = seed_repeats(synth["runs"], RECIPE, best_other)
    return write_result(
        "transfer", repeats=rep, ours=s[RECIPE]["map50_95_mean"], baseline=s[best_other]["map50_95_mean"],
        unit="mAP50-95 on held-out test images (mean over seeds)",
        goal="the recipe's mean above the best other variant's (recipe_wins)", goal_met=synth["recipe_wins"],
        spread_straddles_goal=min(rep.ratios) <= 1 < max(rep.ratios),
        ours_is=f"{RECIPE}: the pipeline's local defaults scaled to {epochs} epochs ({frozen} frozen + "
                f"{epochs - frozen} fine-tune at lr {lr:g})",
        baseline_is=f"best other variant: {best_other}",
        recipe_wins=synth["recipe_wins"], ranking=synth["ranking"], synthetic=synth, voc=real,
        **kept,
    )  # fmt: skip


def explore(*, seeds: int = 3, epochs: int = 16, workers: int = 2) -> dict[str, Any]:
    """Other recipe settings on the synthetic task; added to an existing ``transfer.json`` as ``explore``."""
    path = RESULTS / "transfer.json"
    record = json.loads(path.read_text()) if path.is_file() else {}
    done = record.get("explore", {}) if record.get("explore", {}).get("seeds") == seeds else {}
    found = synthetic_part(seeds, epochs, explore=True, workers=workers, skip=set(done.get("runs", {})))
    found["runs"] = {**done.get("runs", {}), **found["runs"]}
    found["summary"] = {**done.get("summary", {}), **found["summary"]}
    if (
        record.get("synthetic", {}).get("epochs") != epochs
        or record.get("synthetic", {}).get("seeds") != seeds
    ):
        log.warning(
            "%s is missing or from other settings; the explored variants are saved beside it only", path
        )
        record = {}
    base = record.get("synthetic", {}).get("summary", {})
    merged = {**base, **found["summary"]}
    ranked = _ranked(merged)
    if record:
        record["explore"] = {"ranking": ranked, **found}
        path.write_text(json.dumps(record, indent=2) + "\n")
    else:
        (RESULTS / "transfer_explore.json").write_text(
            json.dumps({"ranking": ranked, **found}, indent=2) + "\n"
        )
    table("transfer: every variant ranked (synthetic, mean test mAP50-95)", ("variant", "mAP50-95", "std"),
          [(n, merged[n]["map50_95_mean"], merged[n]["map50_95_std"]) for n in ranked])  # fmt: skip
    return found


def markdown(record: dict[str, Any]) -> str:
    """The tables of ``docs/transfer.md`` from a ``transfer.json`` record."""

    def rows(summary: dict[str, Any], names: list[str]) -> list[str]:
        out = []
        for n in names:
            v = summary[n]
            out.append(f"| {n} | {v['map50_95_mean']:.3f} ± {v['map50_95_std']:.3f} | {v['map50_mean']:.3f} "
                       f"| {v['seconds_per_epoch']:.2f} | {_stages_text(v['stages'])} |")  # fmt: skip
        return out

    head = ["| variant | mAP50-95 (mean ± std) | mAP50 | s/epoch | stages |", "|---|---|---|---|---|"]
    parts = []
    for key, title in (("synthetic", "Synthetic: task A checkpoint -> task B"),
                       ("voc", "Real: voc-helmet checkpoint -> voc-other, class person")):  # fmt: skip
        part = record.get(key)
        if not part:
            continue
        parts += [f"**{title}** ({part['seeds']} seeds, {part['epochs']} epochs in total, {part['imgsz']} px, "
                  f"{part['split']} split)", "", *head, *rows(part["summary"], part.get("ranking", list(part["summary"]))),
                  ""]  # fmt: skip
        if key == "synthetic" and "pairs" in record:  # since issue 27: the per-seed ratios of the claim
            parts += [f"{RECIPE} / {part['best_other']}, seed by seed: median **{record['ratio']:.3f}** "
                      f"({record['ratio_min']:.3f}..{record['ratio_max']:.3f}, {record['pairs']} seeds)", ""]  # fmt: skip
    check = record.get("size_check")
    if check:
        parts += [f"**Synthetic, YOLOv8s task-A backbone** (`--size-check`; the same data, split and budget, "
                  f"{check['seeds']} seeds, {check['epochs']} epochs, {check['imgsz']} px, {check['split']} split)",
                  "", *head, *rows(check["summary"], check["ranking"]), ""]  # fmt: skip
    explore = record.get("explore")
    if explore:
        merged = {**record["synthetic"]["summary"], **explore["summary"]}
        parts += [f"**Recipe settings explored** (synthetic, {explore['seeds']} seeds; `--explore`)", "", *head,
                  *rows(merged, _ranked(merged)), ""]  # fmt: skip
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
    p.add_argument("--jobs", type=int, default=min(2, len(os.sched_getaffinity(0))),
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
        run(
            seeds=seeds,
            epochs=a.epochs,
            voc=not a.no_voc,
            voc_epochs=a.voc_epochs,
            voc_imgsz=a.voc_imgsz,
            workers=a.jobs,
            images=a.images,
            imgsz=a.imgsz,
        )


if __name__ == "__main__":
    main()
