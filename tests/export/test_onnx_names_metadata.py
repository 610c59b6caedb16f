"""Readers of an ONNX model's ``names`` metadata refuse hostile values in one line, with bounded work."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from components._shared.errors import ConfigError


def _onnx_with_names(path: Path, names: str) -> Path:
    """A one-node ONNX model (Identity) whose metadata ``names`` is ``names``."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 32, 32])
    y = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 3, 32, 32])
    graph = helper.make_graph([helper.make_node("Identity", ["images"], ["output0"])], "g", [x], [y])
    model = helper.make_model(graph)
    helper.set_model_props(model, {"names": names, "stride": "32", "task": "detect", "imgsz": "[32, 32]"})
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ("{'a': 'star', 'b': 'ring'}", r"class names keyed by 'a', 'b', not the class indices 0..n-1"),
        ("{0: 'star', 2: 'ring'}", r"class names keyed by 0, 2, not the class indices"),
        (
            "-" * 100_000,
            r"unreadable class names '-+' \((MemoryError|ValueError|RecursionError|SyntaxError)\)",
        ),
        ("[" * 2_000_000, r"class names metadata of 2000000 characters"),
    ],
)
def test_onnx_names_metadata_that_is_not_an_index_map_is_refused_in_one_line(
    tmp_path: Path, names: str, message: str
) -> None:
    """Non-int keys, gaps, 100k '-' (MemoryError before) and oversized text: one ConfigError, in well under 5 s."""
    from components._yolo.model import model_names

    path = _onnx_with_names(tmp_path / "model.onnx", names)
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=message):
        model_names(path)
    assert time.perf_counter() - started < 5


def test_validate_cli_refuses_an_onnx_with_hostile_names_in_one_line(tiny_data: Path, tmp_path: Path) -> None:
    """validate --weights model.onnx with ``{'a': ...}`` names exits 2 with one line (was a ValueError traceback)."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    path = _onnx_with_names(tmp_path / "model.onnx", "{'a': 'square', 'b': 'bar'}")
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "validate", "--weights", str(path), "--dataset", str(tiny_data),
         "--out", str(tmp_path / "v")],
        cwd=repo, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "not the class indices" in proc.stderr.strip().splitlines()[-1]
