"""Untrusted archives: every escape and bomb is refused by name, and nothing is written outside --out."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from components._shared.errors import DatasetError
from components.ingest.core import IngestConfig, ingest

VOC = [("Annotations/a.xml", b"<annotation/>"), ("JPEGImages/a.jpg", b"\xff\xd8\xff")]


def _tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for m in [*VOC, *members]:
            if isinstance(m, tarfile.TarInfo):
                tf.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
    return path


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _special(name: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.devmajor, info.devminor = kind, 1, 3
    return info


def _zip(path: Path, members: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in [*VOC, *members]:
            zf.writestr(name, data)
    return path


def _zip_symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


# (archive name, builder(tmp_path) -> archive, expected message, limits)
Builder = Callable[[Path], Path]
CASES: list[tuple[str, Builder, str, dict[str, int]]] = [
    (
        "traversal.tar.gz",
        lambda t: _tar(t / "traversal.tar.gz", [("../evil.txt", b"x")]),
        r"'\.\./evil\.txt' contains '\.\.'",
        {},
    ),
    (
        "deep-traversal.tar",
        lambda t: _tar(t / "deep-traversal.tar", [("JPEGImages/../../evil.txt", b"x")], "w"),
        r"contains '\.\.'",
        {},
    ),
    (
        "absolute.tar.gz",
        lambda t: _tar(t / "absolute.tar.gz", [(str(t / "evil-abs.txt"), b"x")]),
        "has an absolute path",
        {},
    ),
    (
        "symlink-out.tar.gz",
        lambda t: _tar(
            t / "symlink-out.tar.gz", [_link("JPEGImages/evil", "../../evil.txt", tarfile.SYMTYPE)]
        ),
        "symlink to '../../evil.txt', outside the archive",
        {},
    ),
    (
        "symlink-abs.tgz",
        lambda t: _tar(t / "symlink-abs.tgz", [_link("evil", "/etc/passwd", tarfile.SYMTYPE)]),
        "symlink to '/etc/passwd', outside",
        {},
    ),
    (
        "hardlink-out.tar.gz",
        lambda t: _tar(t / "hardlink-out.tar.gz", [_link("evil", "../evil.txt", tarfile.LNKTYPE)]),
        "hard link to '../evil.txt', outside",
        {},
    ),
    (
        "hardlink-abs.tar.gz",
        lambda t: _tar(t / "hardlink-abs.tar.gz", [_link("evil", "/etc/passwd", tarfile.LNKTYPE)]),
        "hard link to '/etc/passwd', outside",
        {},
    ),
    (
        "device.tar.gz",
        lambda t: _tar(t / "device.tar.gz", [_special("dev/null", tarfile.CHRTYPE)]),
        "'dev/null' is a device file",
        {},
    ),
    (
        "blockdev.tar.gz",
        lambda t: _tar(t / "blockdev.tar.gz", [_special("sda", tarfile.BLKTYPE)]),
        "'sda' is a device file",
        {},
    ),
    (
        "fifo.tar.gz",
        lambda t: _tar(t / "fifo.tar.gz", [_special("pipe", tarfile.FIFOTYPE)]),
        "'pipe' is a FIFO",
        {},
    ),
    (
        "bomb.tar.gz",
        lambda t: _tar(t / "bomb.tar.gz", [("JPEGImages/zeros.bin", bytes(200_000))]),
        "expands beyond max_bytes=100000",
        {"max_bytes": 100_000},
    ),
    (
        "many.tar.gz",
        lambda t: _tar(t / "many.tar.gz", [(f"JPEGImages/{i}.jpg", b"x") for i in range(20)]),
        "more than max_files=10",
        {"max_files": 10},
    ),
    (
        "zip-traversal.zip",
        lambda t: _zip(t / "zip-traversal.zip", [("../evil.txt", b"x")]),
        r"contains '\.\.'",
        {},
    ),
    (
        "zip-backslash.zip",
        lambda t: _zip(t / "zip-backslash.zip", [("..\\evil.txt", b"x")]),
        r"contains '\.\.'",
        {},
    ),
    (
        "zip-absolute.zip",
        lambda t: _zip(t / "zip-absolute.zip", [("/tmp/evil-yolo-kfp.txt", b"x")]),
        "absolute path",
        {},
    ),
    (
        "zip-symlink.zip",
        lambda t: _zip(t / "zip-symlink.zip", [(_zip_symlink("evil"), b"../../evil.txt")]),
        "symlink to '../../evil.txt', outside",
        {},
    ),
    (
        "zip-bomb.zip",
        lambda t: _zip(t / "zip-bomb.zip", [("JPEGImages/zeros.bin", bytes(5_000_000))]),
        "expands beyond max_bytes=1000000",
        {"max_bytes": 1_000_000},
    ),
]


@pytest.mark.parametrize(("name", "build", "message", "limits"), CASES, ids=[c[0] for c in CASES])
def test_hostile_archive_is_refused_and_nothing_escapes(
    tmp_path: Path, name: str, build: Builder, message: str, limits: dict[str, int]
) -> None:
    """It raises DatasetError naming the archive and the member; no file appears outside --out."""
    src = tmp_path / "in"
    src.mkdir()
    archive = build(src)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(DatasetError, match=message) as info:
        ingest(str(archive), work / "sub" / "out", IngestConfig(progress=False, **limits))
    assert str(archive) in str(info.value)
    assert not (work / "sub" / "out").exists()
    leftovers = [p for p in tmp_path.rglob("*") if p != archive and p not in (src, work, work / "sub")]
    assert leftovers == [], leftovers
    assert not Path("/tmp/evil-yolo-kfp.txt").exists()


def test_zip_bomb_is_refused_before_writing_anything(tmp_path: Path) -> None:
    """It reads a zip's central directory first, so a bomb costs no disk at all."""
    archive = _zip(tmp_path / "bomb.zip", [("JPEGImages/zeros.bin", bytes(5_000_000))])
    assert archive.stat().st_size < 50_000
    with pytest.raises(DatasetError, match=r"at member 'JPEGImages/zeros\.bin'"):
        ingest(str(archive), tmp_path / "out", IngestConfig(progress=False, max_bytes=1_000_000))


def test_uncompressed_tar_bomb_is_refused_at_the_member_that_crosses_the_limit(tmp_path: Path) -> None:
    """It charges each member's declared size before writing it, so the limit is never exceeded on disk."""
    archive = _tar(
        tmp_path / "b.tar", [("JPEGImages/x.bin", bytes(15_000)), ("JPEGImages/y.bin", bytes(15_000))], "w"
    )
    with pytest.raises(DatasetError, match=r"expands beyond max_bytes=20000 \(at member 'JPEGImages/y\.bin'"):
        ingest(str(archive), tmp_path / "out", IngestConfig(progress=False, max_bytes=20_000))


def test_links_inside_the_archive_become_plain_copies(tmp_path: Path) -> None:
    """It materialises a symlink and a hard link that stay inside as regular files (no link is created)."""
    archive = _tar(
        tmp_path / "links.tar.gz",
        [
            _link("JPEGImages/b.jpg", "a.jpg", tarfile.SYMTYPE),
            _link("JPEGImages/c.jpg", "JPEGImages/a.jpg", tarfile.LNKTYPE),
        ],
    )
    out = tmp_path / "out"
    ingest(str(archive), out, IngestConfig(progress=False))
    for name in ("b.jpg", "c.jpg"):
        p = out / "JPEGImages" / name
        assert p.is_file() and not p.is_symlink() and p.read_bytes() == b"\xff\xd8\xff"


def test_corrupt_archive_is_a_dataset_error(tmp_path: Path) -> None:
    """It reports an unreadable archive in one line instead of a traceback."""
    (tmp_path / "broken.tar.gz").write_bytes(b"not a tar at all" * 10)
    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 broken")
    for name in ("broken.tar.gz", "broken.zip"):
        with pytest.raises(DatasetError, match="not a readable"):
            ingest(str(tmp_path / name), tmp_path / "out", IngestConfig(progress=False))
    assert not (tmp_path / "out").exists()


def test_macos_junk_is_skipped(tmp_path: Path) -> None:
    """It leaves __MACOSX/ and ._ AppleDouble files out of the VOC tree."""
    archive = _zip(
        tmp_path / "mac.zip",
        [
            ("__MACOSX/Annotations/._a.xml", b"junk"),
            ("Annotations/._a.xml", b"junk"),
            ("Annotations/.DS_Store", b"j"),
        ],
    )
    out = tmp_path / "out"
    result = ingest(str(archive), out, IngestConfig(progress=False))
    assert sorted(p.name for p in (out / "Annotations").iterdir()) == ["a.xml"]
    assert result.files == 2
