"""The one ONNX Runtime session setup: export (parity, latency), validate and predict share it.

Where batch-1 latency goes (yolov5n at 640 px, onnxsim-simplified, 2 shared CPU cores, ONNX Runtime
1.32 profiler): 86% in Conv (already in the NCHWc layout of ``ORT_ENABLE_ALL``), 6% in SiLU (already
fused into ``QuickGelu``), 5% in the DFL head's Softmax, under 2% in everything else; the conversions
around ``run`` are negligible (``tensor.numpy()`` about 1 us, a 235 kB output). So the graph is not
where the time is lost; the threads are:

* spinning (``session.intra_op.allow_spinning``) only where cores are the process's own: idle intra-op
  threads busy-wait between operators. On free cores that shortens each wait (idle 2-core machine,
  median of 6 rounds of 5 calls: 39.8 ms with spinning, 46.7 ms without); where a CPU quota caps the
  pod (``/sys/fs/cgroup/cpu.max``, a Kubernetes CPU limit) or other work shares the cores, the spinning
  burns the quota the working thread needs (load 3.7-4.1: 153 ms without against 206 ms with). So it
  is off under a quota and on otherwise (``allow_spinning``).
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


def cpu_quota(cpu_max: Path = CGROUP_CPU_MAX) -> bool:
    """Whether a cgroup CPU quota caps this process (a Kubernetes CPU limit)."""
    try:
        return cpu_max.read_text(encoding="utf-8").split()[0] != "max"
    except (OSError, IndexError):
        return False


def allow_spinning(cpu_max: Path = CGROUP_CPU_MAX) -> bool:
    """Spin idle intra-op threads only when no CPU quota caps the process (see the module docstring)."""
    return not cpu_quota(cpu_max)


def session_options(threads: int | None = None, *, spinning: bool | None = None) -> Any:
    """``SessionOptions`` for low batch-1 latency on a pod's CPUs (see the module docstring).

    Args:
        threads: intra-op threads; None: ``cpu_cores()``.
        spinning: let idle threads spin; None: ``allow_spinning()``.
    """
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
