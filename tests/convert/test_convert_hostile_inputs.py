"""A corpus of hostile and odd VOC files: each one is skipped with the right reason or converted right.

The expected label lines are computed here from hand-clipped boxes, independently of the converter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from voc_builder import VocTree, voc_xml

from components._shared.errors import ConfigError, DatasetError
from components.convert.core import ConvertConfig, ConvertResult, convert_voc, parse_classes

CLASSES = ("helmet", "head")
HELMET = {"name": "helmet", "box": (11, 11, 50, 30)}
HEAD = {"name": "head", "box": (60, 10, 90, 45)}


def line(cls: int, box: tuple[float, float, float, float], w: int = 100, h: int = 50) -> str:
    """One YOLO line by the Ultralytics VOC formula, clamped to [0, 1], six decimals."""
    xmin, ymin, xmax, ymax = box
    vals = [((xmin + xmax) / 2 - 1) / w, ((ymin + ymax) / 2 - 1) / h, (xmax - xmin) / w, (ymax - ymin) / h]
    return f"{cls} " + " ".join(f"{min(max(v, 0.0), 1.0):.6f}" for v in vals)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<annotation><filename>laughs.jpg</filename><object><name>&lol4;</name>
<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<annotation><filename>xxe.jpg</filename><object><name>&xxe;</name>
<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object></annotation>"""


@dataclass(frozen=True)
class Case:
    """One hostile input: how to build it and what must come out."""

    stem: str
    build: Callable[[VocTree], object]
    lines: tuple[str, ...] | None = None  # expected label file (None: the file is skipped)
    reason: str | None = None  # expected file-level skip reason
    image_name: str | None = None  # expected name under images/ (default <stem>.jpg)


def _pair(stem: str, objects=(), size=(100, 50), image_size=(100, 50), ext=".jpg", filename=None):
    def build(t: VocTree) -> None:
        t.image(f"{stem}{ext}", image_size)
        t.annotation(stem, objects, size, filename=filename or f"{stem}{ext}")

    return build


def _xml_and_image(stem: str, text: str | bytes):
    def build(t: VocTree) -> None:
        t.image(f"{stem}.jpg")
        t.xml_text(stem, text)

    return build


def _two_candidates(t: VocTree) -> None:
    t.image("two_cand.jpg", (100, 50))
    t.image("two_cand.png", (200, 100))
    t.annotation("two_cand", [HELMET], size=None, filename="two_cand.png")


CASES = [
    Case("valid", _pair("valid", [HELMET]), (line(0, (11, 11, 50, 30)),)),
    Case(
        "float_coords",
        _pair("float_coords", [{"name": "helmet", "box": (10.5, 5.5, 40.25, 20)}, HEAD]),
        (line(0, (10.5, 5.5, 40.25, 20)), line(1, (60, 10, 90, 45))),
    ),
    Case(
        "malformed",
        _xml_and_image("malformed", "<annotation><object><name>x</annotation>"),
        reason="malformed_xml",
    ),
    Case(
        "truncated",
        _xml_and_image("truncated", voc_xml("truncated.jpg", [HELMET], (100, 50))[:90]),
        reason="malformed_xml",
    ),
    Case("binary_junk", _xml_and_image("binary_junk", b"\x00\xff\xfejunk"), reason="malformed_xml"),
    Case(
        "unknown_encoding",
        _xml_and_image("unknown_encoding", b'<?xml version="1.0" encoding="no-such"?><annotation/>'),
        reason="malformed_xml",
    ),
    Case("billion_laughs", _xml_and_image("billion_laughs", BILLION_LAUGHS), reason="unsafe_xml"),
    Case("external_entity", _xml_and_image("external_entity", EXTERNAL_ENTITY), reason="unsafe_xml"),
    Case(
        "not_voc",
        _xml_and_image("not_voc", "<foo><object><name>helmet</name></object></foo>"),
        reason="not_voc_xml",
    ),
    Case(
        "missing_size", _pair("missing_size", [HELMET], None, (80, 40)), (line(0, (11, 11, 50, 30), 80, 40),)
    ),
    Case("zero_size", _pair("zero_size", [HELMET], (0, 0), (80, 40)), (line(0, (11, 11, 50, 30), 80, 40),)),
    Case(
        "negative_box",
        _pair("negative_box", [{"name": "helmet", "box": (-10, -5, 30, 20)}]),
        (line(0, (0, 0, 30, 20)),),
    ),
    Case(
        "inverted_box",
        _pair("inverted_box", [{"name": "helmet", "box": (50, 10, 20, 30)}, HEAD]),
        (line(1, (60, 10, 90, 45)),),
    ),
    Case("outside_box", _pair("outside_box", [{"name": "helmet", "box": (120, 10, 150, 30)}]), ()),
    Case(
        "partly_outside",
        _pair("partly_outside", [{"name": "head", "box": (60, 10, 130, 60)}]),
        (line(1, (60, 10, 100, 50)),),
    ),
    Case(
        "non_numeric",
        _pair("non_numeric", [{"name": "helmet", "box": ("abc", 1, 10, 10)}, HEAD]),
        (line(1, (60, 10, 90, 45)),),
    ),
    Case("nan_coords", _pair("nan_coords", [{"name": "helmet", "box": ("nan", 1, 10, 10)}]), ()),
    Case("empty_box", _pair("empty_box", [{"name": "helmet", "box": (10, 10, 10, 30)}]), ()),
    Case("missing_name", _pair("missing_name", [{"box": (10, 10, 30, 30)}]), ()),
    Case(
        "unknown_class",
        _pair("unknown_class", [{"name": "dog", "box": (1, 1, 20, 20)}, HELMET]),
        (line(0, (11, 11, 50, 30)),),
    ),
    Case(
        "difficult", _pair("difficult", [{**HELMET, "difficult": True}, HEAD]), (line(1, (60, 10, 90, 45)),)
    ),
    Case(
        "whitespace_name",
        _pair("whitespace_name", [{**HELMET, "name": "\n\t helmet  "}]),
        (line(0, (11, 11, 50, 30)),),
    ),
    Case(
        "part_children",
        _pair(
            "part_children",
            [
                {
                    **HELMET,
                    "inner": "<part><name>head</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>5</xmax><ymax>5</ymax></bndbox></part>",
                }
            ],
        ),
        (line(0, (11, 11, 50, 30)),),
    ),
    Case("missing_image", lambda t: t.annotation("missing_image", [HELMET]), reason="missing_image"),
    Case(
        "zero_byte",
        lambda t: (t.image("zero_byte.jpg", data=b""), t.annotation("zero_byte", [HELMET])),
        reason="empty_image",
    ),
    Case(
        "garbage_image",
        lambda t: (
            t.image("garbage_image.jpg", data=b"not an image" * 20),
            t.annotation("garbage_image", [HELMET]),
        ),
        reason="unreadable_image",
    ),
    Case(
        "upper_ext",
        _pair("upper_ext", [HELMET], ext=".JPG"),
        (line(0, (11, 11, 50, 30)),),
        image_name="upper_ext.jpg",
    ),
    Case(
        "jpeg_ext",
        _pair("jpeg_ext", [HELMET], ext=".jpeg"),
        (line(0, (11, 11, 50, 30)),),
        image_name="jpeg_ext.jpeg",
    ),
    Case(
        "png_image",
        _pair("png_image", [HELMET], ext=".png"),
        (line(0, (11, 11, 50, 30)),),
        image_name="png_image.png",
    ),
    Case(
        "bmp_image",
        _pair("bmp_image", [HELMET], ext=".bmp"),
        (line(0, (11, 11, 50, 30)),),
        image_name="bmp_image.bmp",
    ),
    Case(
        "webp_image",
        _pair("webp_image", [HELMET], ext=".WebP"),
        (line(0, (11, 11, 50, 30)),),
        image_name="webp_image.webp",
    ),
    Case("casco ñandú 头盔", _pair("casco ñandú 头盔", [HELMET]), (line(0, (11, 11, 50, 30)),)),
    Case(
        "filename_mismatch",
        _pair("filename_mismatch", [HELMET], filename="000001.xml"),
        (line(0, (11, 11, 50, 30)),),
    ),
    Case("background", _pair("background", []), ()),
    Case("two_cand", _two_candidates, (line(0, (11, 11, 50, 30), 200, 100),), image_name="two_cand.png"),
    Case(
        "size_mismatch", _pair("size_mismatch", [HELMET], (100, 50), (120, 60)), (line(0, (11, 11, 50, 30)),)
    ),
]

EXPECTED_OBJECT_SKIPS = {
    "bad_coordinates": 2,
    "difficult": 1,
    "empty_box": 1,
    "inverted_box": 1,
    "missing_name": 1,
    "outside_image": 1,
    "unknown_class": 1,
}


@pytest.fixture(scope="module")
def corpus(make_voc_module) -> tuple[VocTree, ConvertResult]:
    tree = make_voc_module("hostile")
    for case in CASES:
        case.build(tree)
    tree.image("orphan.jpg")  # an image nobody annotated
    out = tree.root.parent / "out"
    return tree, convert_voc([tree.root], out, ConvertConfig(classes=CLASSES, workers=1))


def test_corpus_covers_at_least_20_hostile_cases() -> None:
    """It keeps the corpus at the size the issue asks for."""
    assert len(CASES) >= 20


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_each_hostile_file_is_converted_or_skipped_with_its_reason(corpus, case: Case) -> None:
    """It writes exactly the expected label lines, or skips the file with the expected reason."""
    tree, result = corpus
    label = result.out_dir / "labels" / f"{case.stem}.txt"
    xml = str(tree.root / "Annotations" / f"{case.stem}.xml")
    if case.lines is None:
        assert result.files_skipped.get(xml) == case.reason
        assert not label.exists()
        assert not list((result.out_dir / "images").glob(f"{case.stem}.*"))
    else:
        assert xml not in result.files_skipped
        assert label.read_text(encoding="utf-8").splitlines() == list(case.lines)
        image = result.out_dir / "images" / (case.image_name or f"{case.stem}.jpg")
        assert image.is_file()


def test_hostile_corpus_counts_reconcile(corpus) -> None:
    """It counts every object of a converted file as written or under exactly one skip reason."""
    _, result = corpus
    assert result.skipped == EXPECTED_OBJECT_SKIPS
    assert result.objects_in == result.objects_written + sum(result.skipped.values())
    expected_skips = Counter(c.reason for c in CASES if c.lines is None)
    assert Counter(result.files_skipped.values()) == expected_skips
    assert result.images == sum(1 for c in CASES if c.lines is not None)
    assert result.background_images == sum(1 for c in CASES if c.lines == ())
    assert result.images_without_xml == 1
    assert result.xml_files == len(CASES)


def test_hostile_corpus_report_json_matches_result(corpus) -> None:
    """It writes report.json last, with the same numbers as the returned result."""
    import json

    _, result = corpus
    report = json.loads((result.out_dir / "report.json").read_text(encoding="utf-8"))
    assert report == json.loads(json.dumps(result.to_dict()))
    for key in (
        "images",
        "objects_in",
        "objects_written",
        "skipped",
        "files_skipped",
        "classes",
        "per_class",
    ):
        assert key in report
    assert report["seconds"] >= 0 and report["files_per_second"] >= 0


def test_clipped_sizes_and_classes_are_reported(corpus) -> None:
    """It counts clipped boxes, sizes read from the image, size disagreements and the class order."""
    tree, result = corpus
    assert result.clipped == 2  # negative_box, partly_outside
    assert result.size_from_image == 3  # missing_size, zero_size, two_cand
    assert result.size_mismatch == (str(tree.root / "Annotations" / "size_mismatch.xml"),)
    assert result.classes == CLASSES
    assert (result.out_dir / "classes.txt").read_text(encoding="utf-8") == "helmet\nhead\n"
    assert sum(result.per_class.values()) == result.objects_written


def test_images_are_linked_not_reencoded(corpus) -> None:
    """It hard-links each image (same bytes, same inode on one file system)."""
    tree, result = corpus
    src = tree.root / "JPEGImages" / "upper_ext.JPG"
    dst = result.out_dir / "images" / "upper_ext.jpg"
    assert dst.read_bytes() == src.read_bytes()
    assert dst.stat().st_ino == src.stat().st_ino


def test_include_difficult_keeps_difficult_objects(make_voc) -> None:
    """It writes difficult objects only when include_difficult is set."""
    tree = make_voc("voc")
    _pair("d", [{**HELMET, "difficult": True}])(tree)
    kept = convert_voc([tree.root], tree.root.parent / "kept", ConvertConfig(include_difficult=True))
    assert kept.skipped == {} and kept.objects_written == 1 and kept.classes == ("helmet",)
    dropped = convert_voc([tree.root], tree.root.parent / "dropped", ConvertConfig())
    assert dropped.skipped == {"difficult": 1} and dropped.background_images == 1
    assert dropped.classes == ()


def test_strict_refuses_unknown_class_naming_the_file(make_voc) -> None:
    """It raises DatasetError with the XML path when strict meets a class not in the list."""
    tree = make_voc("voc")
    _pair("ok", [HELMET])(tree)
    _pair("bad", [{"name": "dog", "box": (1, 1, 20, 20)}])(tree)
    with pytest.raises(DatasetError, match=r"bad\.xml.*'dog'"):
        convert_voc([tree.root], tree.root.parent / "out", ConvertConfig(classes=CLASSES, strict=True))
    assert not (tree.root.parent / "out").exists()


def test_duplicate_stems_across_trees_do_not_overwrite(make_voc) -> None:
    """It prefixes stems found in several trees with the tree name and keeps unique stems as they are."""
    a, b = make_voc("site-a"), make_voc("site-b")
    _pair("000001", [HELMET])(a)
    _pair("000001", [HEAD])(b)
    _pair("only_b", [HEAD])(b)
    result = convert_voc([a.root, b.root], a.root.parent / "out", ConvertConfig(classes=CLASSES))
    labels = result.out_dir / "labels"
    assert sorted(p.name for p in labels.iterdir()) == [
        "only_b.txt",
        "site-a__000001.txt",
        "site-b__000001.txt",
    ]
    assert (labels / "site-a__000001.txt").read_text().split()[0] == "0"
    assert (labels / "site-b__000001.txt").read_text().split()[0] == "1"
    assert sorted(p.name for p in (result.out_dir / "images").iterdir()) == [
        "only_b.jpg",
        "site-a__000001.jpg",
        "site-b__000001.jpg",
    ]
    assert set(result.renamed.values()) == {"site-a__000001", "site-b__000001"}


def test_trees_with_the_same_folder_name_get_their_position(tmp_path: Path) -> None:
    """It tells two trees both named VOC2007 apart by their --source position."""
    a, b = VocTree(tmp_path / "x" / "VOC2007"), VocTree(tmp_path / "y" / "VOC2007")
    _pair("s", [HELMET])(a)
    _pair("s", [HELMET])(b)
    result = convert_voc([a.root, b.root], tmp_path / "out", ConvertConfig())
    assert sorted(p.stem for p in (result.out_dir / "labels").iterdir()) == ["VOC2007-1__s", "VOC2007-2__s"]


def test_nothing_usable_raises_one_line_dataset_error(make_voc) -> None:
    """It raises DatasetError naming the folder and the reasons when no file could be converted."""
    tree = make_voc("voc")
    _xml_and_image("bad", "<annotation>")(tree)
    tree.annotation("lonely", [HELMET])
    with pytest.raises(DatasetError) as info:
        convert_voc([tree.root], tree.root.parent / "out", ConvertConfig())
    msg = str(info.value)
    assert "\n" not in msg and str(tree.root) in msg
    assert "malformed_xml" in msg and "missing_image" in msg


def test_missing_folders_raise_dataset_error(tmp_path: Path) -> None:
    """It names the missing VOC folder, or the missing Annotations/ inside it."""
    with pytest.raises(DatasetError, match="not found"):
        convert_voc([tmp_path / "nope"], tmp_path / "out", ConvertConfig())
    (tmp_path / "half" / "JPEGImages").mkdir(parents=True)
    with pytest.raises(DatasetError, match="Annotations"):
        convert_voc([tmp_path / "half"], tmp_path / "out", ConvertConfig())


def test_the_same_tree_twice_is_refused(make_voc) -> None:
    """It refuses a VOC folder given twice (every stem would collide with itself)."""
    tree = make_voc("voc")
    _pair("s", [HELMET])(tree)
    with pytest.raises(ConfigError, match="more than once"):
        convert_voc([tree.root, tree.root / "."], tree.root.parent / "out", ConvertConfig())


def test_worker_count_does_not_change_the_output(make_voc, monkeypatch) -> None:
    """It writes the same labels and report counts in-process and with a process pool."""
    import components.convert.core as core

    tree = make_voc("voc")
    for i in range(12):
        _pair(f"img{i:02d}", [HELMET, HEAD] if i % 3 else [{**HELMET, "difficult": True}])(tree)
    serial = convert_voc([tree.root], tree.root.parent / "serial", ConvertConfig(workers=1))
    monkeypatch.setattr(core, "_PROCESS_POOL_MIN_FILES", 2)
    pooled = convert_voc([tree.root], tree.root.parent / "pooled", ConvertConfig(workers=2))
    for p in (serial.out_dir / "labels").iterdir():
        assert (pooled.out_dir / "labels" / p.name).read_bytes() == p.read_bytes()
    strip = {"out_dir", "seconds", "files_per_second"}
    assert {k: v for k, v in serial.to_dict().items() if k not in strip} == {
        k: v for k, v in pooled.to_dict().items() if k not in strip
    }


def test_parse_classes_reads_a_list_or_a_file(tmp_path: Path) -> None:
    """It accepts a,b,c or a file with one name per line, and refuses empty or repeated names."""
    assert parse_classes(" helmet, head ,") == ("helmet", "head")
    f = tmp_path / "classes.txt"
    f.write_text("# order matters\nhelmet\n\n head \n", encoding="utf-8")
    assert parse_classes(str(f)) == ("helmet", "head")
    with pytest.raises(ConfigError, match="more than once"):
        parse_classes("a,b,a")
    with pytest.raises(ConfigError, match="no class names"):
        parse_classes(" , ")


def test_strict_ignores_nameless_objects(make_voc) -> None:
    """It skips a nameless object as missing_name under strict instead of calling it an unknown class."""
    tree = make_voc("voc")
    _pair("nameless", [{"box": (1, 1, 20, 20)}, HELMET])(tree)
    result = convert_voc([tree.root], tree.root.parent / "out", ConvertConfig(classes=CLASSES, strict=True))
    assert result.skipped == {"missing_name": 1} and result.objects_written == 1


def test_markdown_report_lists_counts_and_skipped_files(corpus) -> None:
    """It writes report.md (the KFP UI's view) with the totals, skip reasons and skipped files."""
    _, result = corpus
    md = (result.out_dir / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# convert report")
    assert f"| objects in / written | {result.objects_in} / {result.objects_written} |" in md
    assert "| difficult | 1 |" in md and "| billion_laughs.xml | unsafe_xml |" in md
