"""The one ONNX Runtime session setup: export (parity, latency), validate and predict share it.

Where batch-1 latency goes (yolov5n at 640 px, onnxsim-simplified, 2 shared CPU cores, ONNX Runtime
1.32 profiler): 86% in Conv (already in the NCHWc layout of ``ORT_ENABLE_ALL``), 6% in SiLU (already
fused into ``QuickGelu``), 5% in the DFL head's Softmax, under 2% in everything else; the conversions
around ``run`` are negligible (``tensor.numpy()`` about 1 us, a 235 kB output). So the graph is not
where the time is lost; the threads are:

* no spinning (``session.intra_op.allow_spinning = 0``): idle intra-op threads otherwise busy-wait
  between operators, burning the CPU time (or the pod's CPU quota) that the thread doing the work
  needs whenever anything else runs on the cores. Measured with load 3.7-4.1 on the 2 cores: 153 ms
  against 206 ms with spinning (median of 5 interleaved rounds, ``benchmarks/bench_export.py``,
  ``before``), 76 against 99 ms in a separate probe. Not measured on idle cores (this machine never
  was); the ``before`` column of the export benchmark shows it on any machine.
* ``intra_op_num_threads``: the cores this pod may use, from its cgroup CPU quota
  (``/sys/fs/cgroup/cpu.max``), else the CPUs this process may run on. ONNX Runtime's own default is
  every core of the node, more threads than a pod's CPU limit lets run at once.
* ``ORT_ENABLE_ALL``, sequential execution, one inter-op thread: what the Python API defaults to
  today, written down so that a change of default cannot move the latency unnoticed.

I/O binding was tried and left out: on the CPU the input is already a contiguous float32 array that
``run`` reads in place, and no gain was measured.

Importing this module does not import onnxruntime (nor torch); ``make_session`` does.
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
    except (OSError, ValueError):
        return max(1, usable)
    if quota == "max":
        return max(1, usable)
    try:
        cores = math.ceil(int(quota) / int(period))
    except (ValueError, ZeroDivisionError):
        return max(1, usable)
    return max(1, min(usable, cores))


def session_options(threads: int | None = None) -> Any:
    """``SessionOptions`` for low batch-1 latency on a pod's CPUs (see the module docstring).

    Args:
        threads: intra-op threads; None: ``cpu_cores()``.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads or cpu_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def make_session(path: Path, *, threads: int | None = None, providers: list[str] | None = None) -> Any:
    """An ``onnxruntime.InferenceSession`` for ``path`` with ``session_options(threads)``.

    Args:
        path: the ``.onnx`` file.
        threads: intra-op threads; None: the cores this pod may use.
        providers: execution providers; None: the CPU.
    """
    import onnxruntime

    return onnxruntime.InferenceSession(
        str(path), session_options(threads), providers=providers or ["CPUExecutionProvider"]
    )
