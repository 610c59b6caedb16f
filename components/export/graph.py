"""ONNX graph rewrites that make ONNX Runtime faster on the CPU, results unchanged (``README.md``, step 2)."""

from __future__ import annotations

from typing import Any


def _opset(model: Any) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def _ranks(model: Any) -> dict[str, int]:
    import onnx

    g = onnx.shape_inference.infer_shapes(model).graph
    return {
        i.name: len(i.type.tensor_type.shape.dim)
        for i in (*g.value_info, *g.input, *g.output)
        if i.type.tensor_type.HasField("shape")
    }


def decompose_inner_softmax(model: Any) -> int:
    """Rewrite, in place, each top-level ``Softmax`` over an inner axis; return how many were rewritten."""
    import numpy as np
    from onnx import helper, numpy_helper

    opset, graph = _opset(model), model.graph
    if opset < 13 or not any(n.op_type == "Softmax" for n in graph.node):
        return 0  # before opset 13 Softmax flattens the axes after ``axis``: another function
    ranks, nodes, rewritten = _ranks(model), [], 0
    for node in graph.node:
        axis = next((a.i for a in node.attribute if a.name == "axis"), -1)
        rank = ranks.get(node.input[0]) if node.op_type == "Softmax" else None
        if rank is None or axis % rank == rank - 1:
            nodes.append(node)
            continue
        x, p = node.input[0], f"{node.name or 'softmax'}/decomposed"
        axes = numpy_helper.from_array(np.array([axis], dtype=np.int64), f"{p}/axes")
        graph.initializer.append(axes)
        reduce_max = (
            helper.make_node("ReduceMax", [x, axes.name], [f"{p}/max"], keepdims=1)
            if opset >= 18
            else helper.make_node("ReduceMax", [x], [f"{p}/max"], axes=[axis], keepdims=1)
        )
        nodes += [
            reduce_max,
            helper.make_node("Sub", [x, f"{p}/max"], [f"{p}/shifted"]),
            helper.make_node("Exp", [f"{p}/shifted"], [f"{p}/exp"]),
            helper.make_node("ReduceSum", [f"{p}/exp", axes.name], [f"{p}/sum"], keepdims=1),
            helper.make_node("Div", [f"{p}/exp", f"{p}/sum"], list(node.output), name=node.name),
        ]
        rewritten += 1
    if rewritten:
        del graph.node[:]
        graph.node.extend(nodes)
    return rewritten
