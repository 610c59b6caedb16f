"""Freeze benchmark: seconds per epoch and peak memory with ``freeze`` 0, 10 and 24 (same data, same model).

``ratio`` = s/epoch freeze 10 / freeze 0 (docs/benchmarks.md); no kfp or minio, so on the GPU machine:

    python -m benchmarks.bench_freeze                       # CPU: writes results/freeze.json
    python -m benchmarks.bench_freeze --device 0 --imgsz 640 --batch 32 --images 320   # freeze_gpu.json
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    CACHE,
    MIN_PAIRS,
    SAMPLE_WEIGHTS,
    import_warmup,
    in_forked_process,
    in_fresh_process,
    interleaved,
    log,
    peak_rss_mib,
    setup,
    synthetic_dataset,
    table,
    write_result,
)

SETTINGS = (0, 10, 24)  # nothing frozen; the backbone (model.0-9); everything but the Detect head
GOAL = 0.6  # GPU: frozen stage <= 0.6x the epoch time and memory of full training (issue 6)


def measure(data_yaml: Path, out_dir: Path, *, freeze: int, epochs: int, imgsz: int, batch: int,
            device: str, workers: int = 2, cache: bool = False) -> dict[str, Any]:  # fmt: skip
    """Train one setting in this process: its epoch times and peak memory."""
    import torch

    from components._yolo.freeze import TrainRecorder
    from components.train.core import TrainConfig, train_model

    cuda = device not in ("cpu", "auto") or (device == "auto" and torch.cuda.is_available())
    marks: list[tuple[str, float]] = []

    def mark(event: str):
        def callback(trainer: Any) -> None:
            if cuda:
                torch.cuda.synchronize()
            marks.append((event, time.perf_counter()))
            if event == "pretrain_end" and cuda:
                torch.cuda.reset_peak_memory_stats()

        return callback

    attach = TrainRecorder.attach

    def attach_with_timers(self: Any, trainer: Any) -> None:
        attach(self, trainer)
        for event in ("pretrain_routine_end", "train_epoch_start", "train_epoch_end", "fit_epoch_end"):
            trainer.add_callback(f"on_{event}", mark(event.replace("_routine", "")))

    TrainRecorder.attach = attach_with_timers  # type: ignore[method-assign]
    cfg = TrainConfig(freeze=freeze, epochs=epochs, imgsz=imgsz, batch=batch, lr0=0.01, warmup_epochs=1.0,
                      device=device, seed=0, patience=epochs, stage_name=f"freeze{freeze}", workers=workers,
                      cache=cache)  # fmt: skip
    result = train_model(data_yaml, str(SAMPLE_WEIGHTS), out_dir, cfg)
    train_s, epoch_s = _epoch_times(marks)
    return {
        "freeze": freeze,
        "device": result.device,
        "epochs": epochs,
        "train_s_per_epoch": train_s,  # batch loop only, first epoch excluded
        "epoch_s": epoch_s,  # batch loop + validation, first epoch excluded
        "train_s_all_epochs": _durations(marks, "train_epoch_start", "train_epoch_end"),
        "peak_rss_mib": peak_rss_mib(),
        "peak_cuda_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1) if cuda else None,
        "trainable_params": result.trainable_params,
        "frozen_params": result.frozen_params,
        "frozen_verified": result.frozen_verified,
        "map50_95": result.map50_95,
    }


def _durations(marks: list[tuple[str, float]], start: str, end: str) -> list[float]:
    starts = [t for e, t in marks if e == start]
    ends = [t for e, t in marks if e == end]
    return [round(b - a, 4) for a, b in zip(starts, ends, strict=False)]


def _epoch_times(marks: list[tuple[str, float]]) -> tuple[float, float]:
    """Median batch-loop and whole-epoch seconds, first epoch excluded when there are more."""
    train = _durations(marks, "train_epoch_start", "train_epoch_end")
    epoch = _durations(marks, "train_epoch_start", "fit_epoch_end")
    skip = 1 if len(train) > 1 else 0
    return statistics.median(train[skip:]), statistics.median(epoch[skip:])


# What the CPU run imports once before forking its runs (torch._inductor: Ultralytics' init_seeds imports it,
# ~2 s per process); each run is then a fork of the same state. On a GPU every run is a fresh interpreter.
FORK_PRELOAD = ("torch", "torch._inductor", "ultralytics", "components.train.core", "components._yolo.freeze")


def _process(
    freeze: int, data_yaml: Path, tmp: Path, args: list[str], rows: list[dict[str, Any]], fork: bool
) -> dict[str, Any]:
    out, argv = tmp / f"freeze{freeze}-{len(rows)}", ["--one", str(freeze), "--data", str(data_yaml), *args]
    _, record = (
        in_forked_process(main, out, argv) if fork else in_fresh_process("benchmarks.bench_freeze", out, argv)
    )
    rows.append(record)
    return record


def run(*, device: str = "cpu", images: int = 120, epochs: int = 2, imgsz: int = 160, batch: int = 16,
        workers: int = 2, cache: bool = False, name: str | None = None, pairs: int = MIN_PAIRS,
        warmup: bool = True, with_24: bool = True) -> dict[str, Any]:  # fmt: skip
    """Freeze 10 and freeze 0 interleaved, each in a process of its own (a fork on the CPU), then freeze 24 once."""
    data_yaml = synthetic_dataset(CACHE / f"freeze-data-{images}-{imgsz}", images=images, imgsz=imgsz)
    args = ["--device", device, "--epochs", str(epochs), "--imgsz", str(imgsz), "--batch", str(batch),
            "--workers", str(workers), *(["--cache"] if cache else [])]  # fmt: skip
    rows: list[dict[str, Any]] = []
    fork = device == "cpu"
    for module in FORK_PRELOAD if fork else ():  # the warm-up: each fork then starts from these imports
        importlib.import_module(module)
    warm = (lambda: None) if fork else import_warmup(*FORK_PRELOAD)
    with tempfile.TemporaryDirectory(prefix="bench-freeze-") as tmp_name:
        tmp = Path(tmp_name)
        rep = interleaved(lambda: _process(10, data_yaml, tmp, args, rows, fork)["train_s_per_epoch"],
                          lambda: _process(0, data_yaml, tmp, args, rows, fork)["train_s_per_epoch"],
                          pairs=pairs, warmup=warmup and warm)  # fmt: skip
        if with_24:
            _process(24, data_yaml, tmp, args, rows, fork)
    counted = rows[len(rep.warmup) :]  # a warm-up pair is left out of every median
    gpu = rows[0]["peak_cuda_mib"] is not None
    mem_key = "peak_cuda_mib" if gpu else "peak_rss_mib"
    by = {
        f: _medians([r for r in counted if r["freeze"] == f], mem_key) for f in SETTINGS if f != 24 or with_24
    }
    base = by[0]
    table(
        f"freeze: yolov5n, {images} synthetic images at {imgsz} px, batch {batch}, {epochs} epochs ({device}), "
        f"medians of {len(rep.ours)} interleaved pairs (freeze 24: one run)",
        ("freeze", "trainable params", "s/epoch (train)", "s/epoch (+val)", "peak MiB", "vs freeze 0 (time)",
         "vs freeze 0 (memory)"),
        [(f, r["trainable_params"], r["train_s_per_epoch"], r["epoch_s"], r[mem_key],
          f"{r['train_s_per_epoch'] / base['train_s_per_epoch']:.2f}x", f"{r[mem_key] / base[mem_key]:.2f}x")
         for f, r in by.items()],
    )  # fmt: skip
    mem_ratio = by[10][mem_key] / base[mem_key]
    time_ratio = statistics.median(rep.ratios)
    return write_result(
        name or ("freeze_gpu" if gpu else "freeze"), repeats=rep, unit="s/epoch (batch loop)",
        ours_is="freeze 10 (the frozen stage)", baseline_is="freeze 0 (full training)",
        memory_ratio=round(mem_ratio, 4), memory_unit=mem_key,
        epoch_with_val_ratio=round(by[10]["epoch_s"] / base["epoch_s"], 4),
        goal=f"on a GPU: time and memory ratio <= {GOAL}",
        goal_met=(time_ratio <= GOAL and mem_ratio <= GOAL) if gpu else None,
        spread_straddles_goal=(min(rep.ratios) <= GOAL < max(rep.ratios)) if gpu else None, settings=rows,
        config={"images": images, "epochs": epochs, "imgsz": imgsz, "batch": batch, "device": device,
                "workers": workers, "cache": cache, "model": "yolov5n (task-A checkpoint)"},
    )  # fmt: skip


def _medians(rows: list[dict[str, Any]], mem_key: str) -> dict[str, Any]:
    return {"trainable_params": rows[0]["trainable_params"], **{k: statistics.median(r[k] for r in rows)
            for k in ("train_s_per_epoch", "epoch_s", mem_key)}}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.bench_freeze``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cpu", help="cpu (default), 0 (first GPU), or auto")
    p.add_argument("--images", type=int, default=120, help="synthetic task-B images (80%% train)")
    p.add_argument("--epochs", type=int, default=2, help="epochs per run; the first is not counted")
    p.add_argument("--pairs", type=int, default=MIN_PAIRS, help=f"pairs after the warm-up ({MIN_PAIRS})")
    p.add_argument("--no-warmup", action="store_true", help="no warm-up (the smoke run)")
    p.add_argument("--only-pair", action="store_true", help="leave out the freeze 24 run (the smoke run)")
    p.add_argument("--imgsz", type=int, default=160)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument(
        "--workers", type=int, default=2, help="data-loader workers (GPU only; pipeline default 2)"
    )
    p.add_argument(
        "--cache", action="store_true", help="decode the images once into RAM (no JPEG decoding per epoch)"
    )
    p.add_argument("--name", help="result name (default: freeze, or freeze_gpu on a GPU)")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: one setting in this process
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    setup()
    training = {"epochs": a.epochs, "imgsz": a.imgsz, "batch": a.batch, "device": a.device, "workers": a.workers,
              "cache": a.cache}  # fmt: skip
    if a.one is None:
        run(images=a.images, name=a.name, pairs=a.pairs, warmup=not a.no_warmup, with_24=not a.only_pair,
            **training)  # fmt: skip
        return
    rec = measure(a.data, a.out, freeze=a.one, **training)
    (a.out / "bench.json").write_text(json.dumps(rec, indent=2))
    log.info("freeze %d: %.3f s/epoch (train), peak %s", a.one, rec["train_s_per_epoch"],
             rec["peak_cuda_mib"] or rec["peak_rss_mib"])  # fmt: skip


if __name__ == "__main__":
    main()
