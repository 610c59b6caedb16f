"""Training under torchrun: one process group over every process of every node, rank 0 as the writer.

Why not Ultralytics' own DDP: ``components/_yolo/README.md``. Collectives import torch when called.
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
from components._shared.fsio import temp_beside

log = logging.getLogger(__name__)

T = TypeVar("T")
TIMEOUT = timedelta(hours=3)  # as Ultralytics' own DDP: a slow rank 0 (validation, upload) must not time out
ENV_KEYS = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE")


@dataclass(frozen=True)
class World:
    """This process's place in a torchrun world (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``)."""

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
    """The torchrun world this process belongs to (``World()`` without one); ConfigError for bad variables."""
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
    """The CUDA index of ``local_rank`` (``0,1,2,3``: rank 2 gets GPU 2), None on the CPU; ConfigError for mps."""
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
    """Join the global process group for the block (nccl on a pinned GPU, else gloo); reuse an existing one."""
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


def group_size() -> int:
    """Processes in the initialised default group (1 when there is none)."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def broadcast_object(obj: T) -> T:
    """Rank 0's ``obj`` on every rank of the initialised group (``obj`` itself without one)."""
    if group_size() == 1:
        return obj
    import torch.distributed as dist

    box = [obj if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]  # type: ignore[return-value]


def gather_objects(obj: T) -> list[T] | None:
    """Every rank's ``obj``, in rank order, on rank 0 (None on the others; ``[obj]`` without a group)."""
    if group_size() == 1:
        return [obj]
    import torch.distributed as dist

    out: list[Any] | None = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(obj, out, dst=0)
    return out


def run_on_main(world: World, fn: Callable[[], T]) -> T:
    """Run ``fn`` on rank 0 only; every rank returns its result or raises its ``YoloKfpError`` (none left waiting)."""
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
    """Copy rank 0's ``folder/<name>`` files atomically to every rank's own ``folder``; return the names sent."""
    if group_size() == 1:
        return [n for n in names if (folder / n).is_file()]
    import torch.distributed as dist

    main = dist.get_rank() == 0
    payload = {n: (folder / n).read_bytes() for n in names if (folder / n).is_file()} if main else None
    payload = broadcast_object(payload) or {}
    if not main:
        for name, data in payload.items():
            dst = folder / name
            dst.parent.mkdir(parents=True, exist_ok=True)
            with temp_beside(dst) as tmp:
                tmp.write_bytes(data)
                os.replace(tmp, dst)
    return sorted(payload)
