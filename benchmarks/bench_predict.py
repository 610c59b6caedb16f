"""Claim (issue 28): ``yolo-kfp predict`` runs at least as many images/s as Ultralytics' ``YOLO("model.onnx").predict``.

``ratio`` = ours / baseline images/s on the same model and images (goal >= 1.0); method: docs/benchmarks.md.

    python -m benchmarks.bench_predict --images 40 --imgsz 320 --pairs 5
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import SAMPLE_WEIGHTS, Goal, interleaved, setup, table, write_result


def _images(out: Path, count: int, size: int) -> list[Path]:
    from components.make_sample.core import SampleConfig, make_sample

    make_sample(out / "voc", SampleConfig(images=count, seed=0, task="A", imgsz=size))
    return sorted((out / "voc" / "JPEGImages").iterdir())


def _export(out: Path, imgsz: int) -> Path:
    from components._yolo.export import export_onnx

    path, _ = export_onnx(weights=SAMPLE_WEIGHTS, work_dir=out / "onnx", imgsz=imgsz, opset=17, dynamic=False)
    return path


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Measure and write ``predict.json``; returns the record."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=40)
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--pairs", type=int, default=5)
    p.add_argument("--no-warmup", action="store_true")
    args = p.parse_args(argv)
    setup()

    from ultralytics import YOLO

    from components.predict.core import PredictConfig, detect, predict
    from components.predict.model import ModelFile, load_detector
    from components.predict.sources import read_image

    cfg = PredictConfig()
    with tempfile.TemporaryDirectory(prefix="bench-predict-") as tmp:
        work = Path(tmp)
        images = _images(work, args.images, args.imgsz)
        model = _export(work, args.imgsz)
        detector = load_detector(ModelFile(path=model, origin=str(model), verified=False))
        theirs = YOLO(str(model), task="detect")

        def ours() -> float:
            t = time.perf_counter()
            for path in images:
                detect(detector, read_image(path), cfg)
            return len(images) / (time.perf_counter() - t)

        def baseline() -> float:
            t = time.perf_counter()
            stream = theirs.predict([str(p) for p in images], imgsz=args.imgsz, conf=cfg.conf, iou=cfg.iou,
                                    max_det=cfg.max_det, device="cpu", stream=True, verbose=False)  # fmt: skip
            for _ in stream:
                pass
            return len(images) / (time.perf_counter() - t)

        def stage() -> float:
            out = work / "out"
            shutil.rmtree(out, ignore_errors=True)
            return predict(str(model), str(images[0].parent), out, cfg).images_per_s

        repeats = interleaved(
            ours, baseline, pairs=args.pairs, warmup=not args.no_warmup, others={"stage": stage}
        )
    record = write_result(
        "predict", repeats=repeats, unit="images/s", goal=Goal(">=", 1.0), images=len(images), imgsz=args.imgsz,
        stage_images_per_s=repeats.others["stage"],
        what="ours: components.predict (Pillow, numpy letterbox/NMS, ONNX Runtime); baseline: "
             "YOLO('model.onnx').predict(stream=True); same model, images and thresholds",
    )  # fmt: skip
    rows = [(f"pair {i + 1}", f"{a:.1f}", f"{b:.1f}", f"{a / b:.2f}") for i, (a, b) in
            enumerate(zip(repeats.ours, repeats.baseline, strict=True))]  # fmt: skip
    table("predict images/s", ["", "ours", "Ultralytics", "ratio"], rows)
    return record


if __name__ == "__main__":
    main()
