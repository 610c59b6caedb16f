"""Training under torchrun: one process group over every process of every node, rank 0 as the writer.

Ultralytics 8.4 counts its DDP world from the local device string (``len(device.split(","))``, 0 on the
CPU) and, when that is above 1 and ``LOCAL_RANK`` is unset, spawns its own ``torch.distributed.run`` on
this machine (ultralytics#7282). Under ``torchrun --nnodes N`` every pod would then form a group of its
own GPUs, or train alone. Here torchrun's environment decides instead:

* ``world_from_env`` reads ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK`` and ``LOCAL_WORLD_SIZE``;
* ``process_group`` joins the global group from it (``init_method="env://"``: nccl on GPUs, gloo on the
  CPU) before the trainer is built, and leaves it afterwards;
* ``OfflineDetectionTrainer`` (``train.py``) then uses that group's size and rank, and never spawns;
* rank 0 alone writes the stage's outputs; ``run_on_main`` and ``share_files`` hand its decisions and
  files (the ``last.pt`` to resume from) to the other ranks, which train in a rank-private temp folder.

The environment part imports no torch (the checkpoint sync reads the rank without it); the collectives
import ``torch.distributed`` when called.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from components._shared.errors import ConfigError, YoloKfpError

log = logging.getLogger(__name__)

T = TypeVar("T")
TIMEOUT = timedelta(hours=3)  # as Ultralytics' own DDP: a slow rank 0 (validation, upload) must not time out
ENV_KEYS = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE")


@dataclass(frozen=True)
class World:
    """This process's place in a torchrun world (``size == 1``: a plain single process).

    Attributes:
        size: processes in the whole world, over all nodes (``WORLD_SIZE``).
        rank: this process's global rank; 0 writes the outputs (``RANK``).
        local_rank: its rank on this node; picks its GPU (``LOCAL_RANK``).
        local_size: processes on this node (``LOCAL_WORLD_SIZE``).
    """

    size: int = 1
    rank: int = 0
    local_rank: int = 0
    local_size: int = 1

    @property
    def distributed(self) -> bool:
        """More than one process: train with DDP over the process group."""
        return self.size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, reports and metrics and uploads."""
        return self.rank == 0


def world_from_env(env: Mapping[str, str] | None = None) -> World:
    """The torchrun world this process belongs to; ``World()`` when ``WORLD_SIZE`` is unset or 1.

    Raises:
        ConfigError: a torchrun variable that is not a whole number, or ranks outside the world.
    """
    env = os.environ if env is None else env
    values: dict[str, int] = {}
    for key in ENV_KEYS:
        raw = env.get(key, "")
        try:
            values[key] = int(raw) if raw.strip() else -1
        except ValueError:
            raise ConfigError(
                f"{key}={raw!r}: torchrun sets a whole number; unset it outside torchrun"
            ) from None
    size = values["WORLD_SIZE"]
    if size <= 1:
        return World()
    rank, local_rank = values["RANK"], values["LOCAL_RANK"]
    local_size = values["LOCAL_WORLD_SIZE"] if values["LOCAL_WORLD_SIZE"] > 0 else size
    if not (0 <= rank < size and 0 <= local_rank < local_size):
        raise ConfigError(
            f"WORLD_SIZE={size} with RANK={rank}, LOCAL_RANK={local_rank}: start the processes with torchrun, "
            "which sets all three"
        )
    return World(size=size, rank=rank, local_rank=local_rank, local_size=local_size)


def device_index(device: str, local_rank: int) -> int | None:
    """The CUDA index of the process with ``local_rank`` for a device string; None on the CPU.

    ``0,1,2,3`` gives local rank 2 GPU 2, as Ultralytics' own DDP workers pick theirs.

    Raises:
        ConfigError: ``mps``, or fewer GPUs listed than processes on the node.
    """
    device = str(device).strip().lower()
    if device in ("", "cpu"):
        return None
    if device.startswith("mps"):
        raise ConfigError(
            "--device mps: DDP needs CUDA (nccl) or the CPU (gloo); use --device cpu under torchrun"
        )
    devices = [d for d in device.removeprefix("cuda:").split(",") if d.strip()]
    if local_rank >= len(devices) or not all(d.strip().isdigit() for d in devices):
        raise ConfigError(
            f"--device {device}: torchrun started local rank {local_rank}, but the device lists {len(devices)} "
            "GPU(s); use --device auto (every visible GPU) or list one GPU per process on the node"
        )
    return int(devices[local_rank])


@contextlib.contextmanager
def process_group(world: World, device: str) -> Iterator[World]:
    """Join the global process group of a torchrun world for the block (nothing for a single process).

    On a GPU this process is pinned to its GPU first (``device_index``) and nccl is used; on the CPU,
    gloo. A group that is already initialised (by the caller) is used as it is and left alone.
    """
    if not world.distributed:
        yield world
        return
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        yield world
        return
    index = device_index(device, world.local_rank)
    if index is not None:
        torch.cuda.set_device(index)
    backend = "nccl" if index is not None else "gloo"
    dist.init_process_group(backend=backend, init_method="env://", timeout=TIMEOUT)
    log.info(
        "DDP: rank %d of %d (local rank %d of %d), %s on %s",
        world.rank,
        world.size,
        world.local_rank,
        world.local_size,
        backend,
        f"cuda:{index}" if index is not None else "cpu",
    )
    try:
        yield world
    finally:
        dist.destroy_process_group()


def _group_size() -> int:
    """Processes in the initialised default group (1 when there is none)."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def broadcast_object(obj: T) -> T:
    """Rank 0's ``obj`` on every rank of the initialised group (``obj`` itself without one)."""
    if _group_size() == 1:
        return obj
    import torch.distributed as dist

    box = [obj if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]  # type: ignore[return-value]


def gather_objects(obj: T) -> list[T] | None:
    """Every rank's ``obj``, in rank order, on rank 0 (None on the others; ``[obj]`` without a group)."""
    if _group_size() == 1:
        return [obj]
    import torch.distributed as dist

    out: list[Any] | None = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out


def run_on_main(world: World, fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 only; every rank returns its result, or raises the ``YoloKfpError`` it raised.

    So a refused output folder or a failed frozen-layer proof ends every rank with the same one-line
    error instead of leaving the others waiting in a collective.
    """
    if not world.distributed:
        return fn()
    result: Any = None
    error: YoloKfpError | None = None
    if world.is_main:
        try:
            result = fn()
        except YoloKfpError as err:
            error = err
    shared_result, shared_error = broadcast_object((result, error))
    if world.is_main:
        if error is not None:
            raise error
        return result  # type: ignore[no-any-return]
    if shared_error is not None:
        raise shared_error
    return shared_result  # type: ignore[no-any-return]


def share_files(folder: Path, names: Sequence[str]) -> list[str]:
    """Copy rank 0's ``folder/<name>`` files (those that exist) to the same place under every rank's ``folder``.

    Each rank passes its own ``folder`` (the others' are rank-private); ``names`` counts on rank 0 only.
    Files are written atomically (temp name, then rename).

    Args:
        folder: the folder the names are relative to, on this rank.
        names: relative paths rank 0 sends when they exist there.

    Returns:
        The names rank 0 sent (also on rank 0).
    """
    if _group_size() == 1:
        return [n for n in names if (folder / n).is_file()]
    import torch.distributed as dist

    main = dist.get_rank() == 0
    payload = {n: (folder / n).read_bytes() for n in names if (folder / n).is_file()} if main else None
    payload = broadcast_object(payload) or {}
    if not main:
        for name, data in payload.items():
            dst = folder / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.rank{dist.get_rank()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, dst)
    return sorted(payload)
