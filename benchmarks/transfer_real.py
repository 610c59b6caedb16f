"""Real-data transfer study: a real-image YOLOv8s to ``voc-helmet`` (or ``--target voc-other``).

Transfer's four variants and ``auto`` (the plan's choice); set-up, record keys and results: docs/transfer.md.

    python -m benchmarks.transfer_real [--seeds 3] [--epochs 12] [--imgsz 224] [--jobs 2] [--explore]
    python -m benchmarks.transfer_real --length-check | --markdown
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from benchmarks import transfer
from benchmarks.common import CACHE, RESULTS, SHARED_DATA, add_to_result, log, setup, shared_voc, voc_dataset
from benchmarks.transfer import (
    JOBS,
    LR,
    LR_FINETUNE,
    SPLIT,
    Stage,
    _local_params,
    best_other,
    ranked,
    recipe_setting,
    scaled_frozen,
    stages_text,
    summarize,
    summary_table,
    train_all,
    two_stage,
    write_seed_result,
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
KEPT = ", keep the better stage"  # suffix of the settings read from per-stage scores (kept_better_stage)


def available(target: str = TARGET) -> bool:
    """Whether the checkpoint and the target sample are both under ``../shared``."""
    return CHECKPOINT.is_file() and shared_voc(target) is not None


def result_name(target: str = TARGET) -> str:
    """``transfer_real`` for voc-helmet, ``transfer_real_<target>`` for another target."""
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
    """The plan stage's ``auto`` choice for ``n_train`` images scaled to ``total`` epochs, and that plan."""
    from components.plan.core import PlanRequest, resolve_plan

    plan = resolve_plan(PlanRequest(weights=pretrained, lr0=LR), n_train)
    if plan.strategy == "full" or plan.epochs_frozen == 0:
        stages = [Stage(pretrained, 0, total, LR, 1.0)]
    elif plan.strategy == "frozen" or plan.epochs_finetune == 0:
        stages = [Stage(pretrained, plan.freeze, total, LR, 1.0)]
    else:
        frozen = scaled_frozen(total, plan.epochs_frozen, plan.epochs_finetune)
        stages = two_stage(pretrained, frozen, total, plan.lr_finetune, _local_params().warmup_finetune,
                           freeze=plan.freeze)  # fmt: skip
    info = {"strategy": plan.strategy, "freeze": plan.freeze, "epochs_frozen": plan.epochs_frozen,
            "epochs_finetune": plan.epochs_finetune, "lr_finetune": plan.lr_finetune,
            "train_images": n_train, "reason": plan.reason}  # fmt: skip
    return stages, info


def variants(total: int, n_train: int, pretrained: str) -> tuple[dict[str, list[Stage]], dict[str, Any]]:
    """The five compared variants for ``total`` epochs, and the resolved auto plan."""
    auto, info = auto_stages(total, n_train, pretrained)
    return {**transfer.variants(total, pretrained, scratch=SCRATCH_YAML), AUTO: auto}, info


def explore_variants(total: int, pretrained: str) -> dict[str, list[Stage]]:
    """``--explore``: a fine-tune warm-up, a half split, a 10x lower fine-tune rate after 1/4 or 3/4 frozen."""
    frozen, lr = recipe_setting(total)
    half, most = total // 2, total - total // 4
    warm = _local_params().warmup_finetune
    return {
        f"two-stage {frozen}+{total - frozen}, fine-tune warm-up 1": two_stage(pretrained, frozen, total, lr, 1.0),
        f"two-stage {half}+{total - half}, fine-tune lr {lr:g}": two_stage(pretrained, half, total, lr, warm),
        f"two-stage {frozen}+{total - frozen}, fine-tune lr {LR_FINETUNE:g}":
            two_stage(pretrained, frozen, total, LR_FINETUNE, warm),
        f"two-stage {most}+{total - most}, fine-tune lr {LR_FINETUNE:g}":
            two_stage(pretrained, most, total, LR_FINETUNE, warm),
    }  # fmt: skip


def kept_better_stage(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each run as if it kept the stage best on val (from ``per_stage``; single-stage runs unchanged)."""
    out = []
    for r in runs:
        stages = r.get("per_stage")
        if not stages:
            out.append(r)
            continue
        pick = max(range(len(stages)), key=lambda i: (stages[i]["val_map50_95"], i))
        out.append({**r, **stages[pick], "kept_stage": pick})
    return out


def _unique(plan: dict[str, list[Stage]]) -> dict[str, str]:
    """For each variant, the first one with the same stages (itself when none came before)."""
    first: dict[tuple[Stage, ...], str] = {}
    return {name: first.setdefault(tuple(stages), name) for name, stages in plan.items()}


def run(*, seeds: int = 3, epochs: int = EPOCHS, imgsz: int = IMGSZ, workers: int = 2,
        only: list[str] | None = None, explore: bool = False, resume: bool = False, target: str = TARGET,
        results_dir: Path = RESULTS) -> dict[str, Any] | None:  # fmt: skip
    """Every variant (and ``explore_variants``: never the baseline) for every seed; writes it unless ``only``."""
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
    runs, timing = train_all({n: plan[n] for n in todo}, data, seeds=seeds, imgsz=imgsz, workers=workers,
                             label=out_name, alone=True, progress=PROGRESS, resume=resume)  # fmt: skip
    wall = timing["seconds"] + timing["reused_seconds"] / max(workers, 1)
    for name, first in same_as.items():
        if first != name and first in runs:
            runs[name] = runs[first]
    explored = {n: runs.pop(n) for n in extra if n in runs}
    explored.update({f"{n}{KEPT}": kept_better_stage(rs) for n, rs in {**runs, **explored}.items()
                     if same_as[n] == n and any("per_stage" in r for r in rs)})  # fmt: skip
    summary = summarize(runs, plan)
    summary_table(f"{out_name}: test mAP50-95, {seeds} seed(s), {epochs} epochs, {imgsz} px, {wall / 60:.1f} min",
                  summary)  # fmt: skip
    if only or AUTO not in summary:
        return None
    best = best_other(summary, AUTO, same_as)
    before = results_dir / f"{out_name}.json"
    old = json.loads(before.read_text()) if before.is_file() else {}
    return write_seed_result(
        out_name, runs, summary, AUTO, best, results_dir=results_dir,
        goal="auto's mean above the best variant unlike it (auto_wins)",
        ours_is=f"auto: the plan stage's choice for {n_train} train images, scaled to {epochs} epochs",
        baseline_is=f"best variant whose stages differ from auto's: {best}",
        auto_wins=summary[AUTO]["map50_95_mean"] > summary[best]["map50_95_mean"], best_other=best,
        ranking=ranked(summary), seeds=list(range(seeds)), epochs=epochs, imgsz=imgsz, split=SPLIT, jobs=workers,
        wall_seconds=round(wall, 1), reused_runs=timing["reused"],
        same_as={n: f for n, f in same_as.items() if f != n}, auto_plan=auto_plan,
        pretrained={"checkpoint": "../shared/models/fall-yolov8s/fall_yolov8s.pt", "is": FROM_IS},
        target=_target(target, data), summary=summary, runs=runs, **_explore_record(explored, plan),
        **{k: v for k, v in old.items() if k == "length_check"},
    )  # fmt: skip


def length_check(*, seeds: int = 3, imgsz: int = IMGSZ, workers: int = 2) -> dict[str, Any] | None:
    """``--length-check``: ``frozen`` against ``auto`` at the epochs ``resolve_plan`` picks (``length_check``)."""
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
    runs, timing = train_all(picked, data, seeds=seeds, imgsz=imgsz, workers=workers,
                             label=f"{NAME} length check", alone=True, progress=PROGRESS)  # fmt: skip
    summary = summarize(runs, picked)
    part = {"epochs": total, "imgsz": imgsz, "seeds": list(range(seeds)), "wall_seconds": timing["seconds"],
            "auto_plan": auto_plan, "ranking": ranked(summary), "summary": summary, "runs": runs}  # fmt: skip
    add_to_result(NAME, "length_check", part)
    return part


def _explore_record(
    explored: dict[str, list[dict[str, Any]]], plan: dict[str, list[Stage]]
) -> dict[str, Any]:
    if not explored:
        return {}
    summary = summarize(explored, {n: plan[n.removesuffix(KEPT)] for n in explored})
    return {"explore": {"ranking": ranked(summary), "summary": summary, "runs": explored}}


def _target(target: str, data_yaml: Path) -> dict[str, Any]:
    from components._shared.dataset import load_dataset, read_list

    spec = load_dataset(data_yaml)
    return {"data": f"../shared/data/{target}", "classes": list(spec.names),
            "split": f"convert + split (val {VAL}, test {TEST}, seed {SPLIT_SEED})",
            "images": {k: len(set(read_list(v))) for k, v in spec.splits.items()}}  # fmt: skip


def markdown(record: dict[str, Any]) -> str:
    """The real-study tables of ``docs/transfer.md`` from a ``transfer_real.json`` record."""

    def row(name: str, v: dict[str, Any], rss: bool = True) -> str:
        cells = [name, f"{v['map50_mean']:.3f} ± {v['map50_std']:.3f}", f"{v['map50_95_mean']:.3f} ± "
                 f"{v['map50_95_std']:.3f}", f"{v['seconds_per_epoch']:.2f}",
                 *([f"{v['peak_rss_mib']:.0f}"] if rss else []), stages_text(v["stages"])]  # fmt: skip
        return f"| {' | '.join(cells)} |"

    head = ["", "| variant | mAP50 (mean ± std) | mAP50-95 (mean ± std) | s/epoch | peak RSS (MiB) | stages |",
            "|---|---|---|---|---|---|"]  # fmt: skip
    same, imgs, reused = record.get("same_as", {}), record["target"]["images"], record.get("reused_runs")
    lines = [
        f"**Real: YOLOv8s fall detector -> {Path(record['target']['data']).name} "
        f"({', '.join(record['target']['classes'])})** ({len(record['seeds'])} seeds, "
        f"{record['epochs']} epochs in total, {record['imgsz']} px, {imgs.get('train')} train / "
        f"{imgs.get('val')} val / {imgs.get('test')} test images, {record['split']} split; "
        f"{'about ' if reused else ''}{record['wall_seconds'] / 60:.0f} min wall on "
        f"{record['machine']['cores']} CPUs, {record['jobs']} trainings at once"
        + ("; wall summed from the trainings' own times, taken with `--resume` from the runs that produced "
           "them" if reused else "") + ")",
        *head,
        *(row(n + (f" (= {same[n]}: same stages, same runs)" if n in same else ""), record["summary"][n])
          for n in record["ranking"]),
    ]  # fmt: skip
    if "length_check" in record:
        lc = record["length_check"]
        lines += ["", f"**At the plan's own length** (`--length-check`: {lc['epochs']} epochs, what `resolve_plan` "
                      f"picks for {lc['auto_plan']['train_images']} train images; {len(lc['seeds'])} seeds, "
                      f"{lc['imgsz']} px; {lc['wall_seconds'] / 60:.0f} min wall)", *head,
                  *(row(n, lc["summary"][n]) for n in lc["ranking"])]  # fmt: skip
    if "explore" in record:
        ex = record["explore"]
        kept = {n: [r.get("kept_stage") for r in ex["runs"][n]] for n in ex["ranking"] if n.endswith(KEPT)}
        changed = [n for n, k in kept.items() if 0 in k]
        shown = [n for n in ex["ranking"] if n not in kept or n in changed]
        if shown:
            lines += ["", "**Other settings on the real data** (same split, seeds and budget; `--explore`)", "",
                      "| setting | mAP50 (mean ± std) | mAP50-95 (mean ± std) | s/epoch | stages |",
                      "|---|---|---|---|---|", *(row(n, ex["summary"][n], rss=False) for n in shown)]  # fmt: skip
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
    p.add_argument(
        "--jobs", type=int, default=JOBS, help="trainings at once, each in its own process (default 2)"
    )
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
        run(seeds=a.seeds, epochs=a.epochs, imgsz=a.imgsz, workers=a.jobs, only=a.only, explore=a.explore,
            resume=a.resume, target=a.target)  # fmt: skip


if __name__ == "__main__":
    main()
