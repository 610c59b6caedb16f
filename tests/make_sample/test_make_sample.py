"""The synthetic VOC sample: deterministic, two disjoint tasks, and clean input for convert."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from _readme import assert_readme_defaults

from components._shared.errors import ConfigError
from components.convert.core import ConvertConfig, convert_voc
from components.make_sample.core import ODD_CASES, TASK_CLASSES, SampleConfig, make_sample
from pipelines.cli import main


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    """It writes byte-identical files for the same seed and task."""
    cfg = SampleConfig(images=12, seed=3)
    make_sample(tmp_path / "one", cfg)
    make_sample(tmp_path / "two", cfg)
    assert tree_bytes(tmp_path / "one") == tree_bytes(tmp_path / "two")


def test_different_seed_gives_different_images(tmp_path: Path) -> None:
    """It draws different images and boxes for another seed."""
    make_sample(tmp_path / "s0", SampleConfig(images=8, seed=0))
    make_sample(tmp_path / "s1", SampleConfig(images=8, seed=1))
    a, b = tree_bytes(tmp_path / "s0"), tree_bytes(tmp_path / "s1")
    assert a.keys() == b.keys()
    assert all(a[k] != b[k] for k in a if k.startswith("JPEGImages/"))


def test_an_image_does_not_depend_on_the_sample_size(tmp_path: Path) -> None:
    """It draws image i from its own random stream, so a larger sample extends a smaller one."""
    small = tree_bytes(make_sample(tmp_path / "small", SampleConfig(images=7)).out_dir)
    large = tree_bytes(make_sample(tmp_path / "large", SampleConfig(images=10)).out_dir)
    assert all(large[k] == v for k, v in small.items() if not k.endswith((".json", ".txt")))


def test_task_a_and_b_classes_are_disjoint(tmp_path: Path) -> None:
    """It uses different classes for the pre-training task A and the target task B."""
    assert not set(TASK_CLASSES["A"]) & set(TASK_CLASSES["B"])
    for task in ("A", "B"):
        out = make_sample(tmp_path / task, SampleConfig(images=10, task=task)).out_dir
        names = {
            n.text.strip()
            for xml in (out / "Annotations").glob("*.xml")
            for n in ET.parse(xml).getroot().iterfind("object/name")
        }
        assert names == set(TASK_CLASSES[task])


def test_sample_is_a_voc_tree_with_shapes_of_20_to_70_percent(tmp_path: Path) -> None:
    """It writes Annotations/, JPEGImages/ and trainval.txt, 1-4 shapes per image, sized 20-70 % of the side."""
    result = make_sample(tmp_path / "voc", SampleConfig(images=20, imgsz=160))
    out = result.out_dir
    stems = (out / "ImageSets" / "Main" / "trainval.txt").read_text().split()
    assert len(stems) == 20 == len(list((out / "JPEGImages").iterdir()))
    for stem in stems:
        root = ET.parse(out / "Annotations" / f"{stem}.xml").getroot()
        boxes = [
            [int(o.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")]
            for o in root.iter("object")
        ]
        assert len(boxes) <= 4 and (boxes or stem == result.odd_cases["background"])
        for xmin, ymin, xmax, ymax in boxes:
            side = max(xmax - xmin + 1, ymax - ymin + 1) / 160
            assert 0.15 <= side <= 0.75


def test_sample_converts_cleanly_showing_its_odd_cases(tmp_path: Path) -> None:
    """It converts without file skips; the difficult object, clipped box and background show in the report."""
    sample = make_sample(tmp_path / "voc", SampleConfig(images=30, seed=5))
    assert set(sample.odd_cases) == set(ODD_CASES)
    result = convert_voc([sample.out_dir], tmp_path / "yolo", ConvertConfig())
    assert result.files_skipped == {}
    assert result.images == 30
    assert result.skipped == {"difficult": 1}
    assert result.clipped == 1
    assert result.background_images == 1
    assert result.classes == tuple(sorted(TASK_CLASSES["B"]))  # the padded name was stripped
    assert result.objects_in == sample.objects
    assert (result.out_dir / "images" / f"{sample.odd_cases['uppercase_extension']}.jpg").is_file()
    assert (result.out_dir / "labels" / f"{sample.odd_cases['background']}.txt").read_text() == ""


def test_fewer_images_carry_fewer_odd_cases(tmp_path: Path) -> None:
    """It puts the oddities on the first images, so a 3-image sample has the first three."""
    assert list(make_sample(tmp_path / "s", SampleConfig(images=3)).odd_cases) == list(ODD_CASES[:3])


@pytest.mark.parametrize(
    ("cfg", "match"),
    [(SampleConfig(task="C"), "task"), (SampleConfig(images=0), "images"), (SampleConfig(imgsz=16), "imgsz")],
)
def test_bad_settings_raise_config_error(tmp_path: Path, cfg: SampleConfig, match: str) -> None:
    """It names the bad setting and writes nothing."""
    with pytest.raises(ConfigError, match=match):
        make_sample(tmp_path / "out", cfg)
    assert not (tmp_path / "out").exists()


def test_readme_shows_the_defaults_of_sample_config() -> None:
    """It keeps README.md's usage line ([--images 60] ...) and SampleConfig(...) line equal to the defaults."""
    assert_readme_defaults("make_sample", SampleConfig, ["--out", "o"])


def test_cli_writes_task_a_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It runs `yolo-kfp make-sample` and prints the result JSON."""
    code = main(
        ["make-sample", "--out", str(tmp_path / "a"), "--images", "6", "--task", "A", "--imgsz", "96"]
    )
    assert code == 0
    assert '"task": "A"' in capsys.readouterr().out
    assert len(list((tmp_path / "a" / "JPEGImages").iterdir())) == 6
