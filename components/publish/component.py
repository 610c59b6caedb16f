"""KFP component: publish the gated model to MinIO (or a folder) and promote it."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Dataset, Input, Model

from components._shared import images


@dsl.component(base_image=images.CPU, install_kfp_package=False)
def publish_model(
    onnx_model: Input[Model],
    weights: Input[Model],
    validation: Input[Dataset],
    dest: str,
    fingerprint: str,
    promote: bool,
) -> NamedTuple("PublishOutputs", version=str, uri=str):
    """Upload model, card, metrics and reports as a new version; write the manifest last; promote.

    Args:
        onnx_model: ``model.onnx`` and ``model.json``.
        weights: ``best.pt`` of the fine-tuned stage.
        validation: the gate's ``metrics.json`` and plots.
        dest: ``s3://bucket/name`` or a local folder.
        fingerprint: dataset fingerprint (part of the version name).
        promote: point ``production.json`` at the new version (the gate already passed).

    Returns:
        version and uri of the published model.
    """
    from pathlib import Path

    from components.publish.core import run_publish_stage

    result = run_publish_stage(
        Path(onnx_model.path), Path(weights.path), Path(validation.path), dest, fingerprint, promote
    )
    return (result.version, result.uri)
