"""It rewrites a softmax over an inner axis into an exact decomposition ONNX Runtime runs faster."""

from __future__ import annotations

import pytest

np = pytest.importorskip("numpy")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper  # noqa: E402

from components.export.graph import decompose_inner_softmax  # noqa: E402

SHAPE = [2, 16, 4, 50]


def _softmax_model(axis: int, opset: int) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, SHAPE)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, SHAPE)
    node = helper.make_node("Softmax", ["x"], ["y"], axis=axis, name="dfl/Softmax")
    graph = helper.make_graph([node], "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x}
    )[0]


@pytest.mark.parametrize("opset", [13, 17, 18, 21])
@pytest.mark.parametrize("axis", [1, -3, 2])
def test_an_inner_axis_softmax_becomes_the_same_function(axis: int, opset: int) -> None:
    """Opsets before and after ReduceMax took its axes as an input; large logits do not overflow."""
    model = _softmax_model(axis, opset)
    x = (np.random.default_rng(0).standard_normal(SHAPE) * 40).astype(np.float32)
    before = _run(model, x)
    assert decompose_inner_softmax(model) == 1
    onnx.checker.check_model(model, full_check=True)
    assert "Softmax" not in {n.op_type for n in model.graph.node}
    after = _run(model, x)
    assert np.isfinite(after).all()
    np.testing.assert_allclose(after, before, atol=1e-6, rtol=0)


@pytest.mark.parametrize("axis", [-1, 3])
def test_a_last_axis_softmax_is_left_alone(axis: int) -> None:
    model = _softmax_model(axis, 17)
    assert decompose_inner_softmax(model) == 0
    assert [n.op_type for n in model.graph.node] == ["Softmax"]
