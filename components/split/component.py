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
    workspace: str = "",
):
    """Split converted data into train/val[/test] and write the Ultralytics ``dataset.yaml``.

    Args:
        yolo_labels: output of the convert step.
        val: validation fraction.
        test: test fraction (0 for none).
        seed: split seed (same seed, same split).
        group: regex whose first group keeps near-duplicate images in one split; empty for none.
        yolo_dataset: self-contained dataset folder with ``dataset.yaml``; with a workspace, a manifest of
            that folder (``dataset-manifest.json``), which every consumer follows to the data.
        workspace: the run's workspace (``dsl.WORKSPACE_PATH_PLACEHOLDER``): the dataset is written to
            ``<workspace>/yolo-kfp/dataset`` once (hard links to the converted files there) and read in
            place by every later task; empty: into the artifact itself.
    """
    from pathlib import Path

    from components._shared.dataset import data_output, follow_manifest, hand_over, read_manifest
    from components._shared.kfp_io import set_metadata
    from components.split.core import SplitConfig, split_dataset

    cfg = SplitConfig(val=val, test=test, seed=seed, group=group or None)
    out = data_output(Path(yolo_dataset.path), workspace, "dataset")
    result = split_dataset(follow_manifest(Path(yolo_labels.path)), out, cfg)
    source = read_manifest(Path(yolo_labels.path))  # None without a workspace
    fingerprint = source.fingerprint if source else ""
    manifest = hand_over(
        Path(yolo_dataset.path), out, stage="split", fingerprint=fingerprint, counts=result.counts
    )
    set_metadata(yolo_dataset, {**result.to_dict(), **manifest})
