"""Validate a ``.pt`` or ``.onnx`` detector and the champion on one split, and decide the gate (``README.md``)."""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from components._shared.artifacts import MODEL_E2E_ONNX
from components._shared.dataset import load_dataset, resolve_dataset_yaml
from components._shared.errors import ConfigError, DatasetError, YoloKfpError
from components._shared.fsio import guard_out_dir, staged_dir, write_json_atomic, write_text_atomic
from components._shared.report import seeded_order
from components.validate.gate import Champion, Gate, GatePolicy, decide_gate
from components.validate.report import draw_plots, draw_predictions, render_report
from components.validate.sizes import ap_by_size

log = logging.getLogger(__name__)

MODEL_SUFFIXES = (".pt", ".onnx")
END_TO_END_TOLERANCE = 0.005  # largest mAP50-95 difference between model_e2e.onnx and model.onnx


class EndToEndMismatch(YoloKfpError):
    """The end-to-end model (NMS inside) measures a different mAP50-95 than the raw model it came from."""


@dataclass(frozen=True)
class ValidateConfig:
    """Options of ``validate_model``.

    Attributes:
        split: ``auto`` (``test`` when the dataset has one, else ``val``), ``val``, ``test`` or ``train``.
        imgsz: image size (an ONNX model with a fixed input uses its own).
        batch: batch size (a fixed-shape ONNX model runs with batch 1).
        device: ``auto`` (first GPU, else CPU), ``cpu``, ``0``.
        conf: confidence threshold for the mAP computation (low, as usual for mAP).
        iou: NMS IoU threshold.
        gate: the gate's threshold and tolerances.
        champion: the production model (``.onnx`` or ``.pt``) to measure on the same split; None for none.
        champion_version: its name in the verdict (default: the file name).
        champion_manifest_sha256: its manifest's sha256 when it is a production model (checked by promotion).
        overwrite: replace an ``out_dir`` that holds files this stage did not write.
        samples: images of the split drawn with their labels and predictions in the report (0: none).
        sample_seed: seed of the shuffle (of the sorted split list) that picks them.
    """

    split: str = "auto"
    imgsz: int = 640
    batch: int = 16
    device: str = "auto"
    conf: float = 0.001
    iou: float = 0.7
    gate: GatePolicy = field(default_factory=GatePolicy)
    champion: Path | None = None
    champion_version: str | None = None
    champion_manifest_sha256: str | None = None
    overwrite: bool = False
    samples: int = 6
    sample_seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Flat and JSON-ready (``metrics.json`` ``config``): the gate's fields under their flag names."""
        d = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}
        gate = d.pop("gate")
        d["min_map50_95"] = gate.pop("threshold")
        return d | gate


@dataclass(frozen=True)
class ValidateResult:
    """What ``validate_model`` measured; ``metrics()`` is what ``out_dir/metrics.json`` holds."""

    out_dir: Path
    weights: Path
    model_format: str  # pytorch or onnx
    names: tuple[str, ...]
    split: str
    images: int
    instances: int
    map50: float
    map50_95: float
    precision: float
    recall: float
    per_class: Mapping[str, Mapping[str, Any]]
    best_f1_conf: float | None
    best_f1: Mapping[str, float] | None
    gate: Gate
    champion: Champion | None
    device: str | None
    speed_ms_per_image: Mapping[str, float]
    config: ValidateConfig
    ap_by_size: Sequence[Mapping[str, Any]]
    end_to_end: Mapping[str, Any] | None
    predictions: Sequence[Mapping[str, Any]]
    seconds: float

    @property
    def gate_passed(self) -> bool:
        """Plain output for ``dsl.If``."""
        return self.gate.passed

    @property
    def metrics_json(self) -> Path:
        """``out_dir/metrics.json``."""
        return self.out_dir / "metrics.json"

    def metrics(self) -> dict[str, Any]:
        """JSON-ready ``metrics.json``: every field but ``out_dir`` (``model_format`` as ``format``)."""
        d = asdict(self)
        del d["out_dir"]
        d["format"] = d.pop("model_format")
        return d | {"weights": str(self.weights), "names": list(self.names), "config": self.config.to_dict()}

    def to_dict(self) -> dict[str, Any]:
        """The CLI's summary: the headline numbers, the gate and the output paths (the rest: ``metrics()``)."""
        m = self.metrics()
        keys = ("weights", "split", "images", "instances", "map50", "map50_95", "precision", "recall", "gate",
                "seconds")  # fmt: skip
        files = {"metrics_json": "metrics.json", "report_html": "report.html",
                 "confusion_json": "confusion_matrix.json"}  # fmt: skip
        paths = {k: str(self.out_dir / name) for k, name in files.items()}
        return (
            {k: m[k] for k in keys}
            | paths
            | {"out_dir": str(self.out_dir), "model_format": self.model_format}
        )

    def summary(self) -> dict[str, float]:
        """Scalars for the run page (KFP ``Metrics``): the challenger, the champion and each gate check."""
        values = {
            "map50": self.map50,
            "map50_95": self.map50_95,
            "precision": self.precision,
            "recall": self.recall,
            "images": float(self.images),
            "instances": float(self.instances),
            "gate_passed": float(self.gate.passed),
        }
        if self.gate.champion_map50_95 is not None:
            values["champion_map50_95"] = float(self.gate.champion_map50_95)
        values |= {f"gate_{c.name}_passed": float(c.passed) for c in self.gate.checks}
        return values


def resolve_split(spec: Any, split: str) -> str:
    """``auto`` -> ``test`` when the dataset has one, else ``val``; DatasetError for a missing or empty split."""
    if split == "auto":
        split = "test" if "test" in spec.splits else "val"
    if split not in spec.splits:
        raise DatasetError(
            f"{spec.yaml_path}: no '{split}' split (has {', '.join(spec.splits)}); use --split val"
        )
    if not spec.images(split):
        raise DatasetError(
            f"{spec.splits[split]}: the {split} list names no image; re-run split with more images"
        )
    return split


def check_classes(weights: Path, names: Sequence[str], spec: Any) -> None:
    """The class contract: the model's names, in order, are the dataset's (else ConfigError)."""
    if tuple(names) != tuple(spec.names):
        raise ConfigError(
            f"{weights}: model classes [{', '.join(names)}] differ from {spec.yaml_path} classes "
            f"[{', '.join(spec.names)}] (names and order must match; retrain on this dataset or fix --classes)"
        )


def _check(weights: Path, cfg: ValidateConfig) -> None:
    for flag, path in (("--weights", weights), ("--champion", cfg.champion)):
        if path is None:
            continue
        if path.suffix.lower() not in MODEL_SUFFIXES:
            raise ConfigError(f"{flag} {path}: expected a .pt checkpoint or a .onnx model")
        if not path.is_file():
            raise ConfigError(f"{flag} {path}: file not found")
    gate = cfg.gate
    if gate.champion_tolerance < 0 or gate.class_tolerance < 0:
        raise ConfigError(
            f"champion_tolerance {gate.champion_tolerance} / class_tolerance {gate.class_tolerance}: must be >= 0"
        )
    if not 0.0 <= gate.threshold <= 1.0:
        raise ConfigError(f"--min-map50-95 {gate.threshold}: must be in [0, 1]")
    if cfg.imgsz < 32 or cfg.batch < 1:
        raise ConfigError(f"--imgsz {cfg.imgsz} / --batch {cfg.batch}: need imgsz >= 32 and batch >= 1")
    if cfg.samples < 0:
        raise ConfigError(f"samples {cfg.samples}: must be >= 0 (0 draws no image)")
    if not (0.0 <= cfg.conf < 1.0 and 0.0 < cfg.iou <= 1.0):
        raise ConfigError(f"conf {cfg.conf} / iou {cfg.iou}: need 0 <= conf < 1 and 0 < iou <= 1")


def single_device(device: str) -> str:
    """Validation runs on one device: ``auto`` -> ``0`` with CUDA, else ``cpu``; ``0,1`` -> ``0``."""
    if device == "auto":
        import torch

        return "0" if torch.cuda.is_available() else "cpu"
    return device.split(",")[0]


def validate_model(
    weights: Path,
    data_yaml: Path,
    out_dir: Path,
    cfg: ValidateConfig = ValidateConfig(),  # noqa: B008
) -> ValidateResult:
    """Measure a model (and the champion) on one split, plot the results, and decide the gate.

    ``weights``: ``best.pt`` or an exported ``model.onnx``. A failed gate is not an error; ConfigError for bad
    weights, classes, thresholds or ``out_dir``, DatasetError for a bad dataset or split.
    """
    t0 = time.perf_counter()
    weights, out_dir = Path(weights), Path(out_dir)
    _check(weights, cfg)
    spec = load_dataset(Path(data_yaml))
    guard_out_dir(out_dir, [weights, spec.root, cfg.champion], overwrite=cfg.overwrite)
    split = resolve_split(spec, cfg.split)

    from components._yolo.model import model_names  # heavy: torch + ultralytics (safe loading)

    check_classes(weights, model_names(weights), spec)
    with staged_dir(out_dir) as tmp:
        sample = sorted(seeded_order(spec.images(split), cfg.sample_seed)[: cfg.samples])
        raw, end_to_end, champion = _measure(weights, spec, split, sample, cfg, tmp / ".work")
        gate = decide_gate(raw["map50_95"], raw["per_class"], champion, cfg.gate, split)
        predictions = draw_predictions(sample, raw["samples"], spec, tmp / "predictions")
        write_json_atomic(tmp / "confusion_matrix.json", raw["confusion_matrix"])
        draw_plots(raw, tmp)
        shutil.rmtree(tmp / ".work")
        per_class = raw["per_class"]
        best = {k: round(v, 4) for k, v in raw["best_f1"].items()} if raw.get("best_f1") else None
        result = ValidateResult(
            out_dir=out_dir, weights=weights, model_format="onnx" if weights.suffix.lower() == ".onnx" else "pytorch",
            names=tuple(per_class), split=split, images=len(spec.images(split)),
            instances=sum(int(c.get("instances", 0)) for c in per_class.values()),
            map50=raw["map50"], map50_95=raw["map50_95"], precision=raw["precision"], recall=raw["recall"],
            per_class=per_class, best_f1_conf=best["conf"] if best else None, best_f1=best, gate=gate,
            champion=champion, device=raw.get("device"), speed_ms_per_image=raw.get("speed_ms", {}), config=cfg,
            ap_by_size=ap_by_size(raw["records"], spec.names), end_to_end=end_to_end, predictions=predictions,
            seconds=round(time.perf_counter() - t0, 3),
        )  # fmt: skip
        write_text_atomic(tmp / "report.html", render_report(result, tmp))
        write_json_atomic(tmp / "metrics.json", result.metrics())
    log.info("validate: %s on %s/%s: mAP50-95 %.4f, mAP50 %.4f, P %.3f, R %.3f; gate %s (%s) in %.1fs",
             weights.name, spec.yaml_path.parent.name, split, result.map50_95, result.map50, result.precision,
             result.recall, "PASSED" if result.gate_passed else "FAILED", result.gate.reason, result.seconds)  # fmt: skip
    return result


def _measure(
    weights: Path, spec: Any, split: str, sample: Sequence[Path], cfg: ValidateConfig, work: Path
) -> tuple[dict[str, Any], dict[str, Any] | None, Champion | None]:
    """The challenger (with the boxes of ``sample``), its end-to-end twin and the champion, on ``split``."""
    from components._yolo.model import model_names
    from components._yolo.validate import validate

    work.mkdir()
    measure = dict(data_yaml=resolve_dataset_yaml(spec.yaml_path, work), split=split, imgsz=cfg.imgsz,
                   batch=cfg.batch, device=single_device(cfg.device), conf=cfg.conf, iou=cfg.iou)  # fmt: skip
    raw = validate(weights=weights, save_dir=work / "val", samples=sample, **measure)
    end_to_end = _check_end_to_end(weights, validate, work, measure)
    champion = None
    if cfg.champion is not None:
        champion = _measure_champion(cfg, model_names(cfg.champion), spec, validate, work, measure)
    return raw, end_to_end, champion


def _check_end_to_end(
    weights: Path, validate: Any, work: Path, measure: dict[str, Any]
) -> dict[str, Any] | None:
    """Measure ``model_e2e.onnx`` beside an ONNX ``weights``; EndToEndMismatch when its mAP50-95 differs.

    KServe serves the end-to-end model, the gate judges the raw one: they must agree. Both are measured
    with best-class NMS (the graph's; Ultralytics' multi-label NMS scores the same network differently).
    """
    from components._yolo.validate import single_label_nms

    e2e = weights.parent / MODEL_E2E_ONNX
    if weights.suffix.lower() != ".onnx" or weights.name == MODEL_E2E_ONNX or not e2e.is_file():
        return None
    with single_label_nms():
        raw = validate(weights=weights, save_dir=work / "val-best-class", samples=[], **measure, rect=False)[
            "map50_95"
        ]
    # the graph's NMS loop is unrolled for its export batch: a larger validation batch would leave images out
    same_input = {**measure, "batch": min(int(measure["batch"]), _export_batch(e2e)), "rect": False}
    got = validate(weights=e2e, save_dir=work / "val-e2e", samples=[], **same_input)["map50_95"]
    diff = abs(got - raw)
    if diff > END_TO_END_TOLERANCE:
        raise EndToEndMismatch(
            f"{e2e}: mAP50-95 {got:.4f} differs from {weights.name}'s {raw:.4f} (best-class NMS) by {diff:.4f}, "
            f"more than {END_TO_END_TOLERANCE}: the served model would not be the one validated; re-export both"
        )
    log.info("end-to-end model %s: mAP50-95 %.4f, raw model %.4f (best-class NMS)", e2e.name, got, raw)
    return {
        "file": MODEL_E2E_ONNX,
        "map50_95": got,
        "raw_best_class_map50_95": raw,
        "diff": round(diff, 6),
        "tolerance": END_TO_END_TOLERANCE,
    }


def _export_batch(path: Path) -> int:
    """The batch an ONNX model was exported for (Ultralytics' ``batch`` metadata; 1 when absent)."""
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    value = meta.get("batch", "1")
    return int(value) if value.isdigit() and int(value) > 0 else 1


def _measure_champion(
    cfg: ValidateConfig,
    names: Sequence[str],
    spec: Any,
    validate: Any,
    work: Path,
    measure: Mapping[str, Any],
) -> Champion:
    """The champion on the challenger's split, or uncompared when its classes differ."""
    assert cfg.champion is not None
    version, sha = cfg.champion_version or cfg.champion.name, cfg.champion_manifest_sha256
    if tuple(names) != tuple(spec.names):
        log.warning("champion %s has classes %s, the dataset %s: not compared", version, names, spec.names)
        return Champion(version=version, names=tuple(names), compared=False, manifest_sha256=sha)
    raw = validate(weights=cfg.champion, save_dir=work / "champion", **measure)
    log.info("champion %s on %s: mAP50-95 %.4f", version, measure["split"], raw["map50_95"])
    return Champion(
        version=version,
        names=tuple(names),
        compared=True,
        map50_95=float(raw["map50_95"]),
        map50=float(raw["map50"]),
        per_class=raw["per_class"],
        imgsz=raw.get("imgsz", measure["imgsz"]),
        manifest_sha256=sha,
    )
