"""The converter's fast paths give the results of the slow ones they replace.

* XML without ``<!`` and without zero bytes goes to the C ElementTree parser instead of defusedxml: the
  trees (or the refusal) must be the same, and a DTD in any encoding must still reach defusedxml.
* Listings use ``os.scandir`` and string paths instead of ``Path.iterdir``/``is_file``/``stem``.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath

import defusedxml.ElementTree as SafeET
import pytest
from test_convert_hostile_inputs import BILLION_LAUGHS, EXTERNAL_ENTITY, HELMET, line
from voc_builder import VocTree, voc_xml

from components.convert.core import ConvertConfig, _parse_xml, _split_name, convert_voc

PLAIN = voc_xml("a.jpg", [HELMET], (100, 50))
NO_DTD_DOCS = {
    "plain": PLAIN.encode(),
    "declaration": b'<?xml version="1.0" encoding="utf-8"?>' + PLAIN.encode(),
    "bom": b"\xef\xbb\xbf" + PLAIN.encode(),
    "latin1": '<?xml version="1.0" encoding="iso-8859-1"?><annotation><name>ca\xf1a</name></annotation>'.encode(
        "latin-1"
    ),
    "cp1252": '<?xml version="1.0" encoding="cp1252"?><annotation><name>\u20ac</name></annotation>'.encode(
        "cp1252"
    ),
    "unknown_encoding": b'<?xml version="1.0" encoding="no-such"?><annotation/>',
    "bad_utf8": b"<annotation><name>\xff\xfe</name></annotation>",
    "undefined_entity": b"<annotation><name>&xxe;</name></annotation>",
    "predefined_entities": b"<annotation><name>a&amp;b&lt;&#x41;&#66;</name></annotation>",
    "namespace": b'<a:annotation xmlns:a="urn:x"><a:object/></a:annotation>',
    "processing_instruction": b"<?pi data?><annotation><?pi2?></annotation>",
    "truncated": PLAIN.encode()[:90],
    "two_roots": b"<annotation/><annotation/>",
    "empty": b"",
    "whitespace": b"   \n",
    "text_only": b"hello",
    "bad_char_ref": b"<annotation>&#0;</annotation>",
    "attributes": b'<annotation a="1" b=\'2\'><object c="&quot;"/></annotation>',
    "deep": b"<annotation>" + b"<x>" * 200 + b"</x>" * 200 + b"</annotation>",
}


def outcome(parse, data: bytes) -> str:
    try:
        return ET.tostring(parse(data), encoding="unicode")
    except (ET.ParseError, ValueError, LookupError) as e:
        return f"refused: {type(e).__name__}"


@pytest.mark.parametrize("name", sorted(NO_DTD_DOCS))
def test_c_parser_and_defusedxml_agree_on_documents_without_a_dtd(name: str) -> None:
    """It builds the same tree as defusedxml, or refuses the same documents, for DTD-free bytes."""
    data = NO_DTD_DOCS[name]
    assert b"<!" not in data and b"\x00" not in data
    assert outcome(_parse_xml, data) == outcome(SafeET.fromstring, data)


@pytest.mark.parametrize(
    "data",
    [
        BILLION_LAUGHS.encode(),
        EXTERNAL_ENTITY.encode(),
        BILLION_LAUGHS.encode("utf-16"),
        EXTERNAL_ENTITY.encode("utf-16-le"),
        EXTERNAL_ENTITY.encode("utf-16-be"),
        EXTERNAL_ENTITY.replace('"1.0"', '"1.0" encoding="iso-8859-1"').encode("latin-1"),
    ],
    ids=["laughs", "xxe", "laughs_utf16", "xxe_utf16le", "xxe_utf16be", "xxe_latin1"],
)
def test_dtds_in_any_encoding_still_reach_defusedxml(data: bytes) -> None:
    """It hands every document that could hold a DTD to defusedxml, which refuses the entities."""
    import defusedxml

    with pytest.raises((defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden)):
        _parse_xml(data)


@pytest.mark.parametrize("encoding", ["cp037", "cp500", "utf-7", "utf-32", "shift_jis", "iso-2022-jp", "hz"])
def test_entities_hidden_by_an_odd_encoding_are_never_expanded(encoding: str) -> None:
    """It never expands an entity declared in an encoding that hides ``<!`` from the byte check."""
    import defusedxml

    body = '<!DOCTYPE a [<!ENTITY x "boom">]><a>&x;</a>'
    data = f'<?xml version="1.0" encoding="{encoding}"?>'.encode("ascii") + body.encode(encoding)
    with pytest.raises((ET.ParseError, ValueError, defusedxml.EntitiesForbidden)):
        _parse_xml(data)


def test_utf16_and_commented_annotations_convert_and_utf16_bombs_are_refused(make_voc) -> None:
    """It converts UTF-16 and commented/DOCTYPE'd XML (through defusedxml) and refuses UTF-16 bombs."""
    tree: VocTree = make_voc("voc")
    for stem, text in {
        "utf16": voc_xml("utf16.jpg", [HELMET], (100, 50)).encode("utf-16"),
        "comment": voc_xml("comment.jpg", [HELMET], (100, 50)).replace("<owner>", "<!-- c --><owner>"),
        "doctype": "<!DOCTYPE annotation>" + voc_xml("doctype.jpg", [HELMET], (100, 50)),
        "laughs16": BILLION_LAUGHS.encode("utf-16"),
        "xxe16": EXTERNAL_ENTITY.encode("utf-16"),
    }.items():
        tree.image(f"{stem}.jpg")
        tree.xml_text(stem, text)
    result = convert_voc([tree.root], tree.root.parent / "out", ConvertConfig(classes=("helmet",)))
    ann = tree.root / "Annotations"
    assert result.files_skipped == {
        str(ann / "laughs16.xml"): "unsafe_xml",
        str(ann / "xxe16.xml"): "unsafe_xml",
    }
    for stem in ("utf16", "comment", "doctype"):
        assert (result.out_dir / "labels" / f"{stem}.txt").read_text() == line(0, (11, 11, 50, 30)) + "\n"


@pytest.mark.parametrize(
    "name", ["a.xml", "a.b.xml", ".xml", "..xml", "a.", "a..", ".hidden.jpg", "noext", "a.JPG", "x.tar.gz"]
)
def test_split_name_matches_pathlib(name: str) -> None:
    """It splits a file name into stem and suffix exactly as pathlib does."""
    p = PurePosixPath(name)
    assert _split_name(name) == (p.stem, p.suffix)


def test_links_in_the_tree_are_followed_like_path_is_file(make_voc) -> None:
    """It uses linked images, ignores dangling links and link loops, and counts nothing twice."""
    tree: VocTree = make_voc("voc")
    real = tree.image("real.jpg")
    tree.annotation("real", [HELMET])
    os.symlink(real, tree.root / "JPEGImages" / "linked.jpg")
    tree.annotation("linked", [HELMET])
    os.symlink(tree.root / "nowhere.jpg", tree.root / "JPEGImages" / "dangling.jpg")
    tree.annotation("dangling", [HELMET])
    loop = tree.root / "JPEGImages" / "loop.jpg"
    os.symlink(loop, loop)
    tree.annotation("loop", [HELMET])
    os.symlink(tree.root / "Annotations" / "real.xml", tree.root / "Annotations" / "alias.xml")
    tree.image("alias.jpg")
    result = convert_voc([tree.root], tree.root.parent / "out", ConvertConfig())
    ann = tree.root / "Annotations"
    assert result.files_skipped == {
        str(ann / "dangling.xml"): "missing_image",
        str(ann / "loop.xml"): "missing_image",
    }
    assert sorted(p.name for p in (result.out_dir / "labels").iterdir()) == [
        "alias.txt",
        "linked.txt",
        "real.txt",
    ]
    assert result.images_without_xml == 0


def test_pooled_run_with_skips_and_many_chunks_matches_in_process(make_voc, monkeypatch) -> None:
    """It gives the same files and report with the pool (many small chunks) as in-process."""
    import components.convert.core as core

    tree: VocTree = make_voc("voc")
    for i in range(60):
        stem = f"img{i:02d}"
        if i % 7 == 0:
            tree.image(f"{stem}.jpg", data=b"garbage" * 10)
        else:
            tree.image(f"{stem}.png" if i % 5 == 0 else f"{stem}.jpg", (100 + i, 50))
        tree.annotation(stem, [HELMET] if i % 3 else [], size=None if i % 4 == 0 else (100, 50))
    serial = convert_voc([tree.root], tree.root.parent / "serial", ConvertConfig(workers=1))
    monkeypatch.setattr(core, "_PROCESS_POOL_MIN_FILES", 2)
    monkeypatch.setattr(core, "_CHUNK_MAX", 3)
    pooled = convert_voc([tree.root], tree.root.parent / "pooled", ConvertConfig(workers=2))
    for sub in ("labels", "images"):
        names = sorted(p.name for p in (serial.out_dir / sub).iterdir())
        assert names == sorted(p.name for p in (pooled.out_dir / sub).iterdir())
        for n in names:
            assert (serial.out_dir / sub / n).read_bytes() == (pooled.out_dir / sub / n).read_bytes()
    strip = {"out_dir", "seconds", "files_per_second"}
    assert {k: v for k, v in serial.to_dict().items() if k not in strip} == {
        k: v for k, v in pooled.to_dict().items() if k not in strip
    }
    assert len(serial.files_skipped) == 9 and serial.size_from_image > 0


def test_label_files_get_the_umask_permissions(make_voc) -> None:
    """It creates label files as open() would (0o666 minus the umask)."""
    tree: VocTree = make_voc("voc")
    tree.image("a.jpg")
    tree.annotation("a", [HELMET])
    old = os.umask(0o027)
    try:
        result = convert_voc([tree.root], tree.root.parent / "out", ConvertConfig())
    finally:
        os.umask(old)
    assert (result.out_dir / "labels" / "a.txt").stat().st_mode & 0o777 == 0o640


def test_paths_in_the_report_are_as_given(tmp_path: Path, monkeypatch) -> None:
    """It reports XML paths as str(voc / "Annotations" / name), also for a relative --source."""
    tree = VocTree(tmp_path / "rel" / "voc")
    tree.image("a.jpg", data=b"")
    tree.annotation("a", [HELMET])
    tree.image("b.jpg")
    tree.annotation("b", [HELMET])
    monkeypatch.chdir(tmp_path)
    result = convert_voc([Path("rel/voc/")], tmp_path / "out", ConvertConfig())
    assert result.files_skipped == {str(Path("rel/voc") / "Annotations" / "a.xml"): "empty_image"}


def _object_before(obj: ET.Element, width: int, height: int) -> tuple:
    """The object parser as it was before the fast path (ElementPath, min/max), as the reference."""
    import math

    name = (obj.findtext("name") or "").strip()
    difficult = (obj.findtext("difficult") or "0").strip().lower() in ("1", "true", "yes")
    try:
        xmin, ymin, xmax, ymax = (
            float((obj.findtext(f"bndbox/{k}") or "").strip()) for k in ("xmin", "ymin", "xmax", "ymax")
        )
    except ValueError:
        return name, difficult, None, "bad_coordinates", False
    if not all(math.isfinite(v) for v in (xmin, ymin, xmax, ymax)):
        return name, difficult, None, "bad_coordinates", False
    if xmin > xmax or ymin > ymax:
        return name, difficult, None, "inverted_box", False
    if xmin == xmax or ymin == ymax:
        return name, difficult, None, "empty_box", False
    box = (min(max(xmin, 0.0), width), min(max(ymin, 0.0), height))
    box += (min(max(xmax, 0.0), width), min(max(ymax, 0.0), height))
    if box[2] <= box[0] or box[3] <= box[1]:
        return name, difficult, None, "outside_image", False
    x0, y0, x1, y1 = box
    unit = lambda v: min(max(v, 0.0), 1.0)  # noqa: E731
    xc, yc = unit(((x0 + x1) / 2 - 1) / width), unit(((y0 + y1) / 2 - 1) / height)
    w, h = unit((x1 - x0) / width), unit((y1 - y0) / height)
    if round(w, 6) == 0 or round(h, 6) == 0:
        return name, difficult, None, "empty_box", False
    coords = " ".join(f"{v:.6f}" for v in (xc, yc, w, h))
    return name, difficult, coords, None, box != (xmin, ymin, xmax, ymax)


def test_object_parser_matches_the_min_max_formula_on_random_boxes() -> None:
    """It gives the same result as the plain min/max formula for 20,000 random and edge-case objects."""
    import random

    from components.convert.core import _parse_object

    rng = random.Random(1)
    edge = ["0", "-0", "-0.0", "1", "0.5", "-1", "100", "100.0", "99.9999999", "1e-9", "-1e-9", "1e400"]
    edge += ["nan", "inf", "", " 7 ", "abc", "1_0", "\u0667", "3.", ".5", "+4", "50", "50.0000004"]

    def value() -> str:
        r = rng.random()
        if r < 0.3:
            return rng.choice(edge)
        if r < 0.6:
            return str(rng.randint(-20, 140))
        return repr(rng.uniform(-20, 140))

    for i in range(20_000):
        coords = "".join(
            f"<{k}>{value()}</{k}>" for k in ("xmin", "ymin", "xmax", "ymax") if rng.random() > 0.02
        )
        extra = (
            "<bndbox><xmin>3</xmin><ymin>4</ymin><xmax>9</xmax><ymax>8</ymax></bndbox>" if i % 50 == 0 else ""
        )
        text = f"<object><name> c{i % 3} </name><difficult>{rng.choice('01')}</difficult><bndbox>{coords}</bndbox>{extra}</object>"
        obj = ET.fromstring(text)
        width, height = rng.choice([(100, 50), (1, 1), (640, 480), (37, 101)])
        assert _parse_object(obj, width, height) == _object_before(obj, width, height), text
