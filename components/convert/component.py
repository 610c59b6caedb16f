"""KFP component: Pascal VOC XML -> YOLO labels."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Markdown, Output

from components._shared import images


@dsl.component(base_image=images.CPU, install_kfp_package=False)
def convert_voc(
    voc_tree: Input[Dataset],
    classes: str,
    include_difficult: bool,
    fingerprint: str,
    yolo_labels: Output[Dataset],
    convert_report: Output[Markdown],
    workspace: str = "",
):
    """Convert a VOC tree to YOLO labels (Ultralytics VOC box convention).

    Args:
        voc_tree: VOC tree from the ingest step.
        classes: comma-separated class order; empty for the sorted names found.
        include_difficult: keep objects marked ``difficult=1``.
        fingerprint: the ingested dataset's fingerprint: part of this task's cache key, so a scheduled
            run that finds new labels under the same URI converts again.
        yolo_labels: images/, labels/, classes.txt and report.json; with a workspace, a manifest of that
            folder (``dataset-manifest.json``).
        convert_report: counts and skipped files by reason.
        workspace: the run's workspace (``dsl.WORKSPACE_PATH_PLACEHOLDER``): the output is written to
            ``<workspace>/yolo-kfp/converted`` once (images hard-linked to the VOC tree there); empty:
            into the artifact itself.
    """
    from pathlib import Path

    from components._shared.dataset import data_output, follow_manifest, hand_over
    from components._shared.kfp_io import publish_file, set_metadata
    from components.convert.core import ConvertConfig, convert_voc, parse_classes

    cfg = ConvertConfig(
        classes=parse_classes(classes) if classes else None, include_difficult=include_difficult
    )
    out = data_output(Path(yolo_labels.path), workspace, "converted")
    result = convert_voc([follow_manifest(Path(voc_tree.path))], out, cfg)
    manifest = hand_over(Path(yolo_labels.path), out, stage="convert", fingerprint=fingerprint,
                         counts={"images": result.images})  # fmt: skip
    set_metadata(yolo_labels, {**result.to_dict(), "dataset_fingerprint": fingerprint, **manifest})
    publish_file(out / "report.md", convert_report)
