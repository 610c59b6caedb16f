"""Image width and height from the first bytes of a plain JPEG or PNG, without PIL.

It answers only where PIL would open the file with the same size, else ``None`` (the caller asks PIL),
so it can make a check faster but never change its result. The walks mirror Pillow 13's
``JpegImageFile._open`` and ``PngImageFile._open``; tests/convert/test_convert_imagesize.py compares them.
"""

from __future__ import annotations

import os
import struct
import sys
import zlib
from typing import Final

HEAD_BYTES: Final = 4096  # the whole header of a typical camera-less JPEG or any PNG
MAX_HEAD_BYTES: Final = 65536  # read this far when the markers go on (ICC profiles); then ask PIL
# PIL.Image.MAX_IMAGE_PIXELS (its default): above it PIL warns or refuses, so PIL has to decide
_PIL_MAX_PIXELS: Final = 1024 * 1024 * 1024 // 4 // 3

_SOF: Final = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_DQT, _SOS = 0xDB, 0xDA
# DHT, DAC, DRI, COM (read and kept or ignored by PIL), DQT (checked below), SOS (the end of the walk)
_PLAIN: Final = frozenset({0xC4, 0xCC, 0xDD, 0xFE, _DQT, _SOS})
_PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"
# (bit depth, colour type) pairs PIL opens (PngImagePlugin._MODES)
_PNG_MODES: Final = frozenset(
    {(1, 0), (2, 0), (4, 0), (8, 0), (16, 0), (8, 2), (16, 2), (1, 3), (2, 3), (4, 3), (8, 3)}
    | {(8, 4), (16, 4), (8, 6), (16, 6)}
)


class _NeedMore(Exception):
    """The header goes on past the bytes read."""


def header_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """``(width, height)`` from the file's header, or ``None`` when PIL must decide; never raises."""
    return probe(path)[0]


def probe(path: str | os.PathLike[str]) -> tuple[tuple[int, int] | None, bool | None]:
    """``(header_size, lacks_end_marker)`` from one open; the marker flag (no final ``FF D9``) is None
    except for a JPEG whose size is known. Never raises."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None, None
    try:
        head = os.read(fd, HEAD_BYTES)
        try:
            size = size_from_bytes(head, complete=len(head) < HEAD_BYTES)
        except _NeedMore:
            head += os.read(fd, MAX_HEAD_BYTES - len(head))
            try:
                size = size_from_bytes(head, complete=True)
            except _NeedMore:
                return None, None
        if size is None or not head.startswith(b"\xff\xd8\xff"):
            return size, None
        length = os.fstat(fd).st_size
        tail = head[-2:] if length == len(head) else os.pread(fd, 2, length - 2)
        return size, tail != b"\xff\xd9"
    except OSError:
        return None, None
    finally:
        os.close(fd)


def size_from_bytes(data: bytes, complete: bool = True) -> tuple[int, int] | None:
    """``(width, height)`` from a file's first bytes, or ``None`` when PIL must decide.

    Args:
        complete: ``data`` is the whole file; otherwise running past its end raises ``_NeedMore``.
    """
    try:
        if data.startswith(b"\xff\xd8\xff"):
            size = _jpeg_size(data)
        elif data.startswith(_PNG_MAGIC):
            size = _png_size(data)
        else:
            return None
    except _NeedMore:
        if complete:
            return None  # truncated header: PIL's verdict
        raise
    if size is None or size[0] <= 0 or size[1] <= 0 or size[0] * size[1] > _max_pixels():
        return None
    return size


def _max_pixels() -> int:
    """PIL's decompression-bomb limit (the current one when PIL is loaded and it was lowered)."""
    image = sys.modules.get("PIL.Image")
    limit = getattr(image, "MAX_IMAGE_PIXELS", None)
    return min(limit, _PIL_MAX_PIXELS) if isinstance(limit, int) else _PIL_MAX_PIXELS


def _jpeg_size(b: bytes) -> tuple[int, int] | None:
    """Walk the markers from the first one to the start of scan; ``None`` at anything PIL might refuse."""
    pos, end, size = 2, len(b), None
    while True:
        if pos + 4 > end:
            raise _NeedMore
        marker = b[pos + 1]
        if b[pos] != 0xFF or not (marker in _SOF or marker in _PLAIN or 0xE0 <= marker <= 0xEF):
            return None  # junk, fill bytes, SOI/RST/EOI/DHP/...: PIL walks those differently
        n = (b[pos + 2] << 8) | b[pos + 3]  # segment length, its own two bytes included
        if n < 2:
            return None  # PIL reads a negative length as an empty segment
        if pos + 2 + n > end:
            raise _NeedMore
        seg = b[pos + 4 : pos + 2 + n]
        if marker in _SOF:
            # PIL: 8-bit samples and 1, 3 or 4 components only; the last frame header wins
            if len(seg) < 6 or seg[0] != 8 or seg[5] not in (1, 3, 4):
                return None
            size = ((seg[3] << 8) | seg[4], (seg[1] << 8) | seg[2])
        elif marker == _DQT:
            if not _dqt_ok(seg):
                return None
        elif marker == _SOS:
            return size  # PIL stops here (it has read the scan header)
        elif 0xE0 <= marker <= 0xEF and not _app_ok(marker, seg):
            return None
        pos += 2 + n


def _dqt_ok(seg: bytes) -> bool:
    """PIL's DQT check: every table is complete (65 bytes, or 129 for 16-bit tables)."""
    i = 0
    while i < len(seg):
        i += 1 + (64 if seg[i] < 16 else 128)
    return i == len(seg)


def _app_ok(marker: int, seg: bytes) -> bool:
    """APPn segments PIL stores without further parsing, or parses in a way that cannot fail here."""
    if marker == 0xE0 and seg.startswith(b"JFIF"):
        return len(seg) >= 7  # PIL reads the version at bytes 5-6 unguarded
    if marker == 0xE1 and seg.startswith(b"Exif\0\0"):
        return False  # PIL parses EXIF for the DPI: leave it to PIL
    if marker == 0xE2 and seg.startswith(b"ICC_PROFILE\0"):
        return len(seg) >= 14  # PIL reads the chunk count at byte 13
    if marker == 0xE2 and seg.startswith(b"MPF\0"):
        return False  # a multi-picture file: PIL opens it as MPO
    if marker == 0xED and seg.startswith(b"Photoshop 3.0\x00"):
        return False  # PIL parses the resource blocks
    if marker == 0xEE and seg.startswith(b"Adobe"):
        return len(seg) >= 7  # PIL reads the version at bytes 5-6 unguarded
    return True


def _png_size(b: bytes) -> tuple[int, int] | None:
    """IHDR (13 bytes, checksum right, a bit depth/colour type PIL knows) followed by IDAT."""
    if len(b) < 8 + 25 + 8:
        raise _NeedMore
    length, cid = struct.unpack_from(">I4s", b, 8)
    if cid != b"IHDR" or length != 13:
        return None
    ihdr = b[16:29]
    if zlib.crc32(ihdr, zlib.crc32(cid)) != struct.unpack_from(">I", b, 29)[0]:
        return None
    width, height, depth, colour, _compression, filter_method = struct.unpack_from(">IIBBBB", ihdr)
    if (depth, colour) not in _PNG_MODES or filter_method != 0:
        return None
    if b[37:41] != b"IDAT":
        return None  # other chunks first (palette, text, gamma...): PIL checks each one
    return width, height
