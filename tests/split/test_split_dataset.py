"""``split_dataset`` on files: the self-contained output folder, config errors, the CLI, the real samples."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from _readme import assert_readme_defaults

from components._shared.dataset import (
    label_path,
    load_dataset,
    parse_label_line,
    read_label_file,
    resolve_dataset_yaml,
)
from components._shared.errors import ConfigError, DatasetError
from components.split.core import SplitConfig, SplitItem, assign_splits, split_dataset
from pipelines.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_split_writes_a_self_contained_dataset_folder(converted: Path, tmp_path: Path) -> None:
    """It writes dataset.yaml (path: .), sorted ./images/ lists, hard links, classes.txt and split.json."""
    out = tmp_path / "dataset"
    result = split_dataset(converted, out, SplitConfig(val=0.2, test=0.1, seed=3))

    spec = yaml.safe_load((out / "dataset.yaml").read_text(encoding="utf-8"))
    assert spec == {"path": ".", "train": "train.txt", "val": "val.txt", "test": "test.txt", "nc": 3,
                    "names": {0: "a", 1: "b", 2: "c"}}  # fmt: skip
    lists = {s: (out / f"{s}.txt").read_text(encoding="utf-8").splitlines() for s in ("train", "val", "test")}
    for lines in lists.values():
        assert lines == sorted(lines) and all(ln.startswith("./images/") for ln in lines)
    assert sum(map(len, lists.values())) == 40 == result.images
    assert result.counts == {s: len(v) for s, v in lists.items()}
    src, dst = converted / "images" / "img_000.png", out / "images" / "img_000.png"
    assert os.stat(src).st_ino == os.stat(dst).st_ino
    assert (out / "labels" / "img_000.txt").read_text() == (converted / "labels" / "img_000.txt").read_text()
    assert (out / "classes.txt").read_text(encoding="utf-8") == "a\nb\nc\n"

    report = json.loads((out / "split.json").read_text(encoding="utf-8"))
    assert report["seed"] == 3 and report["config"]["test"] == 0.1
    assert report["images"] == result.counts
    assert sum(report["background"].values()) == 12
    assert {s: c["images"] > 0 for s, c in report["classes"]["b"].items()} == {
        "train": True,
        "val": True,
        "test": True,
    }
    assert report["classes"]["c"]["train"]["images"] == report["classes"]["c"]["val"]["images"] == 1
    assert report["uncovered"] == [] and result.uncovered == ()


def test_split_output_is_read_by_load_dataset(converted: Path, tmp_path: Path) -> None:
    """It produces a folder that the shared ``load_dataset`` reads back, labels next to images."""
    split_dataset(converted, tmp_path / "ds", SplitConfig())
    spec = load_dataset(tmp_path / "ds" / "dataset.yaml")
    assert spec.names == ("a", "b", "c") and set(spec.splits) == {"train", "val", "test"}
    images = spec.images("train") + spec.images("val") + spec.images("test")
    assert len(images) == 40 and all(p.is_file() and label_path(p).is_file() for p in images)


def test_ultralytics_accepts_the_split_dataset(converted: Path, tmp_path: Path) -> None:
    """It writes a dataset that Ultralytics' own checker accepts (offline)."""
    pytest.importorskip("ultralytics")
    from ultralytics.data.utils import check_det_dataset, img2label_paths

    split_dataset(converted, tmp_path / "ds", SplitConfig(test=0.1))
    data = check_det_dataset(str(resolve_dataset_yaml(tmp_path / "ds" / "dataset.yaml", tmp_path)))
    assert data["nc"] == 3 and data["names"] == {0: "a", 1: "b", 2: "c"}
    image = load_dataset(tmp_path / "ds").images("val")[0]
    assert Path(img2label_paths([str(image)])[0]) == label_path(image)


def test_split_is_identical_across_hash_seeds(tmp_path: Path) -> None:
    """It gives the same split under different PYTHONHASHSEED values (no set/dict-order dependence)."""
    code = (
        "import json; from components.split.core import SplitConfig, SplitItem, assign_splits;"
        "items=[SplitItem(f'g{i%7}_{i}.jpg', (i%5, (i*7)%3)) for i in range(200)];"
        "print(json.dumps(assign_splits(items, SplitConfig(test=0.1, seed=5, group=r'^(g\\d)_'))))"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True, text=True, check=True,
        ).stdout
        for seed in ("1", "2")
    }  # fmt: skip
    assert len(outputs) == 1


def test_split_honours_the_ratios_and_spreads_background_images() -> None:
    """It keeps each split's share of images and of background images near the requested ratio."""
    items = [SplitItem(f"{i:04d}.jpg", (i % 4, (i * 3) % 7) if i % 3 else ()) for i in range(1500)]
    splits = assign_splits(items, SplitConfig(val=0.2, test=0.1, seed=0))
    background = {i.name for i in items if not i.classes}
    for split, ratio in (("train", 0.7), ("val", 0.2), ("test", 0.1)):
        assert abs(len(splits[split]) / 1500 - ratio) < 0.01
        assert abs(len(background & set(splits[split])) / len(background) - ratio) < 0.02


def test_group_regex_keeps_near_duplicates_together(tmp_path: Path, make_converted) -> None:
    """It keeps the frames of one video (shared regex group) in one split; unmatched stems stand alone."""
    labels = {f"cam{v}_frame{f}": [v % 2] for v in range(10) for f in range(4)} | {"other": [0], "more": [1]}
    data = make_converted(tmp_path / "conv", labels, names=("a", "b"))
    result = split_dataset(data, tmp_path / "ds", SplitConfig(group=r"^(cam\d+)_frame"))
    assert result.groups == 12
    spec = load_dataset(tmp_path / "ds")
    for v in range(10):
        holding = {s for s in spec.splits if any(p.stem.startswith(f"cam{v}_") for p in spec.images(s))}
        assert len(holding) == 1


def test_missing_label_files_are_background_images(tmp_path: Path, make_converted) -> None:
    """It treats an image without a label file as background and writes an empty label for it."""
    data = make_converted(tmp_path / "conv", {"x": [0], "y": [0], "z": []}, label_files=False)
    split_dataset(data, tmp_path / "ds", SplitConfig())
    assert (tmp_path / "ds" / "labels" / "z.txt").read_text() == ""


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        (SplitConfig(val=0.0), "val=0.0 must be in"),
        (SplitConfig(val=0.6, test=0.4), "val \\+ test = 1"),
        (SplitConfig(test=-0.1), "test=-0.1"),
        (SplitConfig(group="(unclosed"), "does not compile"),
        (SplitConfig(group="^cam"), "no capture group"),
    ],
)
def test_invalid_config_is_refused_with_the_value_and_the_fix(
    converted: Path, tmp_path: Path, cfg: SplitConfig, message: str
) -> None:
    """It raises ConfigError naming the bad value before writing anything."""
    with pytest.raises(ConfigError, match=message):
        split_dataset(converted, tmp_path / "ds", cfg)
    assert not (tmp_path / "ds").exists()


def test_unusable_input_is_refused_with_the_file_named(tmp_path: Path, make_converted) -> None:
    """It raises DatasetError for a non-convert folder, one image, or an out-of-range class id."""
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="images: not found"):
        split_dataset(tmp_path / "empty", tmp_path / "ds", SplitConfig())
    one = make_converted(tmp_path / "one", {"x": [0]})
    with pytest.raises(DatasetError, match="at least 2"):
        split_dataset(one, tmp_path / "ds", SplitConfig())
    bad = make_converted(tmp_path / "bad", {"x": [0], "y": [5]})
    with pytest.raises(DatasetError, match=r"y\.txt: line 1: class id '5'"):
        split_dataset(bad, tmp_path / "ds", SplitConfig())
    two = make_converted(tmp_path / "two", {"x1": [0], "x2": [0]})
    with pytest.raises(DatasetError, match="1 groups cannot fill 2 splits"):
        split_dataset(two, tmp_path / "ds", SplitConfig(test=0.1, group=r"^(x)"))
    coords = make_converted(tmp_path / "coords", {"x": [0], "y": [0]})
    (coords / "labels" / "y.txt").write_text("0 0.5 0.5 0.1 0.1\n0 0.5 wide 0.1 0.1\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"y\.txt: line 2: values '0.5 wide 0.1 0.1' are not all numbers"):
        split_dataset(coords, tmp_path / "ds", SplitConfig())


def test_label_lines_are_read_as_ultralytics_reads_them(tmp_path: Path) -> None:
    """It reads a box, a polygon as its bounding box and a blank line as nothing, names why any other
    line is no box, and finds a label file by the last /images/ of the image's path."""
    assert parse_label_line("2 0.5 0.25 0.1 0.2", 3) == (2, 0.5, 0.25, 0.1, 0.2)
    assert parse_label_line("1 0.1 0.2 0.5 0.2 0.3 0.6", 3) == pytest.approx((1, 0.3, 0.4, 0.4, 0.4))
    assert parse_label_line("  \t", 3) is None
    for line, why in [("3 0.5 0.5 0.1 0.1", "class id '3' is not an integer in [0, 3)"),
                      ("a 0.5 0.5 0.1 0.1", "class id 'a'"), ("0 0.5 0.5 0.1", "3 values after the class id"),
                      ("0 0.5 0.5 0.1 x", "values '0.5 0.5 0.1 x' are not all numbers")]:  # fmt: skip
        with pytest.raises(ValueError, match=re.escape(why)):
            parse_label_line(line, 3)
    label = tmp_path / "a.txt"
    label.write_text("0 0.5 0.5 0.1 0.1\n\n7 0.5 0.5 0.1 0.1\n", encoding="utf-8")
    assert read_label_file(label, 3) == (
        [(0, 0.5, 0.5, 0.1, 0.1)],
        ["line 3: class id '7' is not an integer in [0, 3)"],
    )
    assert read_label_file(tmp_path / "missing.txt", 3) is None
    assert label_path("/d/images/x/images/a.b.jpg") == Path("/d/images/x/labels/a.b.txt")
    assert label_path(Path("/d/img/a.png")) == Path("/d/img/a.txt")


def test_readme_shows_the_defaults_of_split_config() -> None:
    """It keeps README.md's usage line ([--val 0.15] ...) and SplitConfig(...) line equal to the defaults."""
    assert_readme_defaults("split", SplitConfig, ["--converted", "c", "--out", "o"])


def test_output_folder_may_not_replace_the_input(converted: Path) -> None:
    """It refuses an --out that is the input folder, one of its parents or a folder inside it."""
    for out in (converted, converted.parent, converted / "ds"):
        with pytest.raises(ConfigError, match="the input"):
            split_dataset(converted, out, SplitConfig())
    assert (converted / "classes.txt").is_file() and not (converted / "ds").exists()


def test_output_folder_with_foreign_files_needs_overwrite(converted: Path, tmp_path: Path) -> None:
    """It refuses an --out holding files it did not write, replaces its own output, and obeys --overwrite."""
    out = tmp_path / "ds"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"holds 1 file\(s\) this stage did not write \(e.g. notes.txt\)"):
        split_dataset(converted, out, SplitConfig())
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    split_dataset(converted, out, SplitConfig(overwrite=True))
    split_dataset(converted, out, SplitConfig(seed=1))  # its own earlier output: replaced without a flag
    assert (out / "dataset.yaml").is_file() and not (out / "notes.txt").exists()


def test_tiny_datasets_get_no_test_split_and_say_why(make_converted, tmp_path: Path) -> None:
    """It writes no test list below MIN_GROUPS_FOR_TEST images and records why in split.json."""
    from components.split.core import MIN_GROUPS_FOR_TEST

    small = make_converted(tmp_path / "small", {f"i{k}": [k % 2] for k in range(MIN_GROUPS_FOR_TEST - 1)})
    result = split_dataset(small, tmp_path / "ds", SplitConfig())
    report = json.loads((tmp_path / "ds" / "split.json").read_text(encoding="utf-8"))
    assert "test" not in result.counts and not (tmp_path / "ds" / "test.txt").exists()
    assert "no test split; the gate judges on val" in report["test_dropped"]
    big = make_converted(tmp_path / "big", {f"i{k}": [k % 2] for k in range(MIN_GROUPS_FOR_TEST)})
    assert split_dataset(big, tmp_path / "ds2", SplitConfig()).counts["test"] >= 2


def test_cli_splits_and_prints_json(
    converted: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It runs ``yolo-kfp split`` with flags, prints the result JSON, and exits 2 with one line on bad input."""
    args = [
        "split",
        "--converted",
        str(converted),
        "--out",
        str(tmp_path / "ds"),
        "--val",
        "0.25",
        "--seed",
        "4",
    ]
    assert main(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["images"] == 40 and printed["counts"]["val"] >= 9
    assert (
        main(["split", "--converted", str(converted), "--out", str(tmp_path / "x"), "--group", "nogroup"])
        == 2
    )
    err = capsys.readouterr().err
    assert (
        err.startswith("yolo-kfp split: error: group regex 'nogroup' has no capture group")
        and err.count("\n") == 1
    )


def _voc_to_yolo(voc: Path, out: Path) -> Path:
    """A minimal VOC -> YOLO conversion for the test (not the convert stage: only classes matter here)."""
    (out / "images").mkdir(parents=True)
    (out / "labels").mkdir()
    records = {}
    for xml in sorted((voc / "Annotations").glob("*.xml")):
        names = [o.findtext("name", "").strip() for o in ET.parse(xml).getroot().iter("object")]
        images = list((voc / "JPEGImages").glob(xml.stem + ".*"))
        if images:
            records[images[0]] = names
    classes = sorted({n for names in records.values() for n in names})
    for image, names in records.items():
        os.link(image, out / "images" / image.name)
        lines = "".join(f"{classes.index(n)} 0.5 0.5 0.1 0.1\n" for n in names)
        (out / "labels" / f"{image.stem}.txt").write_text(lines, encoding="utf-8")
    (out / "classes.txt").write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")
    return out


@pytest.mark.parametrize("tree", ["voc-helmet", "voc-other"])
def test_real_samples_split_with_every_class_in_train_and_val(
    shared_data: Path, tmp_path: Path, tree: str
) -> None:
    """It splits the real VOC samples with each class of 2+ images in train and val (and 3+ in test)."""
    data = _voc_to_yolo(shared_data / tree, tmp_path / "conv")
    result = split_dataset(data, tmp_path / "ds", SplitConfig(val=0.2, test=0.1, seed=0))
    assert result.uncovered == ()
    report = json.loads((tmp_path / "ds" / "split.json").read_text(encoding="utf-8"))
    for per_split in report["classes"].values():
        total = sum(s["images"] for s in per_split.values())
        assert total < 2 or (per_split["train"]["images"] and per_split["val"]["images"])
        assert total < 3 or per_split["test"]["images"]
    assert abs(result.counts["val"] / result.images - 0.2) < 0.05
