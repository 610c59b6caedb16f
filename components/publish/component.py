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
    allow_class_change: bool = False,
    checkpoint_root: str = "",
    run_id: str = "",
    workspace: str = "",
) -> NamedTuple("PublishOutputs", version=str, uri=str):
    """Upload model, card, metrics and reports as a new version (create-only, manifest last); promote.

    Args:
        onnx_model: ``model.onnx`` and ``model.json``.
        weights: ``best.pt`` of the fine-tuned stage.
        validation: the gate's ``metrics.json`` and plots.
        dest: ``s3://bucket/name`` or a local folder.
        fingerprint: dataset fingerprint (part of the version name).
        promote: point ``production.json`` at the new version (the gate already passed).
        allow_class_change: promote even when production's class list (names, order) differs.
        checkpoint_root: the run's records go to ``<checkpoint_root>/<run_id>/publish.json`` (for the
            run summary); empty for none.
        run_id: the pipeline job id.
        workspace: the run workspace (``dsl.WORKSPACE_PATH_PLACEHOLDER``): KFP mounts it only into tasks
            given it (``needsWorkspaceMount``); a Dataset from a task that mounts it may point into it.

    Returns:
        version and uri of the published model.
    """
    from pathlib import Path

    from components._shared.run_records import record_root
    from components.publish.core import run_publish_stage

    result = run_publish_stage(
        Path(onnx_model.path),
        Path(weights.path),
        Path(validation.path),
        dest,
        fingerprint,
        promote,
        allow_class_change=allow_class_change,
        record_to=record_root(checkpoint_root, run_id),
    )
    return (result.version, result.uri)
