"""Export benchmark: ONNX Runtime (onnxsim-simplified) versus PyTorch eager on the CPU, batch 1 and 8.

The model is the committed task-A checkpoint (yolov5n) exported at 640 px with the export stage's own
functions (``components._yolo.export.export_onnx``, then ``export.core``'s onnxsim step and ONNX Runtime session, same
thread count as PyTorch). Batch 1 uses the static export the pipeline publishes; batch 8 a
dynamic-batch export (the pipeline's ``--dynamic``), both simplified. Both runtimes get the same
letterboxed task-A images; their detections after NMS are matched one to one with
``export.core.compare_detections``. Latency is the median of alternating timed runs.

``ratio`` = ONNX Runtime / PyTorch median latency at batch 1 (goal <= 0.7 with matching detections).

    python -m benchmarks.bench_export [--imgsz 640] [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import CACHE, SAMPLE_WEIGHTS, setup, table, write_result

GOAL = 0.7


def _exported(adapter: Any, weights: Path, work: Path, imgsz: int, dynamic: bool) -> dict[str, Any]:
    """Raw and simplified ONNX files of one export, with node counts and sizes."""
    import onnx

    from components.export.core import _simplify

    raw, _ = adapter.export_onnx(weights=weights, work_dir=work, imgsz=imgsz, opset=17, dynamic=dynamic)
    model = onnx.load(str(raw))
    simplified = _simplify(model, raw)
    onnx.checker.check_model(simplified)
    path = work / "model.sim.onnx"
    onnx.save(simplified, str(path))
    return {
        "raw": raw,
        "path": path,
        "nodes_before": len(model.graph.node),
        "nodes_after": len(simplified.graph.node),
        "bytes_before": raw.stat().st_size,
        "bytes_after": path.stat().st_size,
    }


def _alternating_ms(fns: dict[str, Callable[[], Any]], runs: int, block: int = 5) -> dict[str, float]:
    """Median ms of each function, timed in alternating blocks of ``block`` runs after a warm-up.

    Blocks rather than single calls: a runtime's thread pool may still spin right after its own call,
    which would be billed to the other runtime; alternation spreads load from elsewhere over all.
    """
    for fn in fns.values():
        for _ in range(3):
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    while len(next(iter(times.values()))) < runs:
        for k, fn in fns.items():
            for _ in range(block):
                t0 = time.perf_counter()
                fn()
                times[k].append((time.perf_counter() - t0) * 1000)
    return {k: round(statistics.median(v), 3) for k, v in times.items()}


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


def run(imgsz: int = 640, runs: int = 20, weights: Path = SAMPLE_WEIGHTS) -> dict[str, Any]:
    """Export, prove parity, time both runtimes at batch 1 and 8; write ``results/export.json``.

    Timed with every core (what the export stage does: ONNX Runtime gets PyTorch's thread count) and
    with one thread (steadier when other jobs share the cores).
    """
    import torch

    from components._yolo import export as adapter
    from components.export.core import _session
    from components.make_sample.core import SampleConfig, make_sample

    images_dir = CACHE / f"export-images-{imgsz}"
    if not images_dir.is_dir():
        make_sample(images_dir, SampleConfig(images=8, seed=1, task="A", imgsz=imgsz))
    batch8 = adapter.letterbox_batch(sorted((images_dir / "JPEGImages").iterdir())[:8], imgsz)
    model = adapter.torch_model_for_parity(weights)
    all_threads = torch.get_num_threads()
    rows, detail = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        for label, batch, dynamic in (("batch1", batch8[:1].contiguous(), False), ("batch8", batch8, True)):
            ex = _exported(adapter, weights, Path(tmp) / label, imgsz, dynamic)
            x = batch.numpy()
            torch.set_num_threads(all_threads)
            sim = _session(ex["path"], all_threads)
            name = sim.get_inputs()[0].name
            parity = _parity(adapter, adapter.predict_raw(model, batch), sim.run(None, {name: x})[0], 0.25)
            detail[label] = {"dynamic_batch": dynamic, "parity": parity,
                             **{k: v for k, v in ex.items() if k not in ("raw", "path")}}  # fmt: skip
            for threads in dict.fromkeys((all_threads, 1)):
                torch.set_num_threads(threads)
                sim, raw = _session(ex["path"], threads), _session(ex["raw"], threads)
                ms = _alternating_ms(
                    {
                        "pytorch": lambda b=batch: adapter.predict_raw(model, b),
                        "onnxruntime": lambda s=sim, x=x, n=name: s.run(None, {n: x}),
                        "onnxruntime_unsimplified": lambda s=raw, x=x, n=name: s.run(None, {n: x}),
                    },
                    runs if not dynamic else max(4, runs // 5),
                    block=5 if not dynamic else 2,
                )
                ratio = ms["onnxruntime"] / ms["pytorch"]
                detail[label][f"threads{threads}"] = {"latency_ms": ms, "ratio": round(ratio, 4)}
                rows.append((label, threads, ms["pytorch"], ms["onnxruntime"], ms["onnxruntime_unsimplified"],
                             f"{ratio:.2f}x", f"{ex['nodes_before']} -> {ex['nodes_after']}",
                             f"{ex['bytes_before'] / 1e6:.2f} -> {ex['bytes_after'] / 1e6:.2f}",
                             f"{parity['detections_torch']}/{parity['detections_onnx']}",
                             "yes" if parity["equal"] else "NO"))  # fmt: skip
    torch.set_num_threads(all_threads)
    table(
        f"export: yolov5n at {imgsz} px on the CPU, median of alternating runs",
        ("input", "threads", "PyTorch ms", "ORT ms", "ORT unsimplified ms", "ORT/PyTorch", "nodes", "MB",
         "detections (pt/ort)", "match"),
        rows,
    )  # fmt: skip
    b1, b8 = detail["batch1"], detail["batch8"]
    head1, head8 = b1[f"threads{all_threads}"], b8[f"threads{all_threads}"]
    matched = b1["parity"]["equal"] and b8["parity"]["equal"]
    return write_result(
        "export", ours=head1["latency_ms"]["onnxruntime"], baseline=head1["latency_ms"]["pytorch"],
        unit=f"ms (batch 1, {all_threads} threads)", ours_is="ONNX Runtime, onnxsim-simplified static model",
        baseline_is="PyTorch eager (fused, inference_mode)", ratio_batch8=head8["ratio"],
        ratio_one_thread={"batch1": b1["threads1"]["ratio"], "batch8": b8["threads1"]["ratio"]},
        goal=f"ratio <= {GOAL} at batch 1 and 8 with matching detections",
        goal_met=head1["ratio"] <= GOAL and head8["ratio"] <= GOAL and matched,
        imgsz=imgsz, runs=runs, weights=str(weights.relative_to(weights.parents[2])), **detail,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    """``python -m benchmarks.bench_export``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument(
        "--runs", type=int, default=20, help="timed runs per runtime at batch 1 (a fifth at batch 8)"
    )
    a = p.parse_args(argv)
    setup()
    run(a.imgsz, a.runs)


if __name__ == "__main__":
    main()
