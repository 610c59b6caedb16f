"""The only module that imports Ultralytics: training, validation and ONNX export behind plain functions.

Swapping the trainer means rewriting this file only. Importing it makes Ultralytics safe to run
without a network (see ``_install_patches``):

* ``YOLO_OFFLINE=1`` (no update check, no analytics) and ``YOLO_AUTOINSTALL=false`` (never
  ``pip install`` at run time) are set before Ultralytics is imported.
* ``check_font`` (called by every dataset check and label plot; it downloads Arial.ttf) returns
  matplotlib's bundled DejaVu Sans instead.
* ``save_dataset_cache_file`` does nothing: Ultralytics would write ``labels.cache`` into the
  dataset folder, which is another stage's output (and read-only in a pipeline).
* ``check_amp`` (downloads yolo26n.pt on a GPU) is replaced by an fp32-vs-autocast comparison of the
  model being trained.

The trainer subclass lives here so that DDP workers, which unpickle it, import this module and get the
same patches. Checkpoints are always loaded from a neutral file name because Ultralytics silently
rewrites ``yolov5s.pt`` to ``yolov5su.pt`` and then tries to download that.
"""

from __future__ import annotations

import os

os.environ["YOLO_OFFLINE"] = "1"  # before the first ultralytics import: ONLINE is computed at import
os.environ["YOLO_AUTOINSTALL"] = "false"

import contextlib  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable, Iterator, Mapping, Sequence  # noqa: E402
from copy import deepcopy  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import ultralytics  # noqa: E402
import ultralytics.data.dataset as _ul_dataset  # noqa: E402
import ultralytics.data.utils as _ul_data_utils  # noqa: E402
import ultralytics.engine.trainer as _ul_trainer  # noqa: E402
import ultralytics.utils.checks as _ul_checks  # noqa: E402
import ultralytics.utils.plotting as _ul_plotting  # noqa: E402
from ultralytics import YOLO  # noqa: E402
from ultralytics.models.yolo.detect import DetectionTrainer, DetectionValidator  # noqa: E402
from ultralytics.nn.tasks import DetectionModel, load_checkpoint  # noqa: E402
from ultralytics.utils import LOGGER, RANK  # noqa: E402
from ultralytics.utils.torch_utils import unwrap_model  # noqa: E402

from components._shared.errors import ConfigError  # noqa: E402
from components._shared.fsio import link_or_copy, write_json_atomic  # noqa: E402

log = logging.getLogger(__name__)

ULTRALYTICS_VERSION = ultralytics.__version__
BACKBONE_LAYERS = 10  # YOLOv5 backbone: model.0 .. model.9 (SPPF)
RECORD_NAME = "train_record.json"  # written by the rank-0 training process into the run folder
INITIAL_STATE_NAME = "initial_state.pt"  # watched tensors at the start (architecture YAML inputs only)
CONFUSION_CONF = 0.25  # detections counted in the confusion matrix
CONFUSION_IOU = 0.45  # box match for the confusion matrix (Ultralytics' default)


def _local_font(font: str = "Arial.ttf") -> Path:
    """Offline stand-in for ``check_font``: matplotlib's DejaVu Sans (bundled, covers most scripts)."""
    from matplotlib import font_manager

    return Path(font_manager.findfont("DejaVu Sans"))


def _local_check_amp(model: torch.nn.Module) -> bool:
    """Offline stand-in for ``check_amp``: compare fp32 and autocast outputs of the model itself.

    Ultralytics' check downloads yolo26n.pt and runs it on a bundled image; this one needs nothing
    but the model being trained. AMP is only used on CUDA, as upstream.
    """
    device = next(model.parameters()).device
    if device.type != "cuda":
        return False
    m = deepcopy(unwrap_model(model)).eval()
    x = torch.rand(2, 3, 256, 256, device=device, generator=None)
    with torch.no_grad():
        a = m(x)[0].float()
        with torch.autocast("cuda"):
            b = m(x)[0].float()
    del m
    ok = bool(torch.isfinite(b).all()) and torch.allclose(a[:, :4], b[:, :4], rtol=1e-2, atol=0.5)
    log.info(
        "AMP check (local, fp32 vs autocast on the model itself): %s", "passed" if ok else "failed, AMP off"
    )
    return ok


def _no_dataset_cache(prefix: str, path: Path, x: dict, version: str) -> None:
    """Stand-in for ``save_dataset_cache_file``: the dataset is a stage input and is never written to."""
    x["version"] = version  # the caller pops it, as after the real save
    log.debug("not writing %s (inputs stay read-only; labels are re-scanned each run)", path)


def _install_patches() -> None:
    for handler in LOGGER.handlers:  # Ultralytics logs to stdout; stdout is for the CLI's JSON summary
        if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout:
            handler.setStream(sys.stderr)
    if RANK != -1:  # a DDP worker: its stdout is the launching CLI's stdout
        sys.stdout = sys.stderr
    _ul_dataset.save_dataset_cache_file = _no_dataset_cache
    _ul_data_utils.check_font = _local_font
    _ul_plotting.check_font = _local_font
    _ul_checks.check_font = _local_font
    _ul_trainer.check_amp = _local_check_amp


_install_patches()


def quiet_stdout() -> contextlib.AbstractContextManager[Any]:
    """Send Ultralytics' prints and progress bars (stdout by default) to stderr."""
    return contextlib.redirect_stdout(sys.stderr)


class OfflineDetectionTrainer(DetectionTrainer):
    """Ultralytics' detection trainer; defined here so DDP workers import this module (and its patches)."""


class ConfusionValidator(DetectionValidator):
    """Detection validator that fills the confusion matrix without Ultralytics' plots (``plots=False``).

    Upstream only counts the matrix when it also draws label images (which need a downloaded font),
    so the matrix is counted here, per image, with the same call upstream uses, but at a deployment
    confidence (upstream passes the mAP threshold, 0.001, which floods the background column).
    """

    def _process_batch(self, preds: dict[str, torch.Tensor], batch: dict[str, Any]) -> dict[str, np.ndarray]:
        if not self.args.plots:
            self.confusion_matrix.process_batch(preds, batch, conf=CONFUSION_CONF, iou_thres=CONFUSION_IOU)
        return super()._process_batch(preds, batch)


# ---------------------------------------------------------------------------------------------- models


@contextlib.contextmanager
def neutral_copy(path: Path, suffix: str) -> Iterator[Path]:
    """Yield a hard link (or copy) of ``path`` named ``model<suffix>`` in a temp folder.

    Ultralytics rewrites checkpoint names such as ``yolov5s.pt`` to ``yolov5su.pt`` before loading.
    """
    with tempfile.TemporaryDirectory(prefix="yolo-kfp-weights-") as tmp:
        dst = Path(tmp) / f"model{suffix}"
        link_or_copy(Path(path), dst)
        yield dst


def load_model(path: Path) -> tuple[DetectionModel, dict[str, Any]]:
    """Load an Ultralytics checkpoint as an fp32 model (eval mode) and its checkpoint dict.

    Raises:
        ConfigError: the file is not an Ultralytics detection checkpoint (with the reason).
    """
    try:
        with neutral_copy(path, ".pt") as tmp:
            model, ckpt = load_checkpoint(tmp)
    except (TypeError, ModuleNotFoundError, AttributeError, RuntimeError, EOFError, KeyError) as err:
        first = " ".join(str(err).split())[:200]
        raise ConfigError(
            f"{path}: not an Ultralytics checkpoint ({type(err).__name__}: {first}); original YOLOv5 "
            f"(ultralytics/yolov5) .pt files must be converted: use the 'u' models such as yolov5su.pt"
        ) from err
    if not isinstance(model, DetectionModel):
        raise ConfigError(f"{path}: a {type(model).__name__}, not a detection model")
    return model, ckpt


def build_model(arch: str, nc: int) -> DetectionModel:
    """Build a detection model from an architecture YAML (``yolov5n.yaml`` builds YOLOv5nu)."""
    try:
        return DetectionModel(arch, nc=nc, verbose=False)
    except (FileNotFoundError, OSError, KeyError, AttributeError) as err:
        raise ConfigError(
            f"--weights {arch}: unknown architecture YAML ({type(err).__name__}); use e.g. yolov5n.yaml, "
            f"yolov5s.yaml or a path to a model YAML"
        ) from err


def layer_count(model: DetectionModel) -> int:
    """Number of top-level layers (``model.0`` ... ``model.<n-1>``); the last one is the Detect head."""
    return len(model.model)


def prefixes(n_layers: int) -> tuple[str, ...]:
    """State-dict key prefixes of the first ``n_layers`` layers (Ultralytics' freeze names)."""
    return tuple(f"model.{i}." for i in range(n_layers))


def watched_state(state: Mapping[str, torch.Tensor], pre: Sequence[str]) -> dict[str, torch.Tensor]:
    """The tensors (parameters and buffers) of ``state`` under the given prefixes, copied to the CPU."""
    return {k: v.detach().clone().cpu() for k, v in state.items() if k.startswith(tuple(pre))}


def param_counts(model: torch.nn.Module, pre: Sequence[str]) -> tuple[int, int]:
    """(total parameters, parameters under the prefixes)."""
    total = sum(p.numel() for p in model.parameters())
    inside = sum(p.numel() for n, p in model.named_parameters() if n.startswith(tuple(pre)))
    return total, inside


def compare_states(
    actual: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], dtype: torch.dtype | None = None
) -> dict[str, Any]:
    """Bit-exact comparison of the expected keys (optionally after casting both to ``dtype``).

    Returns:
        ``identical``, ``tensors`` compared, ``max_abs_diff`` and up to five ``mismatched`` keys
        (missing keys and shape differences count as mismatches).
    """
    mismatched: list[str] = []
    max_diff = 0.0
    for k, e in expected.items():
        a = actual.get(k)
        if a is None or a.shape != e.shape:
            mismatched.append(f"{k} (missing or reshaped)")
            max_diff = float("inf")
            continue
        a, e = a.detach().cpu(), e.detach().cpu()
        if dtype is not None and e.is_floating_point():
            a, e = a.to(dtype), e.to(dtype)
        if not torch.equal(a, e):
            mismatched.append(k)
            if e.is_floating_point() or a.is_floating_point():
                max_diff = max(max_diff, float((a.double() - e.double()).abs().max()))
            else:
                max_diff = max(max_diff, float((a.long() - e.long()).abs().max()))
    return {
        "identical": not mismatched,
        "tensors": len(expected),
        "max_abs_diff": max_diff,
        "mismatched": mismatched[:5],
    }


def max_param_change(
    actual: Mapping[str, torch.Tensor], reference: Mapping[str, torch.Tensor], param_names: set[str]
) -> float:
    """Largest absolute change of the named parameters that exist in both states."""
    change = 0.0
    for k in param_names:
        if k in actual and k in reference and actual[k].shape == reference[k].shape:
            a, r = actual[k].detach().cpu().double(), reference[k].detach().cpu().double()
            change = max(change, float((a - r).abs().max()))
    return change


def checkpoint_state(path: Path) -> dict[str, torch.Tensor]:
    """State dict of a checkpoint's model (EMA when present) in its stored precision (fp16 for Ultralytics)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model = ckpt.get("ema") or ckpt.get("model")
    return {k: v.detach() for k, v in model.state_dict().items()}


def checkpoint_progress(path: Path) -> dict[str, Any] | None:
    """Resume facts of a ``last.pt``: ``{epoch, epochs, train_args}`` or None if it cannot resume.

    ``epoch`` is the number of finished epochs; a stripped (finished) checkpoint has no optimizer.
    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # a half-written file from a killed pod: Ultralytics writes last.pt in place
        log.warning("%s is unreadable (%s); it cannot be resumed", path, type(err).__name__)
        return None
    if not isinstance(ckpt, dict) or ckpt.get("optimizer") is None or int(ckpt.get("epoch", -1)) < 0:
        return None
    args = dict(ckpt.get("train_args") or {})
    return {
        "epoch": int(ckpt["epoch"]) + 1,
        "epochs": int(args.get("epochs", 0)),
        "train_args": args,
        "train_results": ckpt.get("train_results") or {},
    }


# -------------------------------------------------------------------------------------------- training


@dataclass
class TrainRecorder:
    """Callbacks of the rank-0 training process: frozen-layer proof, final metrics, checkpoint hook.

    The verdict goes to ``run_dir/train_record.json`` so it also reaches the parent of a DDP run.

    Attributes:
        run_dir: the Ultralytics save_dir.
        watch: state-dict prefixes to watch (the frozen layers, or the backbone when nothing is frozen).
        frozen: whether the watched layers are frozen (then they must stay bit-identical).
        reference: the watched tensors of the input weights (None for an architecture YAML: then the
            state at the first start is saved to ``initial_state.pt`` and used).
        on_checkpoint: called with (last.pt, finished epochs) after every checkpoint save.
    """

    run_dir: Path
    watch: tuple[str, ...]
    frozen: bool
    reference: dict[str, torch.Tensor] | None = None
    on_checkpoint: Callable[[Path, int], None] | None = None
    record: dict[str, Any] = field(default_factory=dict)
    _start: dict[str, torch.Tensor] = field(default_factory=dict)

    def attach(self, trainer: DetectionTrainer) -> None:
        """Register the callbacks on an Ultralytics trainer."""
        trainer.add_callback("on_pretrain_routine_end", self.on_pretrain_routine_end)
        trainer.add_callback("on_model_save", self.on_model_save)
        trainer.add_callback("on_train_end", self.on_train_end)

    def on_pretrain_routine_end(self, trainer: DetectionTrainer) -> None:
        """Capture the watched tensors as the trainer built (or resumed) them, before the first step."""
        if RANK not in (-1, 0):
            return
        model = unwrap_model(trainer.model)
        self._start = watched_state(model.state_dict(), self.watch)
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        frozen_grad = [n for n, p in model.named_parameters() if n.startswith(self.watch) and p.requires_grad]
        initial = self.run_dir / INITIAL_STATE_NAME
        if self.reference is None:
            if not trainer.resume:
                torch.save(self._start, initial)
            self.reference = torch.load(initial) if initial.is_file() else dict(self._start)
        # A resumed start comes from an fp16 checkpoint: compare it at that precision.
        start_vs_input = compare_states(
            self._start, self.reference, torch.float16 if trainer.resume else None
        )
        self.record = {
            "resumed": bool(trainer.resume),
            "start_epoch": int(trainer.start_epoch),
            "total_params": total,
            "trainable_params": trainable,
            "watched_requires_grad": frozen_grad[:5] if self.frozen else [],
            "start_vs_input": start_vs_input,
        }

    def on_model_save(self, trainer: DetectionTrainer) -> None:
        """Hand the freshly written ``last.pt`` to the checkpoint hook (e.g. an upload)."""
        if self.on_checkpoint is not None and RANK in (-1, 0):
            self.on_checkpoint(Path(trainer.last), int(trainer.epoch) + 1)

    def on_train_end(self, trainer: DetectionTrainer) -> None:
        """Compare the final fp32 model and EMA with the start; save the final validation's numbers."""
        if RANK not in (-1, 0):
            return
        model = unwrap_model(trainer.model)
        if self.frozen:
            self.record["live_vs_start"] = compare_states(model.state_dict(), self._start)
            self.record["ema_vs_start"] = compare_states(trainer.ema.ema.state_dict(), self._start)
        else:  # in fp32: best.pt is fp16, and a short fine-tune can move weights by less than an fp16 step
            names = {n for n, _ in model.named_parameters() if n.startswith(self.watch)}
            ema = trainer.ema.ema.state_dict()
            self.record["backbone_change_fp32"] = max_param_change(ema, self.reference or self._start, names)
        self.record["final"] = final_metrics(trainer)
        self.record["epochs_run"] = int(trainer.epoch) + 1 - int(self.record.get("start_epoch", 0))
        write_json_atomic(self.run_dir / RECORD_NAME, self.record)


def final_metrics(trainer: DetectionTrainer) -> dict[str, Any]:
    """Overall and per-class numbers of the trainer's last validation (best.pt after final_eval)."""
    v = trainer.validator
    if v is None or getattr(v, "metrics", None) is None:
        return {}
    return metrics_dict(v.metrics, trainer.data["names"])


def metrics_dict(metrics: Any, names: Mapping[int, str]) -> dict[str, Any]:
    """mAP50, mAP50-95, P, R and a per-class table from Ultralytics ``DetMetrics``."""
    box = metrics.box
    mp, mr, map50, map50_95 = (float(x) for x in box.mean_results())
    nt = getattr(metrics, "nt_per_class", None)
    nt_img = getattr(metrics, "nt_per_image", None)
    per_class: dict[str, dict[str, float | int]] = {}
    index = {int(c): i for i, c in enumerate(box.ap_class_index)}
    for c, name in names.items():
        row: dict[str, float | int] = {"ap50": 0.0, "ap50_95": 0.0, "precision": 0.0, "recall": 0.0}
        if (i := index.get(int(c))) is not None:
            p, r, ap50, ap = box.class_result(i)
            row = {"ap50": float(ap50), "ap50_95": float(ap), "precision": float(p), "recall": float(r)}
        row["instances"] = int(nt[int(c)]) if nt is not None and len(nt) > int(c) else 0
        row["images"] = int(nt_img[int(c)]) if nt_img is not None and len(nt_img) > int(c) else 0
        per_class[str(name)] = row
    return {
        "map50": map50,
        "map50_95": map50_95,
        "precision": mp,
        "recall": mr,
        "per_class": per_class,
    }


@dataclass(frozen=True)
class TrainRun:
    """What one call of ``run_training`` produced in the run folder."""

    run_dir: Path
    best: Path
    last: Path
    results_csv: Path
    record: dict[str, Any]
    resumed: bool


def train(
    *,
    data_yaml: Path,
    run_dir: Path,
    model: DetectionModel | None,
    model_arg: str,
    arch: str | None,
    overrides: Mapping[str, Any],
    recorder: TrainRecorder,
    resume_ckpt: Path | None,
) -> TrainRun:
    """Run Ultralytics training into ``run_dir`` (a fresh run, or a resume of ``resume_ckpt``).

    Args:
        data_yaml: dataset YAML with an absolute ``path``.
        run_dir: Ultralytics save_dir (``weights/``, ``results.csv``, ``args.yaml``).
        model: the loaded input checkpoint (its weights are transferred into a model built for the
            dataset's classes, as ``YOLO(...).train`` does); None to build ``arch`` from scratch.
        model_arg: what to record as ``model`` in the run's arguments.
        arch: architecture YAML used when ``model`` is None.
        overrides: Ultralytics training arguments (epochs, imgsz, lr0, freeze, ...).
        recorder: callbacks (frozen proof, metrics, checkpoint hook).
        resume_ckpt: a ``last.pt`` with the trainer's state to continue from.
    """
    args: dict[str, Any] = {
        **overrides,
        "data": str(data_yaml),
        "task": "detect",
        "mode": "train",
        "model": model_arg,
        "save_dir": str(run_dir),
        "exist_ok": True,
        "plots": False,  # Ultralytics' plots draw labels with a downloaded font; we plot ourselves
        "val": True,
    }
    if resume_ckpt is not None:
        args["resume"] = str(resume_ckpt)
        args["model"] = str(resume_ckpt)
    if "," in str(overrides.get("device", "")):
        _require_ddp_support()
    with quiet_stdout():
        return _train(args, run_dir, model, arch, recorder, resume_ckpt)


def _train(
    args: dict[str, Any],
    run_dir: Path,
    model: DetectionModel | None,
    arch: str | None,
    recorder: TrainRecorder,
    resume_ckpt: Path | None,
) -> TrainRun:
    try:
        trainer = OfflineDetectionTrainer(overrides=args)
    except (FileNotFoundError, RuntimeError) as err:
        raise ConfigError(f"Ultralytics refused the run: {' '.join(str(err).split())[:300]}") from err
    if resume_ckpt is None:
        cfg = model.yaml if model is not None else arch
        trainer.model = trainer.get_model(cfg=cfg, weights=model, verbose=False)
    recorder.attach(trainer)
    trainer.train()
    record_path = run_dir / RECORD_NAME
    record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.is_file() else {}
    return TrainRun(
        run_dir=run_dir,
        best=Path(trainer.best),
        last=Path(trainer.last),
        results_csv=run_dir / "results.csv",
        record=record,
        resumed=resume_ckpt is not None,
    )


def _require_ddp_support() -> None:
    """Multi-GPU runs pickle the trainer with cloudpickle>=3.1.1; Ultralytics would pip-install it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("cloudpickle")
    except PackageNotFoundError:
        found = None
    parts = tuple(int(x) for x in found.split(".")[:3] if x.isdigit()) if found else ()
    if parts < (3, 1, 1):
        raise ConfigError(
            f"multi-GPU training needs cloudpickle>=3.1.1 (found {found or 'none'}); add it to the training "
            f"image, or train on one GPU with --device 0"
        )


def versions() -> dict[str, str]:
    """Versions of the libraries that shaped the result (for reports and model cards)."""
    import platform

    return {
        "ultralytics": ULTRALYTICS_VERSION,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def copy_checkpoint(src: Path, dst: Path) -> None:
    """Copy a checkpoint byte for byte (to the run folder, before resuming from it)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


# ------------------------------------------------------------------------------------------ validation


def validate(
    *,
    weights: Path,
    data_yaml: Path,
    save_dir: Path,
    split: str,
    imgsz: int,
    batch: int,
    device: str,
    conf: float,
    iou: float,
) -> dict[str, Any]:
    """Validate a ``.pt`` or ``.onnx`` model; overall, per-class, confusion matrix and PR-curve data."""
    suffix = weights.suffix.lower()
    if suffix == ".onnx":
        device = _onnx_device(device)
    with neutral_copy(weights, suffix) as tmp, quiet_stdout():
        try:
            model = YOLO(str(tmp), task="detect")
        except (TypeError, ModuleNotFoundError, RuntimeError, AttributeError, KeyError) as err:
            raise ConfigError(f"{weights}: cannot load the model ({type(err).__name__}: {err})") from err
        metrics = model.val(
            validator=ConfusionValidator,
            data=str(data_yaml),
            split=split,
            imgsz=imgsz,
            batch=batch,
            device=device,
            conf=conf,
            iou=iou,
            plots=False,
            save_json=False,
            save_dir=str(save_dir),
            verbose=True,
        )
        names = {int(k): str(v) for k, v in model.names.items()}
    out = metrics_dict(metrics, names)
    cm = metrics.confusion_matrix
    out["confusion_matrix"] = {
        "labels": [names[i] for i in sorted(names)] + ["background"],
        "matrix": np.asarray(cm.matrix).astype(int).tolist(),  # rows: predicted, columns: true (Ultralytics)
        "conf": CONFUSION_CONF,
        "iou": CONFUSION_IOU,
    }
    box = metrics.box
    out["pr_curve"] = {
        "recall": np.asarray(box.px).tolist(),
        "precision": {
            names[int(c)]: np.asarray(box.prec_values[i]).tolist() for i, c in enumerate(box.ap_class_index)
        },
    }
    out["speed_ms"] = {k: float(v) for k, v in metrics.speed.items()}
    out["device"] = device
    return out


def _onnx_device(device: str) -> str:
    """ONNX Runtime runs on the GPU only with onnxruntime-gpu; Ultralytics would pip-install it otherwise."""
    if device == "cpu":
        return device
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        return device.split(",")[0]
    log.info("onnxruntime has no CUDA provider here; validating the ONNX model on the CPU")
    return "cpu"


# ---------------------------------------------------------------------------------------------- export


def export_onnx(
    *, weights: Path, work_dir: Path, imgsz: int, opset: int, dynamic: bool
) -> tuple[Path, dict[str, str]]:
    """Export with Ultralytics' exporter (no simplification: that is the caller's job).

    Returns:
        The raw ONNX file in ``work_dir`` and the metadata Ultralytics embedded (names, stride,
        imgsz, task, ...), which ``YOLO("model.onnx")`` needs.
    """
    import onnx

    work_dir.mkdir(parents=True, exist_ok=True)
    src = work_dir / "model.pt"
    link_or_copy(weights, src)  # the exporter writes beside its input
    with quiet_stdout():
        model = YOLO(str(src), task="detect")
        f = model.export(
            format="onnx",
            imgsz=imgsz,
            opset=opset,
            dynamic=dynamic,
            simplify=False,
            half=False,
            nms=False,
            batch=1,
            device="cpu",
            verbose=False,
        )
    path = Path(f)
    meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return path, meta


def torch_model_for_parity(weights: Path) -> DetectionModel:
    """The fp32 eval-mode model exactly as the exporter saw it (fused, like the export)."""
    model, _ = load_model(weights)
    model = model.fuse(verbose=False) if hasattr(model, "fuse") else model
    return model.float().eval()


def predict_raw(model: DetectionModel, batch: torch.Tensor) -> np.ndarray:
    """Raw head output ``(N, 4 + nc, anchors)`` of the PyTorch model for an fp32 NCHW batch in [0, 1]."""
    with torch.inference_mode():
        out = model(batch)
    out = out[0] if isinstance(out, (list, tuple)) else out
    return out.float().cpu().numpy()


def nms(raw: np.ndarray, conf: float, iou: float, max_det: int = 300) -> list[np.ndarray]:
    """Ultralytics' NMS on raw head outputs; one ``(n, 6)`` array ``x1 y1 x2 y2 conf cls`` per image."""
    from ultralytics.utils.nms import non_max_suppression

    dets = non_max_suppression(torch.from_numpy(raw), conf_thres=conf, iou_thres=iou, max_det=max_det)
    return [d.cpu().numpy() for d in dets]


def letterbox_batch(images: Sequence[Path], imgsz: int) -> torch.Tensor:
    """Images letterboxed to ``imgsz`` the way Ultralytics' predictor does, as an fp32 NCHW batch."""
    import cv2
    from ultralytics.data.augment import LetterBox

    lb = LetterBox((imgsz, imgsz), auto=False, stride=32)
    arrays = []
    for p in images:
        im = cv2.imread(str(p))
        if im is None:
            raise ConfigError(f"{p}: unreadable image for the parity check")
        im = lb(image=im)[..., ::-1].transpose(2, 0, 1)  # BGR->RGB, HWC->CHW
        arrays.append(np.ascontiguousarray(im, dtype=np.float32) / 255.0)
    return torch.from_numpy(np.stack(arrays))
