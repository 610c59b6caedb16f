"""TensorBoard event files of a training stage, written without ``tensorboard`` (the image lacks it).

A TFRecord file (length, masked CRC-32C, payload, masked CRC-32C) of ``Event`` protos (``wall_time`` 1,
``step`` 2, ``file_version`` 3, ``summary`` 5 of ``Summary.Value {tag 1, simple_value 2}``), as
``tensorboard/compat/proto/event.proto``, ``summary.proto`` and ``summary/writer/record_writer.py`` do.
"""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from components._yolo.results import EPOCH, LR_PREFIX, METRICS, TRAIN_LOSSES, VAL_LOSSES

LOG_DIR = "tensorboard"  # beside the stage's outputs, and under <checkpoint_root>/<run_id>/<stage>/
FILE_VERSION = b"brain.Event:2"
PHASE_FROZEN = "phase/frozen"  # 1 while the backbone is frozen, 0 once unfrozen
PHASE_FROZEN_LAYERS = "phase/frozen_layers"  # how many leading layers are frozen
SCALAR_COLUMNS = (*TRAIN_LOSSES, *VAL_LOSSES, *METRICS)  # plus lr/pg<i> and the phase


def event_file_name(stage: str, start: float) -> str:
    """The stage's event file (TensorBoard reads every file whose name holds ``tfevents``)."""
    return f"events.out.tfevents.{int(start):010d}.yolo-kfp.{stage}"


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1  # Castagnoli polynomial, reflected
        table.append(c)
    return tuple(table)


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``, as TFRecord frames use it."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> bytes:
    crc = crc32c(data)
    return struct.pack("<I", (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def _record(payload: bytes) -> bytes:
    length = struct.pack("<Q", len(payload))
    return length + _masked(length) + payload + _masked(payload)


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        bits, value = value & 0x7F, value >> 7
        out.append(bits | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _event(wall_time: float, step: int, *, scalars: Mapping[str, float] = {}, version: bool = False) -> bytes:  # noqa: B006 - read only
    body = b"\x09" + struct.pack("<d", wall_time) + b"\x10" + _varint(step)
    if version:
        body += _field(3, FILE_VERSION)
    if scalars:
        values = b"".join(
            _field(1, _field(1, tag.encode("utf-8")) + b"\x15" + struct.pack("<f", value))
            for tag, value in scalars.items()
        )
        body += _field(5, values)
    return _record(body)


def epoch_scalars(row: Mapping[str, float], freeze: int) -> dict[str, float]:
    """The scalars of one epoch: losses, P, R, mAP50, mAP50-95, learning rates and the frozen phase."""
    scalars = {k: float(row[k]) for k in SCALAR_COLUMNS if k in row}
    scalars.update({k: float(v) for k, v in row.items() if k.startswith(LR_PREFIX)})
    scalars[PHASE_FROZEN] = 1.0 if freeze > 0 else 0.0
    scalars[PHASE_FROZEN_LAYERS] = float(freeze)
    return scalars


def write_events(
    folder: Path, stage: str, rows: Sequence[Mapping[str, float]], *, freeze: int, start: float
) -> Path:
    """(Re)write the stage's event file in ``folder`` from every epoch's row so far; returns the file.

    An epoch's wall time is ``start`` plus its ``time`` column: a rewrite never changes earlier bytes.
    """
    data = _event(start, 0, version=True)
    for i, row in enumerate(rows, 1):
        step = int(row.get(EPOCH, i))
        data += _event(start + float(row.get("time", 0.0)), step, scalars=epoch_scalars(row, freeze))
    path = Path(folder) / event_file_name(stage, start)
    _write_atomic(path, data)
    return path


def _write_atomic(path: Path, data: bytes) -> None:
    """Temp file, then rename; the temp name lacks ``tfevents`` so TensorBoard never reads a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tb-", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the TensorBoard pod's user must read the copy
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
