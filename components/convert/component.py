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
):
    """Convert a VOC tree to YOLO labels (Ultralytics VOC box convention).

    Args:
        voc_tree: VOC tree from the ingest step.
        classes: comma-separated class order; empty for the sorted names found.
        include_difficult: keep objects marked ``difficult=1``.
        fingerprint: the ingested dataset's fingerprint: part of this task's cache key, so a scheduled
            run that finds new labels under the same URI converts again.
        yolo_labels: images/, labels/, classes.txt and report.json.
        convert_report: counts and skipped files by reason.
    """
    from pathlib import Path

    from components._shared.kfp_io import publish_file, set_metadata
    from components.convert.core import ConvertConfig, convert_voc, parse_classes

    cfg = ConvertConfig(
        classes=parse_classes(classes) if classes else None, include_difficult=include_difficult
    )
    result = convert_voc([Path(voc_tree.path)], Path(yolo_labels.path), cfg)
    set_metadata(yolo_labels, {**result.to_dict(), "dataset_fingerprint": fingerprint})
    publish_file(Path(yolo_labels.path) / "report.md", convert_report)
