"""The one ONNX Runtime session setup that export, validate and predict share (imports onnxruntime lazily).

Intra-op threads are the pod's cgroup cores, and idle threads spin only where no CPU quota caps the pod
(39.8 vs 46.7 ms on free cores; under a quota spinning burns it: 206 vs 153 ms). I/O binding gave no
measurable gain; what the graph itself costs is in docs/benchmarks.md (`export`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"


def cpu_cores(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The cores this process may use: its cgroup CPU quota (rounded up), at most the CPUs it may run on."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = cpu_max.read_text(encoding="utf-8").split()[:2]
        cores = usable if quota == "max" else math.ceil(int(quota) / int(period))
    except (OSError, ValueError, ZeroDivisionError):
        cores = usable
    return max(1, min(usable, cores))


def allow_spinning(cpu_max: Path = CGROUP_CPU_MAX) -> bool:
    """Spin idle intra-op threads only when no cgroup CPU quota (a Kubernetes CPU limit) caps the process."""
    try:
        return cpu_max.read_text(encoding="utf-8").split()[0] == "max"
    except (OSError, IndexError):
        return True


def session_options(threads: int | None = None, *, spinning: bool | None = None) -> Any:
    """``SessionOptions`` for low batch-1 latency (``threads``: ``cpu_cores()``, ``spinning``: ``allow_spinning()``)."""
    import onnxruntime

    spin = "1" if (allow_spinning() if spinning is None else spinning) else "0"
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or cpu_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    options.add_session_config_entry("session.inter_op.allow_spinning", spin)
    return options


def make_session(path: Path, *, threads: int | None = None, providers: list[str] | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` for ``path`` (CPU unless ``providers``) with ``session_options(threads)``."""
    import onnxruntime

    return onnxruntime.InferenceSession(
        str(path), session_options(threads), providers=providers or ["CPUExecutionProvider"]
    )
