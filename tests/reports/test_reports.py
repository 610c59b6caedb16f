"""The reports show the model at work: drawn predictions, confidence curves, AP by size, one training curve."""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from _tiny import NAMES, TINY_TRAIN, TinyRun
from PIL import Image

from components._shared.report import seeded_order
from components.validate.sizes import ap_by_size

TINY = {"imgsz": 64, "batch": 4, "device": "cpu"}
PNG = "data:image/png;base64,"


def _pngs(page: str) -> list[Image.Image]:
    chunks = page.split(PNG)[1:]
    return [Image.open(io.BytesIO(base64.b64decode(c.split('"', 1)[0]))) for c in chunks]


def test_seeded_sample_is_the_same_for_the_same_list_and_seed() -> None:
    """It sorts before shuffling, so the order the list was written in does not change the sample."""
    paths = [Path(f"images/{i:03d}.jpg") for i in range(50)]
    a, b = seeded_order(paths, 0)[:6], seeded_order(list(reversed(paths)), 0)[:6]
    assert a == b and a != seeded_order(paths, 1)[:6] and a != sorted(paths)[:6]


def test_ap_by_size_ignores_objects_and_predictions_outside_the_range() -> None:
    """A small false positive lowers small AP only; labels are counted per COCO size range."""
    gt = np.array([[0, 0, 10, 10], [0, 0, 50, 50], [0, 0, 200, 200]], float)  # areas 100, 2500, 40000
    perfect = [{"gt_boxes": gt, "gt_cls": [0, 0, 1], "boxes": gt, "conf": [0.9, 0.8, 0.7], "cls": [0, 0, 1]}]
    rows = {r["size"]: r for r in ap_by_size(perfect, ["a", "b"])}
    assert [rows[s]["instances"] for s in ("all", "small", "medium", "large")] == [3, 1, 1, 1]
    assert all(r["ap50"] == pytest.approx(1.0) and r["ap50_95"] == pytest.approx(1.0) for r in rows.values())
    noisy = [dict(perfect[0], boxes=np.vstack([gt, [[300, 300, 310, 310]]]), conf=[0.5, 0.8, 0.7, 0.95],
                  cls=[0, 0, 1, 0])]  # fmt: skip
    rows = {r["size"]: r for r in ap_by_size(noisy, ["a", "b"])}
    assert rows["small"]["ap50"] == pytest.approx(0.5) and rows["small"]["predictions"] == 2
    assert rows["medium"]["ap50"] == pytest.approx(1.0) and rows["large"]["ap50"] == pytest.approx(1.0)
    assert rows["all"]["ap50"] < 1.0
    # a loose box: matched at IoU 0.5, missed at stricter thresholds
    loose = [{"gt_boxes": gt[2:], "gt_cls": [1], "boxes": [[0, 0, 200, 260]], "conf": [0.9], "cls": [1]}]
    large = {r["size"]: r for r in ap_by_size(loose, ["a", "b"])}["large"]
    assert large["ap50"] == pytest.approx(1.0) and 0 < large["ap50_95"] < 1.0
    empty = {r["size"]: r for r in ap_by_size([], ["a"])}
    assert empty["small"]["instances"] == 0 and empty["small"]["ap50"] is None


def test_combined_training_curve_marks_the_unfreeze_epoch(tmp_path: Path) -> None:
    """It plots the frozen stage's epochs 1..3, then the fine-tune's as 4..5, with an 'unfreeze' line at 3.5."""
    from components.train.report import PreviousStage, previous_stage, render_report, write_curves

    keys = ("epoch", "train/box_loss", "val/box_loss", "metrics/mAP50(B)", "metrics/mAP50-95(B)", "lr/pg0")

    def rows(n: int, start: float) -> list[dict[str, float]]:
        return [dict(zip(keys, (e, start - 0.1 * e, start - 0.05 * e, 0.1 * e, 0.05 * e, 0.01), strict=True))
                for e in range(1, n + 1)]  # fmt: skip

    frozen_dir = tmp_path / "frozen"
    frozen_dir.mkdir()
    with (frozen_dir / "results.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows(3, 2.0))
    (frozen_dir / "metrics.json").write_text(json.dumps({"stage": "frozen", "freeze": 10}))
    (frozen_dir / "best.pt").write_bytes(b"")
    previous = previous_stage(frozen_dir / "best.pt")
    assert isinstance(previous, PreviousStage) and previous.epochs == 3 and previous.freeze == 10
    assert previous_stage(tmp_path / "elsewhere" / "best.pt") is None

    fig = write_curves(rows(2, 1.5), tmp_path / "curves.png", "finetune", previous=previous, freeze=0)
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    for ax in fig.axes:
        data = [line for line in ax.lines if len(line.get_xdata()) > 2]
        assert data and all(list(line.get_xdata()) == [1, 2, 3, 4, 5] for line in data)
        vlines = [line for line in ax.lines if len(set(line.get_xdata())) == 1]
        assert [line.get_xdata()[0] for line in vlines] == [3.5]
        assert "unfreeze" in [t.get_text() for t in ax.texts]

    m = {"stage": "finetune", "architecture": "yolov5n", "map50_95": 0.1, "map50": 0.2, "precision": 0.3,
         "recall": 0.4, "epochs": 2, "seconds_per_epoch": 1.0, "device": "cpu", "freeze": 0, "total_params": 1,
         "trainable_params": 1, "frozen_params": 0, "per_class": {}, "config": {}, "weights": {"spec": "x"},
         "previous_stage": previous.to_dict()}  # fmt: skip
    page = render_report(m, tmp_path / "curves.png")
    assert "Epochs 1-3: stage frozen (freeze=10" in page and "(unfreeze)" in page


def test_stats_report_shows_a_sample_of_labelled_images(tiny_data: Path, tmp_path: Path) -> None:
    """It draws six labelled images (boxes and class names) on one sheet, embedded in the report."""
    from components.stats.core import StatsConfig, dataset_stats

    result = dataset_stats(tiny_data, tmp_path / "stats", StatsConfig(imgsz=64))
    page = result.report_html.read_text(encoding="utf-8")
    stats = json.loads(result.stats_json.read_text())
    assert "Sample images" in page and stats["plots"]["samples"] == "plots/samples.png"
    sheet = _pngs(page)[-1]
    assert sheet.size[0] > 3 * 250 and sheet.size[1] > 2 * 250  # 3 columns, 2 rows of 300 px panels
    again = dataset_stats(tiny_data, tmp_path / "again", StatsConfig(imgsz=64))
    assert (again.out_dir / "plots" / "samples.png").read_bytes() == (
        result.out_dir / "plots" / "samples.png"
    ).read_bytes()  # seeded: runs compare


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["pt", "onnx"])
def test_validation_report_shows_predictions_curves_and_ap_by_size(
    frozen_run: TinyRun, tmp_path: Path, fmt: str
) -> None:
    """It draws labels beside predictions on the sample, names the best-F1 threshold and lists AP by size."""
    from components.validate.core import ValidateConfig, validate_model

    weights = frozen_run.out_dir / "best.pt"
    if fmt == "onnx":
        from components.export.core import ExportConfig, export_onnx

        weights = export_onnx(weights, tmp_path / "onnx", ExportConfig(imgsz=64, latency_runs=1)).onnx_path
    out = tmp_path / "val"
    validate_model(weights, frozen_run.data_yaml, out, ValidateConfig(samples=3, **TINY))
    metrics = json.loads((out / "metrics.json").read_text())
    page = (out / "report.html").read_text(encoding="utf-8")
    drawn = metrics["predictions"]
    assert len(drawn) == 3 and page.count(PNG) == 3 + 3  # confusion, PR, confidence curves + 3 drawn images
    assert all((out / d["png"]).is_file() and d["image"].startswith("images/") for d in drawn)
    assert {d["image"] for d in drawn} < {f"images/img{i:03d}.png" for i in range(8, 12)}  # the test split
    panels = [im for im in _pngs(page) if im.size[0] > 2 * im.size[1] * 0.9]  # two panels side by side
    assert len(panels) >= 3
    assert 0.0 <= metrics["best_f1_conf"] <= 1.0 and "Best F1" in page and "confidence threshold" in page
    assert (out / "confidence_curves.png").read_bytes()[:4] == b"\x89PNG"
    sizes = {r["size"]: r for r in metrics["ap_by_size"]}
    assert list(sizes) == ["all", "small", "medium", "large"]
    assert (
        sizes["all"]["instances"]
        == metrics["instances"]
        == sum(sizes[s]["instances"] for s in list(sizes)[1:])
    )
    for size in ("small", "medium", "large"):
        assert f'<td class="l">{size}</td>' in page
    if fmt == "pt":
        again = validate_model(
            weights, frozen_run.data_yaml, tmp_path / "again", ValidateConfig(samples=3, **TINY)
        )
        assert json.loads(again.metrics_json.read_text())["predictions"] == drawn  # the same sample


@pytest.mark.slow
def test_finetune_report_continues_the_frozen_stages_curve(frozen_run: TinyRun, tmp_path: Path) -> None:
    """Started from the frozen stage's best.pt, the fine-tune's curves.png and metrics.json include its epochs."""
    from components.train.core import TrainConfig, train_model

    cfg = TrainConfig(freeze=0, epochs=1, lr0=0.01, stage_name="finetune", **TINY_TRAIN)
    result = train_model(frozen_run.data_yaml, str(frozen_run.out_dir / "best.pt"), tmp_path / "ft", cfg)
    metrics = json.loads(result.metrics_json.read_text())
    frozen = json.loads((frozen_run.out_dir / "metrics.json").read_text())
    assert metrics["previous_stage"]["stage"] == frozen["stage"] and metrics["previous_stage"]["epochs"] == 1
    assert metrics["previous_stage"]["freeze"] == 10 and metrics["epochs"] == 1
    assert "(unfreeze)" in result.report_html.read_text(encoding="utf-8")
    assert set(metrics["per_class"]) == set(NAMES)
