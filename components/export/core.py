"""Export a checkpoint to ONNX, simplify it, and prove it computes what PyTorch computes (``README.md``)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components._shared.artifacts import DATASET_YAML, MODEL_E2E_ONNX, MODEL_ONNX
from components._shared.dataset import IMAGE_SUFFIXES, load_dataset
from components._shared.errors import ConfigError, YoloKfpError
from components._shared.fsio import guard_out_dir, no_room_as_storage_error, staged_dir, write_json_atomic
from components._shared.storage.base import sha256_file
from components.export.graph import decompose_inner_softmax

log = logging.getLogger(__name__)

MIN_OPSET = 11  # Upsample/Resize as YOLOv5 needs it
TORCH_MAX_OPSET = 20  # TorchScript-based exporter (the one Ultralytics uses) in torch 2.x
END_TO_END_UNMATCHED = 0.02  # share of detections the end-to-end model may miss or add (border NMS)


class ParityError(YoloKfpError):
    """The ONNX model's detections differ from PyTorch's on the same images."""


@dataclass(frozen=True)
class ExportConfig:
    """Options of ``export_onnx``.

    Attributes:
        imgsz: square input size of the exported model (multiple of 32).
        opset: ONNX opset (11 to 20 with the installed torch/onnx; 17 is widely supported).
        dynamic: dynamic batch and image size instead of a fixed ``1x3ximgszximgsz`` input.
        simplify: run onnxsim (then ``onnx.checker``) on the export.
        parity_images: a dataset.yaml (its val images) or an image folder; None: synthetic images.
        parity_count: images used for parity.
        parity_conf: confidence threshold of the compared detections.
        parity_iou: NMS IoU threshold of the compared detections.
        box_atol: largest allowed box-corner difference in pixels between matched detections.
        latency_runs: timed runs per runtime (median reported), after a few warm-up runs.
        metrics_json: the training stage's metrics.json for the model card; None: the one beside the weights.
        overwrite: replace an ``out_dir`` holding files this stage did not write (never an input).
        end_to_end: also write ``model_e2e.onnx`` (NMS inside), checked against the raw model's detections.
        end_to_end_batch: its largest batch (its NMS loop is unrolled for it; Triton's ``max_batch_size``).
        end_to_end_conf: the score threshold baked into its NMS: validation's, so its mAP equals the raw model's.
        end_to_end_iou: the IoU threshold of its NMS.
        end_to_end_max_det: its output rows per image (detections, zero rows after the last).
    """

    imgsz: int = 640
    opset: int = 17
    dynamic: bool = False
    simplify: bool = True
    parity_images: Path | None = None
    parity_count: int = 8
    parity_conf: float = 0.25
    parity_iou: float = 0.7
    box_atol: float = 0.05
    latency_runs: int = 20
    metrics_json: Path | None = None
    overwrite: bool = False
    end_to_end: bool = True
    end_to_end_batch: int = 8
    end_to_end_conf: float = 0.001
    end_to_end_iou: float = 0.7
    end_to_end_max_det: int = 300


@dataclass(frozen=True)
class ExportResult:
    """What ``export_onnx`` wrote: ``model_card`` is ``model.json``, ``report`` is ``export.json``."""

    out_dir: Path
    model_card: Mapping[str, Any]
    report: Mapping[str, Any]

    @property
    def onnx_path(self) -> Path:
        """The simplified ``model.onnx``."""
        return self.out_dir / MODEL_ONNX

    def to_dict(self) -> dict[str, Any]:
        """The CLI's summary: paths, parity, latency, node counts and the ONNX file's checksum."""
        card, report = self.model_card, self.report
        parity, latency, nodes = report["parity"], report["latency"], report["nodes"]
        return {
            "out_dir": str(self.out_dir), "onnx_path": str(self.onnx_path),
            "model_json": str(self.out_dir / "model.json"), "export_json": str(self.out_dir / "export.json"),
            "names": card["classes"], "imgsz": card["imgsz"], "opset": card["opset"], "dynamic": card["dynamic"],
            "parity_images": parity["images"], "parity_source": parity["source"],
            "max_abs_diff": parity["max_abs_diff"], "detections": parity["detections_torch"],
            "onnx_ms": latency["onnxruntime_ms"], "torch_ms": latency["pytorch_ms"],
            "nodes_before": nodes["before"], "nodes_after": nodes["after"], "onnx_bytes": report["bytes"]["onnx"],
            "sha256": card["sha256"], "seconds": report["seconds"],
        }  # fmt: skip

    def card(self) -> dict[str, Any]:
        """Metadata for the ONNX artifact (KFP ``Model``)."""
        card = {k: self.model_card[k] for k in ("opset", "classes", "imgsz", "dynamic", "sha256")}
        return {"framework": "onnx", **card, "max_abs_diff": self.report["parity"]["max_abs_diff"]}


def _check(weights: Path, cfg: ExportConfig) -> None:
    import onnx

    if weights.suffix.lower() != ".pt":
        raise ConfigError(f"--weights {weights}: expected a .pt checkpoint (the training stage's best.pt)")
    if not weights.is_file():
        raise ConfigError(f"--weights {weights}: file not found")
    if cfg.imgsz < 32 or cfg.imgsz % 32:
        raise ConfigError(f"--imgsz {cfg.imgsz}: must be a multiple of 32 (the model's stride), e.g. 640")
    max_opset = min(TORCH_MAX_OPSET, onnx.defs.onnx_opset_version())
    if not MIN_OPSET <= cfg.opset <= max_opset:
        raise ConfigError(
            f"--opset {cfg.opset}: choose {MIN_OPSET}-{max_opset} with the installed torch/onnx"
        )
    if cfg.parity_count < 1 or cfg.latency_runs < 1:
        raise ConfigError("parity_count and latency_runs must be at least 1")
    if cfg.parity_images is not None and not Path(cfg.parity_images).exists():
        raise ConfigError(
            f"--parity-images {cfg.parity_images}: not found (a dataset.yaml or an image folder)"
        )


def parity_image_paths(source: Path | None, count: int) -> tuple[list[Path], str]:
    """Up to ``count`` images from a dataset.yaml (val, else test, else train) or a folder."""
    if source is None:
        return [], "synthetic"
    source = Path(source)
    if source.is_dir() and not (source / DATASET_YAML).is_file():
        images = sorted(p for p in source.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise ConfigError(
                f"--parity-images {source}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder"
            )
        return images[:count], str(source)
    spec = load_dataset(source)
    for split in ("val", "test", "train"):
        if images := spec.images(split):
            return images[:count], f"{spec.yaml_path}:{split}"
    raise ConfigError(f"{spec.yaml_path}: no images in any split for the parity check")


def export_onnx(weights: Path, out_dir: Path, cfg: ExportConfig = ExportConfig()) -> ExportResult:  # noqa: B008
    """Export ``weights`` to a simplified ONNX model with a model card, after proving parity.

    Raises:
        ConfigError: bad weights, image size, opset, parity images or ``out_dir``. ParityError: ONNX Runtime
            disagrees. UnsafeCheckpoint: globals outside the allowlist. StorageError: the disk is full.
    """
    t0 = time.perf_counter()
    weights, out_dir = Path(weights), Path(out_dir)
    guard_out_dir(out_dir, [weights, cfg.parity_images, cfg.metrics_json], overwrite=cfg.overwrite)
    _check(weights, cfg)
    images, source = parity_image_paths(cfg.parity_images, cfg.parity_count)

    import onnx

    from components._yolo import export  # heavy: torch + ultralytics
    from components._yolo.model import safe_load

    safe_load(weights)  # refuse a crafted checkpoint by its own name, before anything is staged

    with no_room_as_storage_error(out_dir, "nothing was written"), staged_dir(out_dir) as tmp:
        raw_path, meta = export.export_onnx(
            weights=weights, work_dir=tmp / ".work", imgsz=cfg.imgsz, opset=cfg.opset, dynamic=cfg.dynamic
        )
        model = onnx.load(str(raw_path))
        nodes_before = len(model.graph.node)
        if cfg.simplify:
            model = _simplify(model, raw_path)
        decomposed = decompose_inner_softmax(model)
        final = _save_checked(model, raw_path, tmp / MODEL_ONNX)
        report = _prove_and_time(weights, final, images, source, cfg)
        report["nodes"] = {"before": nodes_before, "after": len(model.graph.node), "simplified": cfg.simplify,
                           "softmax_decomposed": decomposed}  # fmt: skip
        report["bytes"] = {"weights": weights.stat().st_size, "onnx_raw": raw_path.stat().st_size,
                           "onnx": final.stat().st_size}  # fmt: skip
        report.update(opset=cfg.opset, dynamic=cfg.dynamic, imgsz=cfg.imgsz, versions=_versions())
        card = _model_card(weights, final, model, meta, cfg)
        if cfg.end_to_end:
            e2e = _export_end_to_end(weights, tmp, images, cfg)
            report["end_to_end"] = e2e
            card["end_to_end"] = {
                k: e2e[k] for k in ("file", "sha256", "bytes", "max_batch", "conf", "iou", "max_det")
            }
        shutil.rmtree(tmp / ".work")
        report["seconds"] = round(time.perf_counter() - t0, 3)
        result = ExportResult(out_dir, card, report)
        write_json_atomic(tmp / "model.json", result.model_card)
        write_json_atomic(tmp / "export.json", result.report)
    done = result.to_dict()
    log.info(
        "export: %s -> %s (%d -> %d nodes, %.1f MB); parity on %d %s images: max |diff| %.2e, %d detections "
        "equal; latency ONNX Runtime %.1f ms vs PyTorch %.1f ms (CPU, batch 1)",
        weights, result.onnx_path, done["nodes_before"], done["nodes_after"], done["onnx_bytes"] / 1e6,
        done["parity_images"], "synthetic" if source == "synthetic" else "real", done["max_abs_diff"],
        done["detections"], done["onnx_ms"], done["torch_ms"],
    )  # fmt: skip
    return result


def _export_end_to_end(weights: Path, tmp: Path, images: Sequence[Path], cfg: ExportConfig) -> dict[str, Any]:
    """Write ``model_e2e.onnx`` beside ``model.onnx`` and prove its detections equal the raw model's + NMS."""
    import onnx

    from components._yolo.export import export_onnx_end_to_end

    raw_path = export_onnx_end_to_end(
        weights=weights, work_dir=tmp / ".work" / "e2e", imgsz=cfg.imgsz, opset=cfg.opset,
        batch=cfg.end_to_end_batch, conf=cfg.end_to_end_conf, iou=cfg.end_to_end_iou,
        max_det=cfg.end_to_end_max_det,
    )  # fmt: skip
    model = onnx.load(str(raw_path))
    # the exporter leaves the rows and columns symbolic; fixed, a server's metadata shows (-1, max_det, 6)
    dims = model.graph.output[0].type.tensor_type.shape.dim
    for dim, value in zip(dims[1:], (cfg.end_to_end_max_det, 6), strict=True):
        dim.dim_value = value
    decompose_inner_softmax(model)
    final = _save_checked(model, raw_path, tmp / MODEL_E2E_ONNX, full_check=True)
    parity = _end_to_end_parity(tmp / MODEL_ONNX, final, images, cfg)
    return {
        "file": MODEL_E2E_ONNX, "sha256": sha256_file(final), "bytes": final.stat().st_size,
        "max_batch": cfg.end_to_end_batch, "conf": cfg.end_to_end_conf, "iou": cfg.end_to_end_iou,
        "max_det": cfg.end_to_end_max_det,
        "output": "(batch, max_det, 6): x1 y1 x2 y2 score class in input pixels, zero rows after the last",
        "parity": parity,
    }  # fmt: skip


def _end_to_end_parity(raw: Path, e2e: Path, images: Sequence[Path], cfg: ExportConfig) -> dict[str, Any]:
    import numpy as np

    from components._yolo.export import nms

    batch = _parity_batch(images, cfg).numpy()
    raw_s, e2e_s = _session(raw), _session(e2e)
    raw_in, e2e_in = raw_s.get_inputs()[0].name, e2e_s.get_inputs()[0].name
    per_image = []
    for i in range(batch.shape[0]):
        x = batch[i : i + 1]
        ref = nms(
            raw_s.run(None, {raw_in: x})[0], cfg.parity_conf, cfg.end_to_end_iou, cfg.end_to_end_max_det
        )[0]
        rows = e2e_s.run(None, {e2e_in: x})[0][0]
        per_image.append(
            compare_detections(ref, rows[rows[:, 4] > cfg.parity_conf], cfg.box_atol, cfg.parity_conf)
        )
    failed = [(i, c) for i, c in enumerate(per_image) if not c["equal"]]
    detections = int(sum(c["torch"] for c in per_image))
    unmatched = int(sum(c["unmatched"] for c in per_image))
    # Ultralytics' in-graph NMS separates classes by an offset on boxes scaled to [0, 1/nc] per class, so a
    # box reaching past the image border can suppress one of a neighbouring class: a rare, border-only
    # difference. More than that is a broken model; validate then checks that the mAPs agree (0.005).
    allowed = 1 + int(END_TO_END_UNMATCHED * detections)
    if unmatched > allowed:
        i, c = failed[0]
        raise ParityError(
            f"{e2e.name}: detections differ from {raw.name} + NMS on {len(failed)} of {len(per_image)} images, "
            f"{unmatched} unmatched of {detections} (at most {allowed} allowed; image {i}: {c['reason']})"
        )
    if failed:
        log.warning("%s: %d of %d detections differ from the raw model's + NMS (at the image border: "
                    "Ultralytics' in-graph NMS); first: %s", e2e.name, unmatched, detections, failed[0][1]["reason"])  # fmt: skip
    return {
        "images": int(batch.shape[0]),
        "detections": detections,
        "unmatched": unmatched,
        "max_box_diff_px": float(max((c["max_box_diff"] for c in per_image), default=0.0)),
        "passed": bool(np.all([c["equal"] for c in per_image])),
    }


def _simplify(model: Any, raw_path: Path) -> Any:
    import onnxsim

    try:
        simplified, ok = onnxsim.simplify(model)
    except Exception as err:  # onnxsim raises plain RuntimeErrors from its C++ core
        raise YoloKfpError(
            f"{raw_path.name}: onnxsim failed ({type(err).__name__}: {err}); retry with simplify off"
        ) from err
    if not ok:
        raise YoloKfpError(
            f"{raw_path.name}: onnxsim could not validate the simplified model; retry with simplify off"
        )
    return simplified


def _save_checked(model: Any, raw_path: Path, path: Path, *, full_check: bool = False) -> Path:
    """Write ``model`` to ``path`` (temp name, rename) once ``onnx.checker`` and Ultralytics' metadata pass."""
    import onnx

    onnx.checker.check_model(model, full_check=full_check)
    missing = {"names", "stride", "imgsz", "task"} - {p.key for p in model.metadata_props}
    if missing:
        raise YoloKfpError(f"{raw_path.name}: Ultralytics metadata {sorted(missing)} missing after export")
    onnx.save(model, str(path.with_name(f".{path.name}.tmp")))
    os.replace(path.with_name(f".{path.name}.tmp"), path)
    return path


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import onnxsim

    from components._yolo.model import versions

    extra = {
        "onnx": onnx.__version__,
        "onnxsim": str(onnxsim.__version__),
        "onnxruntime": onnxruntime.__version__,
    }
    return {**versions(), **extra}


def _parity_batch(images: Sequence[Path], cfg: ExportConfig) -> Any:
    """``images`` letterboxed as Ultralytics' predictor does, or ``parity_count`` seeded noise images."""
    import torch

    from components._yolo.export import letterbox_batch

    if images:
        return letterbox_batch(images, cfg.imgsz)
    return torch.rand((cfg.parity_count, 3, cfg.imgsz, cfg.imgsz), generator=torch.Generator().manual_seed(0))


def _session(path: Path) -> Any:
    """A CPU session with as many threads as PyTorch uses (a fair latency comparison)."""
    import torch

    from components._shared.onnx_runtime import make_session

    return make_session(path, threads=torch.get_num_threads())


def _prove_and_time(
    weights: Path, onnx_path: Path, images: Sequence[Path], source: str, cfg: ExportConfig
) -> dict[str, Any]:
    import numpy as np
    import torch

    from components._yolo.export import nms, predict_raw, torch_model_for_parity

    model = torch_model_for_parity(weights)
    session = _session(onnx_path)
    input_name = session.get_inputs()[0].name
    batch = _parity_batch(images, cfg)
    diffs, per_image = [], []
    for i in range(batch.shape[0]):
        x = batch[i : i + 1]
        ref = predict_raw(model, x)
        out = session.run(None, {input_name: x.numpy()})[0]
        diffs.append(float(np.abs(ref - out).max()))
        d_ref = nms(ref, cfg.parity_conf, cfg.parity_iou)[0]
        d_out = nms(out, cfg.parity_conf, cfg.parity_iou)[0]
        per_image.append(compare_detections(d_ref, d_out, cfg.box_atol, cfg.parity_conf))
    failed = [(i, c) for i, c in enumerate(per_image) if not c["equal"]]
    parity = {
        "images": int(batch.shape[0]),
        "source": source,
        "max_abs_diff": max(diffs),
        "mean_max_abs_diff": float(np.mean(diffs)),
        "detections_torch": sum(c["torch"] for c in per_image),
        "detections_onnx": sum(c["onnx"] for c in per_image),
        "max_box_diff_px": max(c["max_box_diff"] for c in per_image),
        "conf": cfg.parity_conf,
        "iou": cfg.parity_iou,
        "box_atol_px": cfg.box_atol,
        "passed": not failed,
    }
    if failed:
        i, c = failed[0]
        raise ParityError(
            f"{onnx_path.name}: detections differ from PyTorch on {len(failed)} of {len(per_image)} images "
            f"(image {i}: {c['reason']}; max |raw diff| {parity['max_abs_diff']:.3g})"
        )
    x1 = batch[:1]
    latency = {
        "onnxruntime_ms": _median_ms(lambda: session.run(None, {input_name: x1.numpy()}), cfg.latency_runs),
        "pytorch_ms": _median_ms(lambda: predict_raw(model, x1), cfg.latency_runs),
        "runs": cfg.latency_runs,
        "batch": 1,
        "device": "cpu",
        "threads": torch.get_num_threads(),  # both runtimes (Ultralytics sets min(8, cores - 1))
    }
    latency["speedup"] = (
        round(latency["pytorch_ms"] / latency["onnxruntime_ms"], 3) if latency["onnxruntime_ms"] else None
    )
    return {"parity": parity, "latency": latency}


def _median_ms(fn: Callable[[], Any], runs: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 3)


def compare_detections(
    ref: Any, out: Any, box_atol: float, conf: float, conf_margin: float = 1e-4
) -> dict[str, Any]:
    """Match detections (``x1 y1 x2 y2 conf cls`` rows) one to one: same class, corners within ``box_atol``.

    A detection whose confidence lies within ``conf_margin`` of the threshold may be missing on the
    other side (a rounding difference decides whether it passes the threshold at all).
    """
    import numpy as np

    used: set[int] = set()
    max_diff = 0.0
    unmatched_ref = []
    for r in ref:
        best, best_diff = -1, float("inf")
        for j, o in enumerate(out):
            if j in used or int(o[5]) != int(r[5]):
                continue
            diff = float(np.abs(o[:4] - r[:4]).max())
            if diff < best_diff:
                best, best_diff = j, diff
        if best >= 0 and best_diff <= box_atol:
            used.add(best)
            max_diff = max(max_diff, best_diff)
        else:
            unmatched_ref.append(r)
    unmatched_out = [o for j, o in enumerate(out) if j not in used]
    serious = [d for d in (*unmatched_ref, *unmatched_out) if float(d[4]) - conf > conf_margin]
    reason = ""
    if serious:
        d = serious[0]
        side = "PyTorch" if any(d is r for r in unmatched_ref) else "ONNX Runtime"
        reason = (
            f"{len(ref)} PyTorch vs {len(out)} ONNX Runtime detections; unmatched {side} detection of class "
            f"{int(d[5])} conf {float(d[4]):.4f} at {np.round(d[:4], 2).tolist()}"
        )
    return {
        "equal": not serious,
        "torch": len(ref),
        "onnx": len(out),
        "max_box_diff": max_diff,
        "reason": reason,
        "unmatched": len(serious),
    }


def _io_shapes(values: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"name": v.name, "shape": [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim],
             "dtype": "float32"} for v in values]  # fmt: skip


def _training_metrics(weights: Path, cfg: ExportConfig) -> dict[str, Any] | None:
    path = cfg.metrics_json or weights.parent / "metrics.json"
    if not Path(path).is_file():
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        log.warning("%s is not valid JSON; the model card has no metrics", path)
        return None
    keys = ("map50", "map50_95", "precision", "recall", "per_class", "stage", "epochs", "split")
    return {k: data[k] for k in keys if k in data} | {"source": str(path)}


def _model_card(
    weights: Path, onnx_path: Path, model: Any, meta: dict[str, str], cfg: ExportConfig
) -> dict[str, Any]:
    from components._yolo.model import checkpoint_architecture, names_from_metadata

    classes = list(names_from_metadata(meta["names"], onnx_path))
    return {
        "name": onnx_path.name,
        "format": "onnx",
        "task": meta.get("task", "detect"),
        "architecture": checkpoint_architecture(weights),  # the real one (yolov5nu, yolov8s, yolo11n, ...)
        "description": meta.get("description", ""),
        "classes": classes,
        "names": classes,  # index order, as in the ONNX metadata and dataset.yaml
        "imgsz": cfg.imgsz,
        "stride": int(meta.get("stride", 32)),
        "opset": cfg.opset,
        "dynamic": cfg.dynamic,
        "inputs": _io_shapes(model.graph.input),
        "outputs": _io_shapes(model.graph.output),
        "preprocessing": "RGB, letterbox to imgsz (pad 114, centred), scale to [0, 1], NCHW float32",
        "postprocessing": "output0 (N, 4 + classes, anchors): cx, cy, w, h in input pixels and class scores; "
        "apply NMS (not in the graph)",
        "metrics": _training_metrics(weights, cfg),
        "source_weights": {
            "path": str(weights),
            "sha256": sha256_file(weights),
            "bytes": weights.stat().st_size,
        },
        "sha256": sha256_file(onnx_path),
        "bytes": onnx_path.stat().st_size,
        "ultralytics_version": meta.get("version"),
    }
