"""The header-only size reader agrees with PIL whenever it answers, and leaves every doubtful file to PIL.

``header_size`` may answer ``None`` (PIL decides), but a size it does give must be the size PIL reports,
for files PIL opens: checked on the real samples, on generated JPEG/PNG files of many kinds, on every
truncation of their headers and on corrupted bytes.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from components.convert import imagesize
from components.convert.core import _inspect_image
from components.convert.imagesize import header_size, size_from_bytes


def pil_size(data: bytes) -> tuple[int, int] | None:
    """What the converter's PIL fallback reports: the size, or None when PIL cannot open the header."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:
        return None


def encode(fmt: str, size: tuple[int, int] = (37, 23), mode: str = "RGB", **save: object) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, 120).save(buf, format=fmt, **save)
    return buf.getvalue()


def exif_bytes() -> bytes:
    exif = Image.Exif()
    exif[0x0110] = "camera"  # Model
    return exif.tobytes()


JPEGS = {
    "baseline": encode("JPEG"),
    "grey": encode("JPEG", mode="L"),
    "cmyk": encode("JPEG", mode="CMYK"),
    "progressive": encode("JPEG", (640, 480), progressive=True),
    "optimized": encode("JPEG", (17, 300), optimize=True),
    "subsampling_444": encode("JPEG", (64, 64), subsampling=0, quality=95),
    "restart_interval": encode("JPEG", (64, 48), restart_marker_blocks=1),
    "dpi": encode("JPEG", (50, 40), dpi=(300, 300)),
    "icc": encode("JPEG", (30, 20), icc_profile=b"\0" * 600),
    "big_icc": encode("JPEG", (30, 20), icc_profile=bytes(range(256)) * 40),  # past HEAD_BYTES
    "comment": encode("JPEG", (31, 29), comment=b"made by a test"),
    "exif": encode("JPEG", (33, 21), exif=exif_bytes()),  # left to PIL
    "one_pixel": encode("JPEG", (1, 1)),
    "wide": encode("JPEG", (4000, 8)),
}
PNGS = {
    "rgb": encode("PNG"),
    "rgba": encode("PNG", mode="RGBA"),
    "grey": encode("PNG", mode="L"),
    "grey16": encode("PNG", mode="I;16"),
    "bilevel": encode("PNG", mode="1"),
    "palette": encode("PNG", mode="P"),  # PLTE before IDAT: left to PIL
    "interlaced": encode("PNG", (64, 40), optimize=False),
    "dpi": encode("PNG", dpi=(72, 72)),  # pHYs before IDAT: left to PIL
}


@pytest.mark.parametrize("name", sorted(JPEGS))
def test_generated_jpegs_match_pil(name: str) -> None:
    """It reads plain JPEGs (baseline, progressive, grey, CMYK, ICC, comments...) as PIL does."""
    data = JPEGS[name]
    got = size_from_bytes(data)
    if name == "exif":
        assert got is None  # EXIF is parsed by PIL: PIL decides
    else:
        assert got == pil_size(data) != None  # noqa: E711


@pytest.mark.parametrize("name", sorted(PNGS))
def test_generated_pngs_match_pil(name: str) -> None:
    """It reads a PNG whose IHDR is followed by IDAT, and leaves other chunk orders to PIL."""
    data = PNGS[name]
    got = size_from_bytes(data)
    if name in ("palette", "dpi"):
        assert got is None
    else:
        assert got == pil_size(data) != None  # noqa: E711


@pytest.mark.parametrize("name", sorted(JPEGS) + [f"png-{n}" for n in sorted(PNGS)])
def test_every_truncation_is_left_to_pil_or_matches_it(name: str) -> None:
    """It never answers for a header cut short in a way PIL would refuse, whatever the cut."""
    data = PNGS[name[4:]] if name.startswith("png-") else JPEGS[name]
    for cut in range(min(len(data), 1500)):
        got = size_from_bytes(data[:cut])
        if got is not None:
            assert got == pil_size(data[:cut]), cut


def test_corrupted_headers_never_disagree_with_pil() -> None:
    """It gives PIL's size or None for headers with random bytes overwritten (2,000 variants)."""
    rng = random.Random(0)
    sources = [JPEGS["baseline"], JPEGS["progressive"], JPEGS["icc"], PNGS["rgb"], PNGS["rgba"]]
    for _ in range(2000):
        data = bytearray(rng.choice(sources))
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(min(len(data), 700))] = rng.randrange(256)
        got = size_from_bytes(bytes(data))
        if got is not None:
            assert got == pil_size(bytes(data)), bytes(data[:64]).hex()


def jpeg(*segments: bytes) -> bytes:
    """SOI + the given segments + a short scan + EOI."""
    return b"\xff\xd8" + b"".join(segments) + b"\x00" * 8 + b"\xff\xd9"


def seg(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


SOF0 = seg(0xC0, bytes((8, 0, 20, 0, 30, 3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1)))  # 30 x 20, 3 components
SOS = seg(0xDA, bytes((3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0)))
DQT = seg(0xDB, bytes(65))


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("minimal", jpeg(DQT, SOF0, SOS), (30, 20)),
        ("no_frame_header", jpeg(DQT, SOS), None),
        ("12_bit", jpeg(seg(0xC0, bytes((12, 0, 20, 0, 30, 1, 1, 0x11, 0))), SOS), None),
        ("2_components", jpeg(seg(0xC0, bytes((8, 0, 20, 0, 30, 2, 1, 0x11, 0, 2, 0x11, 0))), SOS), None),
        ("zero_width", jpeg(seg(0xC0, bytes((8, 0, 20, 0, 0, 1, 1, 0x11, 0))), SOS), None),
        ("short_dqt", jpeg(seg(0xDB, bytes(40)), SOF0, SOS), None),
        ("short_jfif", jpeg(seg(0xE0, b"JFIF\0"), SOF0, SOS), None),
        ("short_adobe", jpeg(seg(0xEE, b"Adobe"), SOF0, SOS), None),
        ("short_icc", jpeg(seg(0xE2, b"ICC_PROFILE\0\1"), SOF0, SOS), None),
        ("mpf", jpeg(seg(0xE2, b"MPF\0" + bytes(30)), SOF0, SOS), None),
        ("photoshop", jpeg(seg(0xED, b"Photoshop 3.0\x008BIM"), SOF0, SOS), None),
        ("fill_bytes", b"\xff\xd8\xff" + jpeg(SOF0, SOS)[2:], None),
        ("junk_between", jpeg(SOF0, b"\x00", SOS), None),
        ("length_below_2", jpeg(b"\xff\xfe\x00\x01", SOF0, SOS), None),
        ("stray_soi", jpeg(b"\xff\xd8", SOF0, SOS), None),
        ("no_scan", jpeg(SOF0)[:-10], None),
        ("two_frames_last_wins", jpeg(seg(0xC0, bytes((8, 0, 9, 0, 9, 1, 1, 0x11, 0))), SOF0, SOS), (30, 20)),
    ],
)
def test_hand_made_jpeg_headers(name: str, data: bytes, expected: tuple[int, int] | None) -> None:
    """It answers only for headers PIL accepts with the same size, and says None for the odd ones."""
    assert size_from_bytes(data) == expected
    if expected is not None:
        assert pil_size(data) == expected


def png(ihdr: bytes, next_chunk: bytes = b"IDAT", crc: int | None = None) -> bytes:
    chunk_crc = zlib.crc32(ihdr, zlib.crc32(b"IHDR")) if crc is None else crc
    head = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", chunk_crc)
    body = zlib.compress(b"\0" * 4)
    return head + struct.pack(">I", len(body)) + next_chunk + body + b"\0\0\0\0"


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("rgb8", png(struct.pack(">IIBBBBB", 7, 5, 8, 2, 0, 0, 0)), (7, 5)),
        ("bad_crc", png(struct.pack(">IIBBBBB", 7, 5, 8, 2, 0, 0, 0), crc=1), None),
        ("bad_depth", png(struct.pack(">IIBBBBB", 7, 5, 3, 2, 0, 0, 0)), None),
        ("bad_filter", png(struct.pack(">IIBBBBB", 7, 5, 8, 2, 0, 1, 0)), None),
        ("zero_height", png(struct.pack(">IIBBBBB", 7, 0, 8, 2, 0, 0, 0)), None),
        ("short_ihdr", png(struct.pack(">IIBBBB", 7, 5, 8, 2, 0, 0)), None),
        ("text_first", png(struct.pack(">IIBBBBB", 7, 5, 8, 2, 0, 0, 0), b"tEXt"), None),
        ("huge", png(struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)), None),  # PIL's bomb check
    ],
)
def test_hand_made_png_headers(name: str, data: bytes, expected: tuple[int, int] | None) -> None:
    """It answers only for an intact IHDR PIL knows, followed by IDAT."""
    assert size_from_bytes(data) == expected
    if expected is not None:
        assert pil_size(data) == expected


def test_other_formats_and_empty_files_are_left_to_pil(tmp_path: Path) -> None:
    """It says None for BMP/WebP/GIF, garbage, empty and missing files."""
    for fmt in ("BMP", "WEBP", "GIF"):
        assert size_from_bytes(encode(fmt)) is None
    assert size_from_bytes(b"") is None and size_from_bytes(b"not an image" * 20) is None
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert header_size(empty) is None
    assert header_size(tmp_path / "missing.jpg") is None


def test_header_size_reads_past_the_first_block_only_when_needed(tmp_path: Path) -> None:
    """It reads up to MAX_HEAD_BYTES for long headers (a large ICC profile), then leaves them to PIL."""
    path = tmp_path / "icc.jpg"
    path.write_bytes(JPEGS["big_icc"])
    assert len(JPEGS["big_icc"]) > imagesize.HEAD_BYTES
    assert header_size(path) == (30, 20)
    huge = tmp_path / "huge_icc.jpg"
    huge.write_bytes(encode("JPEG", (30, 20), icc_profile=bytes(range(256)) * 600))
    assert header_size(huge) is None and pil_size(huge.read_bytes()) == (30, 20)


def test_a_lowered_pil_pixel_limit_is_respected(monkeypatch) -> None:
    """It leaves images above PIL's current MAX_IMAGE_PIXELS to PIL (which then refuses or warns)."""
    data = JPEGS["progressive"]  # 640 x 480
    assert size_from_bytes(data) == (640, 480)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert size_from_bytes(data) is None


def test_converter_size_check_is_unchanged_for_hostile_images(tmp_path: Path) -> None:
    """It keeps the converter's verdicts: empty, garbage and truncated-header files are skipped, and a JPEG
    cut inside its scan data (which the trainer drops) is skipped as truncated_image."""
    cases = {
        "empty.jpg": (b"", (None, "empty_image")),
        "garbage.jpg": (b"not an image" * 20, (None, "unreadable_image")),
        "cut_header.jpg": (JPEGS["baseline"][:100], (None, "unreadable_image")),
        "cut_data.jpg": (JPEGS["progressive"][:-200], (None, "truncated_image")),  # header intact, no EOI
        "png_as_jpg.jpg": (PNGS["rgb"], ((37, 23), None)),
        "exif.jpg": (JPEGS["exif"], ((33, 21), None)),  # through PIL
    }
    for name, (data, expected) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert _inspect_image(str(path))[:2] == expected, name


def test_real_samples_match_pil(shared_data: Path) -> None:
    """It reads every real sample image with PIL's size (skipped without ../shared/data)."""
    images = sorted(shared_data.glob("voc-*/JPEGImages/*"))
    assert images
    for path in images:
        with Image.open(path) as im:
            expected = im.size
        assert header_size(path) == expected, path
