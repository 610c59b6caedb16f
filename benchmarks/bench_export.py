"""Export benchmark: ONNX Runtime versus PyTorch eager (fused, ``inference_mode``) on the CPU, batch 1 and 8.

The committed task-A checkpoint (yolov5n) is exported at 640 px by the export stage's own steps (Ultralytics'
exporter, onnxsim, ``export.graph.decompose_inner_softmax``) and run in the one session every stage uses
(``_shared.onnx_runtime.make_session``); both runtimes get the pod's cores and the same letterboxed images,
and their detections after NMS must match. After a warm-up (``WARM_BLOCKS`` blocks of calls of each
runtime, then one round), each round times a block of ``--block`` calls (its median) of: ONNX Runtime,
PyTorch, ``before`` (the old session on the export before the softmax rewrite), ``softmax_kept`` (today's
session on that export) and PyTorch on one thread. ``ratio`` = the median over rounds of ONNX Runtime /
PyTorch at batch 1 (goal <= 0.7 with matching detections). More in docs/benchmarks.md.

    python -m benchmarks.bench_export [--imgsz 640] [--pairs 5] [--block 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import (
    CACHE,
    MIN_PAIRS,
    SAMPLE_WEIGHTS,
    Goal,
    Repeats,
    interleaved,
    setup,
    table,
    write_result,
)

GOAL = 0.7
WARM_BLOCKS = 3  # calls of each runtime before the rounds, in blocks (a fresh session is not yet steady)
BATCH8_ROUNDS = 3  # batch 8 is a side figure, and one of its rounds costs as much as four at batch 1


def _exported(adapter: Any, weights: Path, work: Path, imgsz: int, dynamic: bool) -> dict[str, Any]:
    """Raw and simplified ONNX files of one export, with node counts and sizes."""
    import onnx

    from components.export.core import _simplify
    from components.export.graph import decompose_inner_softmax

    raw, _ = adapter.export_onnx(weights=weights, work_dir=work, imgsz=imgsz, opset=17, dynamic=dynamic)
    model = onnx.load(str(raw))
    simplified = _simplify(model, raw)
    kept = work / "model.softmax.onnx"  # the export before the softmax rewrite, for comparison
    onnx.save(simplified, str(kept))
    decomposed = decompose_inner_softmax(simplified)
    onnx.checker.check_model(simplified)
    path = work / "model.sim.onnx"
    onnx.save(simplified, str(path))
    return {
        "raw": raw,
        "path": path,
        "kept": kept,
        "nodes_before": len(model.graph.node),
        "nodes_after": len(simplified.graph.node),
        "softmax_decomposed": decomposed,
        "bytes_before": raw.stat().st_size,
        "bytes_after": path.stat().st_size,
    }


def _block_ms(fn: Callable[[], Any], block: int) -> float:
    """Median ms of ``block`` calls: one measurement of a round (a runtime's pool may still be busy
    right after its own call, which a block keeps out of the other runtime's time)."""
    times = []
    for _ in range(block):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _rounds(torch_call: Callable[[], Any], sim: Any, old: Any, kept: Any, x: Any, block: int, pairs: int,
            warmup: bool) -> Repeats:  # fmt: skip
    """Interleaved rounds: ONNX Runtime (ours), PyTorch (baseline), the old session (``before``) and
    PyTorch on one thread (a baseline that other work on the cores cannot stall as much)."""
    import torch

    name = sim.get_inputs()[0].name
    threads = torch.get_num_threads()

    def torch_one_thread() -> float:  # shows whether PyTorch's own thread pool suffers from load elsewhere
        torch.set_num_threads(1)
        try:
            return _block_ms(torch_call, block)
        finally:
            torch.set_num_threads(threads)

    if warmup:  # every runtime to its steady state first: arena, prepacked weights, thread pools, caches
        for call in (lambda: sim.run(None, {name: x}), torch_call, lambda: old.run(None, {name: x}),
                     lambda: kept.run(None, {name: x})):  # fmt: skip
            _block_ms(call, WARM_BLOCKS * block)
    return interleaved(lambda: _block_ms(lambda: sim.run(None, {name: x}), block),
                       lambda: _block_ms(torch_call, block), pairs=pairs, warmup=warmup,
                       others={"before": lambda: _block_ms(lambda: old.run(None, {name: x}), block),
                               "softmax_kept": lambda: _block_ms(lambda: kept.run(None, {name: x}), block),
                               "pytorch_1_thread": torch_one_thread})  # fmt: skip


def _ratios(ratios: list[float], what: str) -> dict[str, Any]:
    """Median, min and max of per-round ratios to PyTorch, and what was measured."""
    return {"ratio": round(statistics.median(ratios), 4), "ratio_min": round(min(ratios), 4),
            "ratio_max": round(max(ratios), 4), "session": what}  # fmt: skip


def _old_session(path: Path, threads: int) -> Any:
    """The session the export stage made before issue 27: only the thread count set."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _parity(adapter: Any, raw_torch: Any, raw_onnx: Any, conf: float) -> dict[str, Any]:
    import numpy as np

    from components.export.core import compare_detections

    d_t = adapter.nms(raw_torch, conf, 0.7)
    d_o = adapter.nms(raw_onnx, conf, 0.7)
    per = [compare_detections(a, b, 0.05, conf) for a, b in zip(d_t, d_o, strict=True)]
    return {
        "max_abs_diff": float(np.abs(raw_torch - raw_onnx).max()),
        "detections_torch": sum(c["torch"] for c in per),
        "detections_onnx": sum(c["onnx"] for c in per),
        "max_box_diff_px": max(c["max_box_diff"] for c in per),
        "equal": all(c["equal"] for c in per),
    }


def run(imgsz: int = 640, pairs: int = MIN_PAIRS, block: int = 5, weights: Path = SAMPLE_WEIGHTS,
        warmup: bool = True) -> dict[str, Any]:  # fmt: skip
    """Export, prove parity, time both runtimes at batch 1 and 8; write ``results/export.json``."""
    import torch

    from components._shared.onnx_runtime import cpu_cores, make_session
    from components._yolo import export as adapter
    from components.make_sample.core import SampleConfig, make_sample

    images_dir = CACHE / f"export-images-{imgsz}"
    if not images_dir.is_dir():
        make_sample(images_dir, SampleConfig(images=8, seed=1, task="A", imgsz=imgsz))
    batch8 = adapter.letterbox_batch(sorted((images_dir / "JPEGImages").iterdir())[:8], imgsz)
    model = adapter.torch_model_for_parity(weights)
    threads = cpu_cores()
    rows, detail, reps = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        for label, batch, dynamic in (("batch1", batch8[:1].contiguous(), False), ("batch8", batch8, True)):
            ex = _exported(adapter, weights, Path(tmp) / label, imgsz, dynamic)
            torch.set_num_threads(threads)  # the exporter may change it; both runtimes get the pod's cores
            x = batch.numpy()
            sim, old = make_session(ex["path"], threads=threads), _old_session(ex["kept"], threads)
            kept = make_session(ex["kept"], threads=threads)
            name = sim.get_inputs()[0].name
            parity = _parity(adapter, adapter.predict_raw(model, batch), sim.run(None, {name: x})[0], 0.25)
            n, rounds = (block, pairs) if not dynamic else (max(1, block // 2), min(pairs, BATCH8_ROUNDS))
            rep = _rounds(lambda b=batch: adapter.predict_raw(model, b), sim, old, kept, x, n, rounds, warmup)
            reps[label] = rep
            before = rep.ratio_of("before")
            ms = {"pytorch": statistics.median(rep.baseline), "onnxruntime": statistics.median(rep.ours),
                  "onnxruntime_before": statistics.median(rep.others["before"]),
                  "pytorch_1_thread": statistics.median(rep.others["pytorch_1_thread"])}  # fmt: skip
            one = [o / t for o, t in zip(rep.ours, rep.others["pytorch_1_thread"], strict=True)]
            detail[label] = {"dynamic_batch": dynamic, "parity": parity, "latency_ms": ms, **rep.fields(),
                             "before": _ratios(before, "SessionOptions with intra_op_num_threads only, the export "
                                                       "before the softmax rewrite"),
                             "softmax_kept": _ratios(rep.ratio_of("softmax_kept"),
                                                     "the same session on the export before the softmax rewrite"),
                             "ratio_vs_pytorch_1_thread": round(statistics.median(one), 4),
                             **{k: v for k, v in ex.items() if k not in ("raw", "path", "kept")}}  # fmt: skip
            f = detail[label]
            rows.append((label, threads, ms["pytorch"], ms["onnxruntime"], ms["onnxruntime_before"],
                         f"{f['ratio']:.2f} ({f['ratio_min']:.2f}..{f['ratio_max']:.2f})",
                         f"{f['before']['ratio']:.2f}", ms["pytorch_1_thread"],
                         f"{ex['nodes_before']} -> {ex['nodes_after']}",
                         f"{parity['detections_torch']}/{parity['detections_onnx']}",
                         "yes" if parity["equal"] else "NO"))  # fmt: skip
    table(
        f"export: yolov5n at {imgsz} px on the CPU, medians over interleaved rounds",
        ("input", "threads", "PyTorch ms", "ORT ms", "ORT before ms", "ORT/PyTorch (min..max)", "before",
         "PyTorch 1 thread ms",
         "nodes", "detections (pt/ort)", "match"),
        rows,
    )  # fmt: skip
    b1, b8 = detail["batch1"], detail["batch8"]
    matched = b1["parity"]["equal"] and b8["parity"]["equal"]
    goal = Goal("<=", GOAL)
    return write_result(
        "export", repeats=reps["batch1"], unit=f"ms (batch 1, {threads} threads)", goal=goal,
        ours_is="ONNX Runtime, onnxsim-simplified static model, components._shared.onnx_runtime session",
        baseline_is="PyTorch eager (fused, inference_mode), same threads", ratio_batch8=b8["ratio"],
        ratio_before=b1["before"]["ratio"], threads=threads, block=block,
        detections_match=matched, imgsz=imgsz, weights=str(weights.relative_to(weights.parents[2])), **detail,
        goal_met=goal.met(statistics.median(reps["batch1"].ratios)) and matched,  # detections must match too
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.bench_export``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument(
        "--pairs", type=int, default=MIN_PAIRS, help=f"timed rounds after the warm-up ({MIN_PAIRS})"
    )
    p.add_argument("--block", type=int, default=5, help="calls per runtime per round (half at batch 8)")
    p.add_argument("--no-warmup", action="store_true", help="no warm-up round (the smoke run)")
    a = p.parse_args(argv)
    setup()
    run(a.imgsz, a.pairs, a.block, warmup=not a.no_warmup)


if __name__ == "__main__":
    main()
