"""Recreate ``pipelines/sample/pretrained_task_a.pt``: yolov5n pre-trained on synthetic task A.

The demo transfers from this checkpoint (task A: circle, square, triangle) to the built-in sample
(task B: star, cross, ring), because no COCO weights can be downloaded here. Run it with
``make pretrained-sample`` (about 5 minutes on 2 CPU cores, well under one on a GPU); the result is
committed so the demo and CI never pay for it.

    python -m pipelines.pretrain_sample [--images 300] [--epochs 40] [--imgsz 160] [--device auto]
                                        [--model yolov5n.yaml] [--out PATH]

``--model yolov8s.yaml --out benchmarks/.cache/pretrained_task_a_yolov8s.pt`` makes the larger task-A
backbone of the model-size check in ``docs/transfer.md``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from pathlib import Path

from components._shared.log import setup_logging

log = logging.getLogger(__name__)
DEST = Path(__file__).resolve().parent / "sample" / "pretrained_task_a.pt"
MODEL = "yolov5n.yaml"  # the committed sample's architecture


def pretrain_sample(
    dest: Path = DEST,
    *,
    images: int = 300,
    epochs: int = 40,
    imgsz: int = 160,
    device: str = "auto",
    seed: int = 0,
    model: str = MODEL,
) -> dict:
    """Generate task A, convert, split, train ``model`` (an architecture YAML) from scratch, and copy ``best.pt`` to ``dest``.

    Returns:
        The training stage's metrics (``map50_95`` etc.).
    """
    from components.convert.core import ConvertConfig, convert_voc
    from components.make_sample.core import SampleConfig, make_sample
    from components.split.core import SplitConfig, split_dataset
    from components.train.core import TrainConfig, train_model

    with tempfile.TemporaryDirectory(prefix="pretrain-") as tmp:
        work = Path(tmp)
        make_sample(work / "voc", SampleConfig(images=images, seed=seed, task="A", imgsz=imgsz))
        convert_voc([work / "voc"], work / "yolo", ConvertConfig())
        split_dataset(work / "yolo", work / "dataset", SplitConfig(val=0.2, seed=seed))
        cfg = TrainConfig(freeze=0, epochs=epochs, imgsz=imgsz, batch=16, lr0=0.01, warmup_epochs=3.0,
                          device=device, seed=seed, stage_name="pretrain-task-a", patience=epochs)  # fmt: skip
        result = train_model(work / "dataset" / "dataset.yaml", model, work / "train", cfg)
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp_dest = dest.with_suffix(".pt.tmp")
        shutil.copyfile(result.best, tmp_dest)
        tmp_dest.replace(dest)
    log.info("pretrained sample: mAP50-95 %.3f on task A -> %s", result.map50_95, dest)
    return result.to_dict()


def main() -> None:
    """``python -m pipelines.pretrain_sample``."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEST)
    p.add_argument("--images", type=int, default=300)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--imgsz", type=int, default=160)
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default=MODEL, help=f"architecture YAML trained from scratch ({MODEL})")
    a = p.parse_args()
    setup_logging()
    pretrain_sample(
        a.out, images=a.images, epochs=a.epochs, imgsz=a.imgsz, device=a.device, seed=a.seed, model=a.model
    )


if __name__ == "__main__":
    main()
