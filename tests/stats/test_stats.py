"""``dataset_stats`` on a hand-built dataset with known boxes, the report files, the CLI and import cost."""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _readme import assert_readme_defaults
from PIL import Image

from components._shared.errors import ConfigError, DatasetError
from components.stats.core import StatsConfig, class_weights, dataset_stats
from pipelines.cli import main

REPO = Path(__file__).resolve().parents[2]

# name -> (image size, boxes as (class, cx, cy, w, h)); at imgsz 640 a.png scales by 6.4 (204 800 px),
# b.png by 3.2 (409 600 px): areas 16 384 (large), 2 048 (medium), 184 (small), 102 400 (large)
IMAGES = {
    "a.png": ((100, 50), [(0, 0.5, 0.5, 0.2, 0.4), (0, 0.25, 0.25, 0.1, 0.1), (0, 0.9, 0.1, 0.03, 0.03)]),
    "b.png": ((200, 200), [(1, 0.5, 0.5, 0.5, 0.5)]),
    "c.png": ((100, 50), []),
    "d.png": ((200, 200), [(1, 0.5, 0.5, 0.5, 0.5)]),  # same bytes as b.png
}
SPLITS = {"train": ["a.png", "b.png", "c.png"], "val": ["d.png"]}


def write_dataset(root: Path, images=IMAGES, splits=SPLITS, names=("helmet", "head", "vest")) -> Path:
    """Write a split dataset folder (the split stage's format) and return its dataset.yaml."""
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i, (name, ((w, h), boxes)) in enumerate(images.items()):
        if name == "d.png" and (root / "images" / "b.png").exists():
            shutil.copyfile(root / "images" / "b.png", root / "images" / name)
        else:
            Image.new("RGB", (w, h), (i * 40, 10, 20)).save(root / "images" / name)
        lines = "".join(f"{c} {x} {y} {bw} {bh}\n" for c, x, y, bw, bh in boxes)
        (root / "labels" / f"{Path(name).stem}.txt").write_text(lines, encoding="utf-8")
    for split, members in splits.items():
        (root / f"{split}.txt").write_text("".join(f"./images/{n}\n" for n in members), encoding="utf-8")
    spec = {"path": ".", **{s: f"{s}.txt" for s in splits}, "names": dict(enumerate(names))}
    (root / "dataset.yaml").write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return root / "dataset.yaml"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, object]:
    """Stats of the hand-built dataset, computed once for the module."""
    root = tmp_path_factory.mktemp("stats")
    result = dataset_stats(write_dataset(root / "ds"), root / "out", StatsConfig(imgsz=640))
    return root / "out", json.loads((root / "out" / "stats.json").read_text(encoding="utf-8")), result


def test_counts_per_class_and_split_match_the_labels(report) -> None:
    """It counts instances and images per class, and images, backgrounds and boxes per image per split."""
    _, stats, result = report
    classes = {c["name"]: c for c in stats["classes"]}
    assert (classes["helmet"]["instances"], classes["helmet"]["images"]) == (3, 1)
    assert (classes["head"]["instances"], classes["head"]["images"]) == (2, 2)
    assert classes["head"]["per_split"] == {"train": 1, "val": 1}
    assert classes["vest"]["instances"] == 0
    train = stats["splits"]["train"]
    assert (train["images"], train["background"], train["instances"]) == (3, 1, 4)
    assert train["boxes_per_image"] == {"mean": round(4 / 3, 3), "max": 3}
    assert stats["splits"]["val"]["images"] == 1
    assert (stats["images"], stats["instances"], stats["background_images"]) == (4, 5, 1)
    assert (result.images, result.instances, result.classes) == (4, 5, 3)
    assert result.split_images == {"train": 3, "val": 1}


def test_bbox_stats_are_the_mean_and_population_std_of_every_box(report) -> None:
    """It reports cx, cy, w, h mean and std over all boxes (the bbox_stats block)."""
    _, stats, _ = report
    boxes = [b[1:] for _, bs in IMAGES.values() for b in bs]
    for j, key in enumerate(("cx", "cy", "w", "h")):
        column = [b[j] for b in boxes]
        assert stats["bbox_stats"][key]["mean"] == pytest.approx(statistics.fmean(column), abs=1e-6)
        assert stats["bbox_stats"][key]["std"] == pytest.approx(statistics.pstdev(column), abs=1e-6)
    assert stats["bbox_stats"]["boxes"] == 5


def test_size_categories_are_judged_at_the_letterboxed_training_size(report, tmp_path: Path) -> None:
    """It counts COCO small/medium/large from the box area after scaling the longest side to imgsz."""
    _, stats, _ = report
    sizes = stats["size_categories"]
    assert (sizes["small"], sizes["medium"], sizes["large"], sizes["unknown"]) == (1, 1, 3, 0)
    assert stats["splits"]["val"]["sizes"]["large"] == 1
    dataset_stats(write_dataset(tmp_path / "ds"), tmp_path / "out", StatsConfig(imgsz=160))
    small = json.loads((tmp_path / "out" / "stats.json").read_text())["size_categories"]
    # at 160 px: a.png areas 1 024 (medium), 128 and 11.5 (small); b/d 6 400 (medium)
    assert (small["small"], small["medium"], small["large"]) == (2, 3, 0)


def test_duplicates_empty_classes_and_val_gaps_are_warned(report) -> None:
    """It finds identical images by content, and warns about them, empty classes and classes missing from val."""
    _, stats, result = report
    assert stats["duplicates"]["pairs"] == [
        {"a": "images/b.png", "b": "images/d.png", "splits": ["train", "val"]}
    ]
    assert stats["duplicates"]["cross_split"] == 1 and result.duplicate_pairs == 1
    codes = {w["code"]: w["message"] for w in stats["warnings"]}
    assert set(codes) == {"duplicate_images", "empty_class", "missing_in_val"}
    assert "vest" in codes["empty_class"] and "helmet" in codes["missing_in_val"]
    assert len(result.warnings) == 3


def test_imbalance_and_broken_files_are_warned(tmp_path: Path) -> None:
    """It warns when max/min instances exceed 10, and lists missing images and malformed label lines."""
    images = {
        "a.png": ((64, 64), [(0, 0.5, 0.5, 0.1, 0.1)] * 11),
        "b.png": ((64, 64), [(1, 0.5, 0.5, 0.1, 0.1)]),
    }
    data = write_dataset(
        tmp_path / "ds", images, {"train": ["a.png"], "val": ["b.png", "gone.png"]}, ("x", "y")
    )
    with open(tmp_path / "ds" / "labels" / "b.txt", "a", encoding="utf-8") as fh:
        fh.write("7 0.5 0.5 0.1 0.1\nnot a box\n")
    dataset_stats(data, tmp_path / "out", StatsConfig())
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    codes = {w["code"]: w["message"] for w in stats["warnings"]}
    assert "11:1" in codes["imbalance"]
    assert stats["problems"]["missing_images"] == ["images/gone.png"]
    assert stats["problems"]["label_errors_total"] == 2 and "label_errors" in codes
    assert stats["problems"]["label_errors"] == [
        "b.txt: line 2: class id '7' is not an integer in [0, 2)",
        "b.txt: line 3: class id 'not' is not an integer in [0, 2)",
    ]
    assert stats["size_categories"]["medium"] == 12  # 64 px images scale 10x: 64x64 px boxes


def test_class_weights_are_inverse_frequency_with_mean_one() -> None:
    """It weights classes by 1/instances, normalised to mean 1 over classes that occur (0 for empty ones)."""
    assert class_weights([3, 1, 0]) == [0.5, 1.5, 0.0]
    weights = class_weights([10, 20, 40, 5])
    assert statistics.fmean(weights) == pytest.approx(1.0, abs=1e-3) and weights[3] > weights[0]
    assert class_weights([0, 0]) == [0.0, 0.0]


def test_train_class_weights_are_in_stats_json(report) -> None:
    """It derives the class weights from the train split's instances."""
    _, stats, _ = report
    assert stats["class_weights"] == [0.5, 1.5, 0.0]


def test_html_report_is_self_contained_with_embedded_plots(report) -> None:
    """It writes report.html with the plots and sample images inline (base64), the tables and warnings, no plan."""
    out, stats, result = report
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 3 + 1  # the plots and the sheet of sample images
    assert stats["plots"]["samples"] == "plots/samples.png" and "Sample images" in page
    assert "http://" not in page and "https://" not in page
    for text in ("bbox_stats", "helmet", "images/d.png", "missing from val"):
        assert text in page
    assert "Recommended plan" not in page  # the plan stage owns the plan (components/plan)
    for name in ("class_histogram", "box_sizes", "box_centers"):
        png = out / "plots" / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and stats["plots"][name] == f"plots/{name}.png"
    assert "Recommended plan" not in (out / "report.md").read_text(encoding="utf-8")
    assert result.report_html == out / "report.html"


def test_html_report_escapes_class_names(tmp_path: Path) -> None:
    """It escapes markup in class names instead of injecting it into the Kubeflow UI."""
    data = write_dataset(tmp_path / "ds", names=("<script>x</script>", "b&c", "ok"))
    dataset_stats(data, tmp_path / "out", StatsConfig())
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;" in page and "b&amp;c" in page


def test_summary_scalars_are_finite_numbers_and_stats_has_no_plan(report) -> None:
    """It gives the run page finite floats only, and leaves the training plan to the plan stage."""
    _, stats, result = report
    assert "recommended" not in stats
    assert all(isinstance(v, float) and not math.isnan(v) for v in result.summary().values())


def test_unusable_input_and_options_are_refused(tmp_path: Path) -> None:
    """It raises DatasetError for a missing dataset YAML and ConfigError for a bad imgsz or --out."""
    with pytest.raises(DatasetError, match="dataset YAML not found"):
        dataset_stats(tmp_path / "nope.yaml", tmp_path / "out", StatsConfig())
    data = write_dataset(tmp_path / "ds")
    with pytest.raises(ConfigError, match="imgsz=16"):
        dataset_stats(data, tmp_path / "out", StatsConfig(imgsz=16))
    with pytest.raises(ConfigError, match="is the input"):
        dataset_stats(data, tmp_path / "ds", StatsConfig())
    assert data.is_file()


def test_readme_shows_the_defaults_of_stats_config() -> None:
    """It keeps README.md's usage line ([--imgsz 640]) and StatsConfig(...) line equal to the defaults."""
    assert_readme_defaults("stats", StatsConfig, ["--dataset", "d", "--out", "o"])


def test_cli_writes_the_report_and_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It runs ``yolo-kfp stats --dataset dataset.yaml --out DIR --imgsz N`` and prints the result JSON."""
    data = write_dataset(tmp_path / "ds")
    assert main(["stats", "--dataset", str(data), "--out", str(tmp_path / "out"), "--imgsz", "320"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["images"] == 4 and "recommended" not in printed
    assert (tmp_path / "out" / "stats.json").is_file()


def test_importing_the_data_stages_loads_neither_torch_nor_matplotlib() -> None:
    """It keeps ``import components.stats.core`` (and split) light: no torch, ultralytics or matplotlib."""
    code = (
        "import sys, components.stats.core, components.split.core, components.stats.cli, components.split.cli;"
        "print(sorted(m for m in ('torch', 'ultralytics', 'matplotlib', 'kfp') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_stats_of_a_split_stage_output(tmp_path: Path) -> None:
    """It reads what the split stage writes (hard-linked folder, dict names, test list)."""
    from components.split.core import SplitConfig, split_dataset

    conv = tmp_path / "conv"
    (conv / "images").mkdir(parents=True)
    (conv / "labels").mkdir()
    (conv / "classes.txt").write_text("a\nb\n", encoding="utf-8")
    for i in range(30):
        Image.new("RGB", (64, 48), (i, 0, 0)).save(conv / "images" / f"{i:02d}.png")
        (conv / "labels" / f"{i:02d}.txt").write_text(f"{i % 2} 0.5 0.5 0.2 0.2\n", encoding="utf-8")
    split_dataset(conv, tmp_path / "ds", SplitConfig(test=0.2))
    result = dataset_stats(tmp_path / "ds", tmp_path / "out", StatsConfig())
    assert result.images == 30 and set(result.split_images) == {"train", "val", "test"}
    assert not [w for w in result.warnings if "missing from val" in w]
    assert os.path.samefile(tmp_path / "ds" / "images" / "00.png", conv / "images" / "00.png")


def _png_header(width: int, height: int) -> bytes:
    """A PNG with only its IHDR and IEND chunks: enough for a header read, nothing to decode."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_huge_images_are_measured_from_the_header_without_tripping_the_pixel_limit(tmp_path: Path) -> None:
    """It reads the size of a 30000x20000 image (PIL's decompression-bomb limit) from its header alone."""
    data = write_dataset(tmp_path / "ds")
    (tmp_path / "ds" / "images" / "c.png").write_bytes(_png_header(30_000, 20_000))
    (tmp_path / "ds" / "labels" / "c.txt").write_text("2 0.5 0.5 0.001 0.001\n", encoding="utf-8")
    dataset_stats(data, tmp_path / "out", StatsConfig())
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["problems"]["unreadable_images_total"] == 0
    # 640/30000 scale: the 30x20 px box becomes 0.64x0.43 px -> small
    assert stats["size_categories"] == {"imgsz": 640, "thresholds_px": [32, 96], "small": 2, "medium": 1,
                                        "large": 3, "unknown": 0}  # fmt: skip
