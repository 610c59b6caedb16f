"""KFP component: stratified, grouped train/val/test split."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from components._shared import images


@dsl.component(base_image=images.CPU, install_kfp_package=False)
def split_dataset(
    yolo_labels: Input[Dataset],
    val: float,
    test: float,
    seed: int,
    group: str,
    yolo_dataset: Output[Dataset],
):
    """Split converted data into train/val[/test] and write the Ultralytics ``dataset.yaml``.

    Args:
        yolo_labels: output of the convert step.
        val: validation fraction.
        test: test fraction (0 for none).
        seed: split seed (same seed, same split).
        group: regex whose first group keeps near-duplicate images in one split; empty for none.
        yolo_dataset: self-contained dataset folder with ``dataset.yaml``.
    """
    from pathlib import Path

    from components._shared.kfp_io import set_metadata
    from components.split.core import SplitConfig, split_dataset

    cfg = SplitConfig(val=val, test=test, seed=seed, group=group or None)
    result = split_dataset(Path(yolo_labels.path), Path(yolo_dataset.path), cfg)
    set_metadata(yolo_dataset, result.to_dict())
