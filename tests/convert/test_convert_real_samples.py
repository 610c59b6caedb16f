"""Conversion of the real VOC samples in ../shared/data, checked against a computation made here.

The expected labels come from the standard library's parser and the Ultralytics VOC formula written
out in this file, so a mistake in the converter cannot hide in a shared helper.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from components.convert.core import ConvertConfig, ConvertResult, convert_voc


def expected_labels(tree: Path, include_difficult: bool) -> tuple[dict[str, list[str]], list[str]]:
    """Stem -> expected YOLO lines and the class list, computed independently of the converter."""
    parsed = {}
    for xml in sorted((tree / "Annotations").glob("*.xml")):
        root = ET.parse(xml).getroot()
        w = int(root.find("size").find("width").text)
        h = int(root.find("size").find("height").text)
        objs = []
        for obj in (child for child in root if child.tag == "object"):
            if obj.find("difficult").text.strip() == "1" and not include_difficult:
                continue
            box = obj.find("bndbox")
            xmin, ymin, xmax, ymax = (float(box.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax"))
            xmin, xmax = max(0.0, min(xmin, w)), max(0.0, min(xmax, w))
            ymin, ymax = max(0.0, min(ymin, h)), max(0.0, min(ymax, h))
            objs.append((obj.find("name").text.strip(), xmin, ymin, xmax, ymax, w, h))
        parsed[xml.stem] = objs
    classes = sorted({o[0] for objs in parsed.values() for o in objs})
    labels = {}
    for stem, objs in parsed.items():
        lines = []
        for name, xmin, ymin, xmax, ymax, w, h in objs:
            vals = (
                ((xmin + xmax) / 2 - 1) / w,
                ((ymin + ymax) / 2 - 1) / h,
                (xmax - xmin) / w,
                (ymax - ymin) / h,
            )
            lines.append(f"{classes.index(name)} " + " ".join(f"{min(1.0, max(0.0, v)):.6f}" for v in vals))
        labels[stem] = lines
    return labels, classes


def assert_labels_match(result: ConvertResult, expected: dict[str, list[str]], prefix: str = "") -> None:
    for stem, lines in expected.items():
        name = stem if (result.out_dir / "labels" / f"{stem}.txt").exists() else f"{prefix}__{stem}"
        got = (result.out_dir / "labels" / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        assert got == lines, f"{prefix}/{stem}"


@pytest.mark.parametrize("name", ["voc-helmet", "voc-other"])
@pytest.mark.parametrize("include_difficult", [False, True], ids=["default", "include_difficult"])
def test_real_sample_labels_match_independent_computation(
    shared_data: Path, tmp_path: Path, name: str, include_difficult: bool
) -> None:
    """It writes, for every image of a real sample, exactly the lines the VOC recipe gives."""
    tree = shared_data / name
    expected, classes = expected_labels(tree, include_difficult)
    result = convert_voc([tree], tmp_path / "out", ConvertConfig(include_difficult=include_difficult))
    assert result.classes == tuple(classes)
    assert result.files_skipped == {}
    assert result.images == len(expected) == len(list((result.out_dir / "labels").iterdir()))
    assert result.renamed == {}  # one tree: stems stay as they are
    assert_labels_match(result, expected)
    assert result.objects_in == result.objects_written + sum(result.skipped.values())
    assert result.objects_written == sum(len(v) for v in expected.values())
    for stem in expected:
        src, dst = tree / "JPEGImages" / f"{stem}.jpg", result.out_dir / "images" / f"{stem}.jpg"
        assert dst.stat().st_size == src.stat().st_size


def test_voc_other_parts_and_owner_names_are_not_objects(shared_data: Path, tmp_path: Path) -> None:
    """It reads only object/name and object/bndbox: no hand/foot parts, no owner names, 67 difficult left out."""
    tree = shared_data / "voc-other"
    default = convert_voc([tree], tmp_path / "default", ConvertConfig())
    assert default.objects_in == 285  # <object> elements only (SOURCE.md); parts would add 31
    assert default.skipped == {"difficult": 67}
    assert default.objects_written == 218
    assert len(default.classes) == 20
    assert not {"hand", "foot", "head"} & set(default.classes)
    kept = convert_voc([tree], tmp_path / "kept", ConvertConfig(include_difficult=True))
    assert kept.objects_written == 285 and kept.skipped == {}


def test_both_real_samples_together_keep_every_image(shared_data: Path, tmp_path: Path) -> None:
    """It converts both trees into one folder; stems present in both are prefixed, none overwritten."""
    trees = [shared_data / "voc-helmet", shared_data / "voc-other"]
    result = convert_voc(trees, tmp_path / "out", ConvertConfig())
    helmet, helmet_classes = expected_labels(trees[0], False)
    other, other_classes = expected_labels(trees[1], False)
    assert result.images == len(helmet) + len(other) == 250
    assert len(list((result.out_dir / "images").iterdir())) == 250
    assert result.objects_in == 656 + 285
    assert result.objects_in == result.objects_written + sum(result.skipped.values())
    classes = sorted(set(helmet_classes) | set(other_classes))
    assert result.classes == tuple(classes)
    shared_stems = set(helmet) & set(other)
    assert shared_stems and len(result.renamed) == 2 * len(shared_stems)
    for stem in shared_stems:
        assert (result.out_dir / "labels" / f"voc-helmet__{stem}.txt").is_file()
        assert (result.out_dir / "labels" / f"voc-other__{stem}.txt").is_file()
    # class ids are relative to the merged class list: remap the per-tree expectation
    for prefix, expected, own in (
        ("voc-helmet", helmet, helmet_classes),
        ("voc-other", other, other_classes),
    ):
        remapped = {
            s: [f"{classes.index(own[int(ln.split()[0])])} {ln.split(' ', 1)[1]}" for ln in lines]
            for s, lines in expected.items()
        }
        assert_labels_match(result, remapped, prefix)
