"""KFP component: export to ONNX, simplify, and prove parity with PyTorch."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from components._shared import images


@dsl.component(base_image=images.GPU, install_kfp_package=False)
def export_onnx(
    weights: Input[Model],
    yolo_dataset: Input[Dataset],
    imgsz: int,
    onnx_model: Output[Model],
    workspace: str = "",
):
    """Export ``best.pt`` to a simplified ONNX model with a model card (``model.json``).

    Args:
        weights: the fine-tuned stage's weights folder (``best.pt``, ``metrics.json``).
        yolo_dataset: real images for the PyTorch/ONNX Runtime parity check.
        imgsz: export image size.
        onnx_model: ``model.onnx``, ``model.json`` and ``export.json`` (parity, latency, node counts).
        workspace: the run workspace (``dsl.WORKSPACE_PATH_PLACEHOLDER``): KFP mounts it only into tasks
            given it (``needsWorkspaceMount``), and ``yolo_dataset`` is a manifest pointing into it.
    """
    from pathlib import Path

    from components._shared.kfp_io import set_metadata
    from components.export.core import ExportConfig, export_onnx

    cfg = ExportConfig(imgsz=imgsz, parity_images=Path(yolo_dataset.path) / "dataset.yaml")
    result = export_onnx(Path(weights.path) / "best.pt", Path(onnx_model.path), cfg)
    set_metadata(onnx_model, result.card())
