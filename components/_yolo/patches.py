"""Make Ultralytics safe to run without a network; imported (first) by every module of this package.

The patches and the one load they do not cover: ``components/_yolo/README.md``.
"""

from __future__ import annotations

import os

os.environ["YOLO_OFFLINE"] = "1"  # before the first ultralytics import: ONLINE is computed at import
os.environ["YOLO_AUTOINSTALL"] = "false"

import contextlib  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from copy import deepcopy  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import torch  # noqa: E402
import ultralytics.data.dataset as _ul_dataset  # noqa: E402
import ultralytics.data.utils as _ul_data_utils  # noqa: E402
import ultralytics.engine.trainer as _ul_trainer  # noqa: E402
import ultralytics.nn.tasks as _ul_tasks  # noqa: E402
import ultralytics.utils.checks as _ul_checks  # noqa: E402
import ultralytics.utils.patches as _ul_patches  # noqa: E402
import ultralytics.utils.plotting as _ul_plotting  # noqa: E402
import ultralytics.utils.torch_utils as _ul_torch_utils  # noqa: E402
from ultralytics.utils import LOGGER, RANK  # noqa: E402
from ultralytics.utils.torch_utils import unwrap_model  # noqa: E402

from components._shared.fsio import link_or_copy  # noqa: E402

log = logging.getLogger(__name__)
_installed = False


def _local_font(font: str = "Arial.ttf") -> Path:
    """Offline stand-in for ``check_font``: matplotlib's DejaVu Sans (bundled, covers most scripts)."""
    from matplotlib import font_manager

    return Path(font_manager.findfont("DejaVu Sans"))


def _local_check_amp(model: torch.nn.Module) -> bool:
    """Offline ``check_amp`` (it downloads yolo26n.pt): fp32 vs autocast of the model itself, on CUDA only."""
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


_UNSAFE_TORCH_LOAD = _ul_patches.torch_load


def safe_torch_load(f: Any, *args: Any, **kwargs: Any) -> Any:
    """Stand-in for Ultralytics' ``torch_load``: restricted unpickling, whatever ``weights_only`` says."""
    from components._yolo.model import restricted_torch_load

    return restricted_torch_load(f, map_location=kwargs.get("map_location", args[0] if args else None))


def _patch_torch_load() -> None:
    """Replace ``torch_load`` in ``ultralytics.utils.patches`` and in every module that imported it."""
    for module in (_ul_patches, _ul_tasks, _ul_torch_utils):
        module.torch_load = safe_torch_load  # type: ignore[attr-defined]
    for name, module in list(sys.modules.items()):
        if name.startswith("ultralytics") and getattr(module, "torch_load", None) is _UNSAFE_TORCH_LOAD:
            module.torch_load = safe_torch_load  # type: ignore[attr-defined]


def install() -> None:
    """Install the offline patches into the imported Ultralytics modules (once; later calls do nothing)."""
    global _installed
    if _installed:
        return
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
    _patch_torch_load()
    _installed = True


install()


def quiet_stdout() -> contextlib.AbstractContextManager[Any]:
    """Send Ultralytics' prints and progress bars (stdout by default) to stderr."""
    return contextlib.redirect_stdout(sys.stderr)


@contextlib.contextmanager
def neutral_copy(path: Path, suffix: str) -> Iterator[Path]:
    """Yield a link (or copy) of ``path`` named ``model<suffix>`` (Ultralytics renames ``yolov5s.pt``)."""
    with tempfile.TemporaryDirectory(prefix="yolo-kfp-weights-") as tmp:
        dst = Path(tmp) / f"model{suffix}"
        link_or_copy(Path(path), dst)
        yield dst
