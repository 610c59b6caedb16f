"""The one ONNX Runtime session setup (``components/_shared/onnx_runtime.py``) that export, validate and
the export benchmark share: threads from the pod's CPU quota, spinning only without one, every graph optimisation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from components._shared.onnx_runtime import allow_spinning, cpu_cores, make_session

USABLE = len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("cpu_max", "expected"),
    [
        ("max 100000\n", USABLE),  # no quota: the CPUs this process may run on
        ("100000 100000\n", 1),
        ("50000 100000\n", 1),  # half a core still needs one thread
        (f"{150000 * USABLE} 100000\n", USABLE),  # a quota above the usable CPUs: those CPUs
        ("garbage\n", USABLE),
        (None, USABLE),  # no cgroup v2 file (cgroup v1, macOS)
    ],
)
def test_cpu_cores_follow_the_cgroup_quota(tmp_path: Path, cpu_max: str | None, expected: int) -> None:
    """It reads ``cpu.max`` (quota / period, rounded up), never more than the usable CPUs, never 0."""
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max)
    assert cpu_cores(path) == expected


def test_make_session_sets_threads_spinning_and_every_optimisation(tmp_path: Path) -> None:
    """It runs the model on the CPU with the given intra-op threads, one inter-op thread, spinning as
    ``allow_spinning`` decides here and ``ORT_ENABLE_ALL``."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    graph = helper.make_graph([helper.make_node("Sigmoid", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "m.onnx"))

    session = make_session(tmp_path / "m.onnx", threads=1)
    options = session.get_session_options()
    assert options.intra_op_num_threads == 1 and options.inter_op_num_threads == 1
    assert options.graph_optimization_level == onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    spin = "1" if allow_spinning() else "0"
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == spin
    assert session.get_providers() == ["CPUExecutionProvider"]
    out = session.run(None, {"x": np.zeros((1, 3), np.float32)})[0]
    assert np.allclose(out, 0.5)
    assert make_session(tmp_path / "m.onnx").get_session_options().intra_op_num_threads == cpu_cores()


@pytest.mark.parametrize(("cpu_max", "spins"), [("200000 100000", False), ("max 100000", True), (None, True)])
def test_threads_spin_only_where_no_cpu_quota_caps_the_pod(
    tmp_path: Path, cpu_max: str | None, spins: bool
) -> None:
    """It turns spinning off under a cgroup CPU quota (a pod's CPU limit: spinning burns the quota the
    working thread needs) and leaves it on where the cores are the process's own."""
    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max)
    assert allow_spinning(path) is spins
