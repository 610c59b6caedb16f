"""Recreate ``pipelines/sample/pretrained_task_a.pt``: yolov5n pre-trained on synthetic task A (README).

``make pretrained-sample`` runs it (~5 min on 2 CPUs); ``--model yolov8s.yaml``: docs/transfer.md's size check.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import tempfile
from pathlib import Path

from components._shared.fsio import link_or_copy
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
    """Train ``model`` (an architecture YAML) from scratch on task A, copy best.pt to ``dest``; its metrics."""
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
        link_or_copy(result.best, dest)
    log.info("pretrained sample: mAP50-95 %.3f on task A -> %s", result.map50_95, dest)
    return result.to_dict()


def main() -> None:
    """``python -m pipelines.pretrain_sample``."""
    d = {name: arg.default for name, arg in inspect.signature(pretrain_sample).parameters.items()}
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=d["dest"])
    p.add_argument("--images", type=int, default=d["images"])
    p.add_argument("--epochs", type=int, default=d["epochs"])
    p.add_argument("--imgsz", type=int, default=d["imgsz"])
    p.add_argument("--device", default=d["device"])
    p.add_argument("--seed", type=int, default=d["seed"])
    p.add_argument("--model", default=d["model"], help=f"architecture YAML trained from scratch ({MODEL})")
    a = p.parse_args()
    setup_logging()
    pretrain_sample(
        a.out, images=a.images, epochs=a.epochs, imgsz=a.imgsz, device=a.device, seed=a.seed, model=a.model
    )


if __name__ == "__main__":
    main()
