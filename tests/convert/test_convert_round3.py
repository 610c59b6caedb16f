"""convert, hostile inputs round 3 (issue 24): class spellings, EXIF orientation, images the trainer would
drop or rewrite, classes that match nothing, duplicate-case XMLs, over-long names, a full disk."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_convert_cli import assert_one_line_error, run_cli
from voc_builder import VocTree

from components._shared.errors import ConfigError, DatasetError, StorageError
from components.convert.core import ConvertConfig, convert_voc, parse_classes

STAR = {"name": "star", "box": (11, 11, 50, 30)}


def _labels(out: Path) -> dict[str, list[str]]:
    return {p.stem: p.read_text().splitlines() for p in sorted((out / "labels").iterdir())}


def _noise_jpeg(size: tuple[int, int] = (160, 120), exif_orientation: int | None = None) -> bytes:
    """A JPEG of random pixels (so that most of its bytes are scan data), optionally with EXIF orientation."""
    pixels = np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    kwargs = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[274] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=90, **kwargs)
    return buf.getvalue()


def test_convert_normalises_a_newline_inside_a_class_name(make_voc: Callable[[str], VocTree]) -> None:
    """It turns '<name>sta\\nr  big</name>' into one single-line class ('sta r big'), counted, so classes.txt
    has one line per class and no later class is renumbered."""
    voc = make_voc("voc")
    for stem, name in (("a", "cross"), ("b", "sta\nr  big"), ("c", "zebra")):
        voc.image(f"{stem}.jpg")
        voc.annotation(stem, [{"name": name, "box": (11, 11, 50, 30)}])
    result = convert_voc([voc.root], voc.root.parent / "out", ConvertConfig())
    lines = (voc.root.parent / "out" / "classes.txt").read_text().splitlines()
    assert lines == ["cross", "sta r big", "zebra"]
    assert result.classes == ("cross", "sta r big", "zebra")
    assert result.class_spellings == {"sta r big": {"sta\nr  big": 1}}
    assert _labels(voc.root.parent / "out")["c"][0].startswith("2 ")


def test_convert_merges_class_names_that_differ_only_in_case(make_voc: Callable[[str], VocTree]) -> None:
    """It merges Star/STAR/star into one class spelled as most objects spell it, reports the other spellings
    with their object counts, and writes a box annotated under several spellings once."""
    voc = make_voc("voc")
    voc.image("a.jpg")
    voc.annotation("a", [{"name": n, "box": (11, 11, 50, 30)} for n in ("Star", "STAR", "star")])
    voc.image("b.jpg")
    voc.annotation("b", [{"name": "star", "box": (20, 10, 60, 40)}])
    result = convert_voc([voc.root], voc.root.parent / "out", ConvertConfig())
    assert result.classes == ("star",)
    assert result.class_spellings == {"star": {"STAR": 1, "Star": 1}}
    assert _labels(voc.root.parent / "out")["a"] == ["0 0.295000 0.390000 0.390000 0.380000"]
    assert result.skipped == {"duplicate_object": 2}
    assert result.objects_written == 2


def test_convert_matches_given_classes_regardless_of_case(make_voc: Callable[[str], VocTree]) -> None:
    """It maps objects named 'STAR' onto --classes star (the given spelling wins), and refuses a --classes
    list naming one class twice in different cases."""
    voc = make_voc("voc")
    voc.image("a.jpg")
    voc.annotation("a", [{"name": "STAR", "box": (11, 11, 50, 30)}])
    result = convert_voc([voc.root], voc.root.parent / "out", ConvertConfig(classes=("star",), strict=True))
    assert result.per_class == {"star": 1}
    with pytest.raises(ConfigError, match="Star.*star|star.*Star"):
        parse_classes("star,Star")


def test_convert_refuses_classes_that_match_no_object(
    make_voc: Callable[[str], VocTree], tmp_path: Path
) -> None:
    """It refuses --classes strr,crosss in one line naming the classes found, instead of exiting 0 with 0
    objects written; nothing is written."""
    voc = make_voc("voc")
    voc.image("a.jpg")
    voc.annotation("a", [STAR, {"name": "cross", "box": (5, 5, 20, 20)}])
    with pytest.raises(DatasetError, match="strr, crosss.*cross, star"):
        convert_voc([voc.root], tmp_path / "out", ConvertConfig(classes=("strr", "crosss")))
    proc = run_cli("--source", str(voc.root), "--out", str(tmp_path / "out"), "--classes", "strr,crosss")
    assert_one_line_error(proc, "strr, crosss", "classes found: cross, star")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("declared", "box"),
    [((160, 120), (21, 11, 60, 40)), ((120, 160), (81, 21, 110, 60))],
    ids=["boxes-in-stored-frame", "boxes-in-upright-frame"],
)
def test_convert_writes_exif_rotated_labels_in_the_frame_the_trainer_sees(
    make_voc: Callable[[str], VocTree], declared: tuple[int, int], box: tuple[int, int, int, int]
) -> None:
    """It writes the label of a phone photo with EXIF orientation 6 in the upright frame Ultralytics loads
    (cv2 applies the orientation): boxes drawn on the stored frame are rotated, boxes drawn on the upright
    frame (declared size swapped) are kept, and the rotation is counted."""
    pytest.importorskip("ultralytics")  # the trainer's own reader; absent from the light install
    from ultralytics.utils.patches import imread

    pixels = np.full((120, 160, 3), 40, dtype=np.uint8)
    pixels[10:40, 20:60] = (250, 20, 20)  # red block in the stored frame, VOC box (21, 11, 60, 40)
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[274] = 6
    Image.fromarray(pixels).save(buf, format="JPEG", quality=95, exif=exif.tobytes())
    voc = make_voc("voc")
    voc.image("phone.jpg", data=buf.getvalue())
    voc.annotation("phone", [{"name": "block", "box": box}], size=declared)
    out = voc.root.parent / "out"
    result = convert_voc([voc.root], out, ConvertConfig())
    seen = imread(str(out / "images" / "phone.jpg"))  # what training decodes (BGR)
    assert seen.shape[:2] == (160, 120)
    ys, xs = np.nonzero(seen[:, :, 2] > 180)
    xc, yc, w, h = (float(v) for v in _labels(out)["phone"][0].split()[1:])
    assert xc == pytest.approx((xs.min() + xs.max()) / 2 / 120, abs=0.02)
    assert yc == pytest.approx((ys.min() + ys.max()) / 2 / 160, abs=0.02)
    assert (w, h) == (pytest.approx(30 / 120, abs=0.02), pytest.approx(40 / 160, abs=0.02))
    assert result.exif_rotated == (1 if declared == (160, 120) else 0)


def test_convert_skips_images_the_trainer_would_drop(
    make_voc: Callable[[str], VocTree], tmp_path: Path
) -> None:
    """It skips and counts by reason a truncated JPEG and a 5x5 image, which Ultralytics' check_image refuses."""
    voc = make_voc("voc")
    voc.image("good.jpg")
    voc.annotation("good", [STAR])
    voc.image("cut.jpg", data=_noise_jpeg()[:-3000])
    voc.annotation("cut", [STAR], size=(160, 120))
    voc.image("tiny.png", size=(5, 5))
    voc.annotation("tiny", [{"name": "star", "box": (1, 1, 4, 4)}], size=(5, 5), filename="tiny.png")
    result = convert_voc([voc.root], tmp_path / "out", ConvertConfig())
    assert result.images == 1
    assert {Path(k).name: v for k, v in result.files_skipped.items()} == {
        "cut.xml": "truncated_image",
        "tiny.xml": "image_too_small",
    }


def test_convert_repairs_a_jpeg_without_end_marker_into_a_copy(
    make_voc: Callable[[str], VocTree], tmp_path: Path
) -> None:
    """It writes a re-encoded copy (never a link) of a JPEG with trailing bytes, so Ultralytics finds nothing
    to restore and no input changes; the repair is counted."""
    pytest.importorskip("ultralytics")  # the trainer's own reader; absent from the light install
    from ultralytics.data.utils import check_image

    voc = make_voc("voc")
    src = voc.image("tail.jpg", data=_noise_jpeg() + b"trailing garbage")
    voc.annotation("tail", [STAR], size=(160, 120))
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    result = convert_voc([voc.root], tmp_path / "out", ConvertConfig())
    copy = tmp_path / "out" / "images" / "tail.jpg"
    assert result.repaired == {"jpeg_without_end_marker": 1}
    assert os.stat(copy).st_ino != os.stat(src).st_ino
    assert copy.read_bytes().endswith(b"\xff\xd9")
    assert check_image(str(copy)) == ("", (120, 160))  # nothing for the trainer to rewrite
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before


def test_convert_skips_both_xmls_that_differ_only_in_suffix_case(
    make_voc: Callable[[str], VocTree], tmp_path: Path
) -> None:
    """It skips b.xml and b.XML (both name image b.jpg) with reason same_stem_xml instead of writing the image
    twice under two names."""
    voc = make_voc("voc")
    voc.image("a.jpg")
    voc.annotation("a", [STAR])
    voc.image("b.jpg")
    voc.annotation("b", [STAR])
    (voc.root / "Annotations" / "b.xml").rename(voc.root / "Annotations" / "b.XML")
    voc.annotation("b", [STAR])
    result = convert_voc([voc.root], tmp_path / "out", ConvertConfig())
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == ["a.jpg"]
    assert sorted(Path(k).name for k, v in result.files_skipped.items() if v == "same_stem_xml") == [
        "b.XML",
        "b.xml",
    ]


def test_convert_shortens_names_too_long_after_the_tree_prefix(
    make_voc: Callable[[str], VocTree], tmp_path: Path
) -> None:
    """It gives two trees' images with the same 251-byte stem distinct output names of at most 255 bytes
    (shortened, with a hash of the full name) instead of failing with ENAMETOOLONG."""
    stem = "x" * 251
    trees = [make_voc("first"), make_voc("second")]
    for voc in trees:
        voc.image(f"{stem}.jpg")
        voc.annotation(stem, [STAR])
    result = convert_voc([t.root for t in trees], tmp_path / "out", ConvertConfig())
    names = sorted(p.name for p in (tmp_path / "out" / "images").iterdir())
    assert len(names) == 2 and len(set(names)) == 2
    assert all(len(n.encode()) <= 255 for n in names)
    assert sorted(Path(n).stem for n in names) == sorted(_labels(tmp_path / "out"))
    assert len(result.renamed) == 2


def test_convert_reports_a_full_disk_in_one_line(
    make_voc: Callable[[str], VocTree], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It turns ENOSPC while writing into one StorageError naming the output folder, leaving no partial
    folder behind."""
    voc = make_voc("voc")
    voc.image("a.jpg")
    voc.annotation("a", [STAR])

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StorageError, match="No space left on device") as err:
        convert_voc([voc.root], tmp_path / "out", ConvertConfig(workers=0))
    monkeypatch.undo()
    assert "\n" not in str(err.value) and str(tmp_path / "out") in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["voc"]
    json.dumps(str(err.value))
