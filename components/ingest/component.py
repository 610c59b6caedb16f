"""KFP component: bring the dataset into the pipeline (``s3://`` prefix or archive, or a local path)."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Output

from components._shared import images


@dsl.component(base_image=images.CPU, install_kfp_package=False)
def ingest_dataset(source: str, voc_tree: Output[Dataset], workspace: str = "") -> NamedTuple(
    "IngestOutputs", fingerprint=str
):
    """Download or link a VOC dataset and fingerprint it.

    Args:
        source: ``s3://bucket/prefix/``, ``s3://bucket/data.tar.gz`` (or .zip), or a local path.
        voc_tree: the VOC tree (Annotations/, JPEGImages/) as a dataset artifact; with a workspace, a
            manifest of the tree written there (``dataset-manifest.json``).
        workspace: the run's workspace (``dsl.WORKSPACE_PATH_PLACEHOLDER``): the tree is written to
            ``<workspace>/yolo-kfp/voc`` once; empty: into the artifact itself.

    Returns:
        fingerprint: hash of the source's keys, ETags and sizes (or file contents), for caching and cards.
    """
    from pathlib import Path

    from components._shared.dataset import data_output, hand_over
    from components._shared.kfp_io import set_metadata
    from components.ingest.core import IngestConfig, ingest

    out = data_output(Path(voc_tree.path), workspace, "voc")
    result = ingest(source, out, IngestConfig())
    manifest = hand_over(Path(voc_tree.path), out, stage="ingest", fingerprint=result.fingerprint,
                         counts={"files": result.files})  # fmt: skip
    set_metadata(voc_tree, {**result.to_dict(), **manifest})
    return (result.fingerprint,)
