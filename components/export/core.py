"""Export a trained checkpoint to ONNX, simplify it, and prove it computes what PyTorch computes.

Output folder (replaced atomically)::

    model.onnx    simplified with onnxsim, checked with onnx.checker; carries Ultralytics' metadata
                  (names, stride, imgsz, task) so ``YOLO("model.onnx")`` and ``yolo-kfp validate`` work
    model.json    model card: classes, image size, input/output names and shapes, pre/post-processing,
                  metrics (from the training stage), sha256 of the source weights and of the ONNX file
    model_e2e.onnx the end-to-end model (``end_to_end``): the same network with NMS inside
                  (Ultralytics ``nms=True``), dynamic batch up to ``end_to_end_batch``, output
                  ``(batch, max_det, 6)`` = x1 y1 x2 y2 score class in input pixels; what Triton serves
    export.json   parity (max abs difference, detections), latency (ONNX Runtime vs PyTorch, CPU,
                  batch 1), node counts before/after simplification, file sizes

Parity runs both models on the same letterboxed images (real ones from ``parity_images`` when given:
a dataset.yaml's validation images or an image folder; synthetic otherwise). It fails with
``ParityError`` when the detections after NMS differ: another count, another class, or a box that
moved by more than ``box_atol`` pixels.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from components._shared.artifacts import DATASET_YAML, MODEL_E2E_ONNX, MODEL_ONNX
from components._shared.dataset import IMAGE_SUFFIXES, load_dataset
from components._shared.errors import ConfigError, YoloKfpError
from components._shared.fsio import guard_out_dir, no_room_as_storage_error, staged_dir, write_json_atomic

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
        metrics_json: the training stage's metrics.json for the model card; None: the one beside
            the weights, if any.
        overwrite: replace an ``out_dir`` holding files this stage did not write (never an input).
        end_to_end: also write ``model_e2e.onnx`` (NMS inside), checked against the raw model's detections.
        end_to_end_batch: the largest batch the end-to-end model takes (its NMS loop is unrolled for it;
            publish gives Triton this ``max_batch_size``).
        end_to_end_conf: the score threshold baked into its NMS: validation's, so its mAP equals the raw
            model's (clients apply their own threshold to the scores).
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
    """What ``export_onnx`` wrote; details in ``export.json`` and ``model.json``."""

    out_dir: Path
    onnx_path: Path
    model_json: Path
    export_json: Path
    names: tuple[str, ...]
    imgsz: int
    opset: int
    dynamic: bool
    parity_images: int
    parity_source: str
    max_abs_diff: float
    detections: int
    onnx_ms: float
    torch_ms: float
    nodes_before: int
    nodes_after: int
    onnx_bytes: int
    sha256: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (paths as strings)."""
        d = asdict(self)
        for k in ("out_dir", "onnx_path", "model_json", "export_json"):
            d[k] = str(d[k])
        d["names"] = list(self.names)
        return d

    def summary(self) -> dict[str, float]:
        """Scalars for the run page (KFP ``Metrics``)."""
        return {
            "max_abs_diff": self.max_abs_diff,
            "parity_images": float(self.parity_images),
            "onnx_ms": self.onnx_ms,
            "torch_ms": self.torch_ms,
            "nodes_before": float(self.nodes_before),
            "nodes_after": float(self.nodes_after),
        }

    def card(self) -> dict[str, Any]:
        """Metadata for the ONNX artifact (KFP ``Model``)."""
        return {
            "framework": "onnx",
            "opset": self.opset,
            "classes": list(self.names),
            "imgsz": self.imgsz,
            "dynamic": self.dynamic,
            "sha256": self.sha256,
            "max_abs_diff": self.max_abs_diff,
        }


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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

    Args:
        weights: an Ultralytics checkpoint (``best.pt``).
        out_dir: folder to write (replaced atomically): ``model.onnx``, ``model.json``, ``export.json``.
        cfg: export, parity and latency options.

    Returns:
        Parity, latency, node counts and the ONNX file's checksum.

    Raises:
        ConfigError: missing weights, a bad image size or opset, unusable parity images, or an ``out_dir``
            that is, contains or lies inside an input (or holds foreign files, without ``overwrite``).
        UnsafeCheckpoint: the weights reference globals outside the allowlist (nothing was run).
        ParityError: ONNX Runtime's detections differ from PyTorch's.
        StorageError: the file system refused a write for lack of room (full disk, quota); nothing was written.
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
        onnx.checker.check_model(model)
        _require_metadata(model, raw_path)
        final = tmp / MODEL_ONNX
        onnx.save(model, str(tmp / f".{MODEL_ONNX}.tmp"))
        os.replace(tmp / f".{MODEL_ONNX}.tmp", final)
        report = _prove_and_time(weights, final, images, source, cfg)
        report["nodes"] = {"before": nodes_before, "after": len(model.graph.node), "simplified": cfg.simplify}
        report["bytes"] = {"weights": weights.stat().st_size, "onnx_raw": raw_path.stat().st_size}
        report["bytes"]["onnx"] = final.stat().st_size
        report.update(opset=cfg.opset, dynamic=cfg.dynamic, imgsz=cfg.imgsz, versions=_versions())
        card = _model_card(weights, final, model, meta, cfg)
        if cfg.end_to_end:
            e2e = _export_end_to_end(weights, tmp, images, cfg)
            report["end_to_end"] = e2e
            card["end_to_end"] = {
                k: e2e[k] for k in ("file", "sha256", "bytes", "max_batch", "conf", "iou", "max_det")
            }
        shutil.rmtree(tmp / ".work")
        write_json_atomic(tmp / "model.json", card)
        report["seconds"] = round(time.perf_counter() - t0, 3)
        write_json_atomic(tmp / "export.json", report)
    result = _result(out_dir, card, report)
    log.info(
        "export: %s -> %s (%d -> %d nodes, %.1f MB); parity on %d %s images: max |diff| %.2e, %d detections "
        "equal; latency ONNX Runtime %.1f ms vs PyTorch %.1f ms (CPU, batch 1)",
        weights,
        result.onnx_path,
        result.nodes_before,
        result.nodes_after,
        result.onnx_bytes / 1e6,
        result.parity_images,
        "synthetic" if source == "synthetic" else "real",
        result.max_abs_diff,
        result.detections,
        result.onnx_ms,
        result.torch_ms,
    )
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
    onnx.checker.check_model(model, full_check=True)
    _require_metadata(model, raw_path)
    final = tmp / MODEL_E2E_ONNX
    onnx.save(model, str(tmp / f".{MODEL_E2E_ONNX}.tmp"))
    os.replace(tmp / f".{MODEL_E2E_ONNX}.tmp", final)
    parity = _end_to_end_parity(tmp / MODEL_ONNX, final, images, cfg)
    return {
        "file": MODEL_E2E_ONNX,
        "sha256": sha256(final),
        "bytes": final.stat().st_size,
        "max_batch": cfg.end_to_end_batch,
        "conf": cfg.end_to_end_conf,
        "iou": cfg.end_to_end_iou,
        "max_det": cfg.end_to_end_max_det,
        "output": "(batch, max_det, 6): x1 y1 x2 y2 score class in input pixels, zero rows after the last",
        "parity": parity,
    }


def _end_to_end_parity(raw: Path, e2e: Path, images: Sequence[Path], cfg: ExportConfig) -> dict[str, Any]:
    """The end-to-end model's rows above ``parity_conf`` against the raw ONNX model's NMS, image by image."""
    import numpy as np
    import torch

    from components._yolo.export import letterbox_batch, nms

    if images:
        batch = letterbox_batch(images, cfg.imgsz).numpy()
    else:
        batch = torch.rand(
            (cfg.parity_count, 3, cfg.imgsz, cfg.imgsz), generator=torch.Generator().manual_seed(0)
        )
        batch = batch.numpy()
    raw_s, e2e_s = _session(raw, torch.get_num_threads()), _session(e2e, torch.get_num_threads())
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


def _require_metadata(model: Any, raw_path: Path) -> None:
    keys = {p.key for p in model.metadata_props}
    missing = {"names", "stride", "imgsz", "task"} - keys
    if missing:
        raise YoloKfpError(f"{raw_path.name}: Ultralytics metadata {sorted(missing)} missing after export")


def _versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import onnxsim

    from components._yolo.model import versions

    return {
        **versions(),
        "onnx": onnx.__version__,
        "onnxsim": str(onnxsim.__version__),
        "onnxruntime": onnxruntime.__version__,
    }


def _session(path: Path, threads: int) -> Any:
    """A CPU session with as many threads as PyTorch uses (a fair latency comparison)."""
    from components._shared.onnx_runtime import make_session

    return make_session(path, threads=threads)


def _prove_and_time(
    weights: Path, onnx_path: Path, images: Sequence[Path], source: str, cfg: ExportConfig
) -> dict[str, Any]:
    """Parity of raw outputs and detections, then CPU latency of both runtimes."""
    import numpy as np
    import torch

    from components._yolo.export import letterbox_batch, nms, predict_raw, torch_model_for_parity

    model = torch_model_for_parity(weights)
    session = _session(onnx_path, torch.get_num_threads())
    input_name = session.get_inputs()[0].name
    if images:
        batch = letterbox_batch(images, cfg.imgsz)
    else:
        gen = torch.Generator().manual_seed(0)
        batch = torch.rand((cfg.parity_count, 3, cfg.imgsz, cfg.imgsz), generator=gen)
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
    out = []
    for v in values:
        dims = [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
        out.append({"name": v.name, "shape": dims, "dtype": "float32"})
    return out


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
        "source_weights": {"path": str(weights), "sha256": sha256(weights), "bytes": weights.stat().st_size},
        "sha256": sha256(onnx_path),
        "bytes": onnx_path.stat().st_size,
        "ultralytics_version": meta.get("version"),
    }


def _result(out_dir: Path, card: dict[str, Any], report: dict[str, Any]) -> ExportResult:
    parity, latency = report["parity"], report["latency"]
    return ExportResult(
        out_dir=out_dir,
        onnx_path=out_dir / MODEL_ONNX,
        model_json=out_dir / "model.json",
        export_json=out_dir / "export.json",
        names=tuple(card["classes"]),
        imgsz=card["imgsz"],
        opset=card["opset"],
        dynamic=card["dynamic"],
        parity_images=parity["images"],
        parity_source=parity["source"],
        max_abs_diff=parity["max_abs_diff"],
        detections=parity["detections_torch"],
        onnx_ms=latency["onnxruntime_ms"],
        torch_ms=latency["pytorch_ms"],
        nodes_before=report["nodes"]["before"],
        nodes_after=report["nodes"]["after"],
        onnx_bytes=report["bytes"]["onnx"],
        sha256=card["sha256"],
        seconds=report["seconds"],
    )
