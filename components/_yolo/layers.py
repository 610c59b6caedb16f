"""Layer names of the YOLOv5u/YOLOv8 detection models (pure Python, no torch).

Their backbone is ``model.0`` .. ``model.9`` (ending with SPPF): freezing ``BACKBONE_LAYERS`` freezes exactly it.
"""

from __future__ import annotations

BACKBONE_LAYERS = 10  # the one place the backbone depth is written


def prefixes(n_layers: int) -> tuple[str, ...]:
    """State-dict key prefixes of the first ``n_layers`` layers (Ultralytics' freeze names)."""
    return tuple(f"model.{i}." for i in range(n_layers))
