"""Compile the pipeline for a set of images, in a fresh process: components take their image when defined."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

from components._shared import images
from components._shared.errors import ConfigError, YoloKfpError
from components._shared.fsio import write_text_atomic

COMPILED = Path(__file__).resolve().parent / "compiled" / "yolo_transfer.yaml"
COMPILE_TIMEOUT_S = 300
_ROOT = Path(__file__).resolve().parents[1]  # the folder holding ``pipelines`` and ``components``
log = logging.getLogger(__name__)


class CompileError(YoloKfpError):
    """The KFP compiler failed, or its output does not name the images asked for."""


def compile_pipeline(out: Path = COMPILED, *, registry: str | None = None, tag: str | None = None) -> Path:
    """Compile ``yolo_transfer`` for ``registry``/``tag`` to ``out`` atomically (ConfigError, CompileError)."""
    wanted = images.resolve(registry, tag)
    committed = images.ImageSet(images.DEFAULT_REGISTRY, images.DEFAULT_TAG)
    if Path(out).resolve() == COMPILED and wanted != committed:
        raise ConfigError(
            f"{COMPILED.name} is committed for the default images {committed}, not {wanted}: "
            "pass --out FILE (or unset IMAGE_REGISTRY/IMAGE_TAG to refresh the committed file)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        tmp_file = Path(tmp) / "pipeline.yaml"
        _compile_in_fresh_process(tmp_file, wanted)
        check_package_images(tmp_file, wanted)
        write_text_atomic(Path(out), tmp_file.read_text(encoding="utf-8"))
    log.info("compiled pipeline for %s -> %s", wanted, out)
    return Path(out)


def _compile_in_fresh_process(out: Path, wanted: images.ImageSet) -> None:
    env = {**os.environ, "IMAGE_REGISTRY": wanted.registry, "IMAGE_TAG": wanted.tag}
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.compile", str(out)],
        cwd=_ROOT, env=env, capture_output=True, text=True, timeout=COMPILE_TIMEOUT_S, check=False,
    )  # fmt: skip
    if proc.returncode != 0 or not out.is_file():
        lines = [ln.strip() for ln in (proc.stderr or "").splitlines() if ln.strip()]
        raise CompileError(
            f"compiling the pipeline failed: {lines[-1] if lines else f'exit {proc.returncode}'}"
        )


def _compile_here(out: Path) -> None:
    """Compile in this process (the fresh one ``compile_pipeline`` starts)."""
    from kfp import compiler

    from pipelines.yolo_transfer import yolo_transfer

    compiler.Compiler().compile(yolo_transfer, str(out))


def read_package(package: Path) -> dict[str, Any]:
    """The pipeline document of a compiled KFP IR YAML; ConfigError when it is missing or not one."""
    package = Path(package)
    if not package.is_file():
        raise ConfigError(
            f"{package}: compiled pipeline not found; run `yolo-kfp compile` or pass --package FILE"
        )
    try:
        doc = next(yaml.safe_load_all(package.read_text(encoding="utf-8")), None)
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{package}: not valid YAML ({err.__class__.__name__})") from err
    if not isinstance(doc, dict) or "pipelineInfo" not in doc or "root" not in doc:
        raise ConfigError(
            f"{package}: not a compiled KFP pipeline (no pipelineInfo/root); run `yolo-kfp compile`"
        )
    return doc


def package_images(package: Path) -> dict[str, str]:
    """Executor name -> container image of every task in a compiled KFP pipeline YAML."""
    executors = read_package(package).get("deploymentSpec", {}).get("executors", {})
    return {
        name: str(ex["container"]["image"])
        for name, ex in executors.items()
        if isinstance(ex, dict) and "container" in ex
    }


def check_package_images(package: Path, wanted: images.ImageSet | None) -> dict[str, str]:
    """The package's images, each one of ``wanted`` (None: any fixed tag); ConfigError otherwise."""
    found = package_images(package)
    mutable = sorted({img for img in found.values() if images.image_tag(img).lower() == "latest"})
    if mutable:
        raise ConfigError(
            f"{package} runs {', '.join(mutable)}: ':latest' is refused (one pipeline version must always "
            "run the same images); recompile with `yolo-kfp compile --image-tag TAG --out FILE`"
        )
    if wanted is not None:
        other = sorted(set(found.values()) - set(wanted.all().values()))
        if other:
            raise ConfigError(
                f"{package} runs {', '.join(other)}, not the requested images {wanted}: recompile it with "
                f"`yolo-kfp compile --image-registry {wanted.registry} --image-tag {wanted.tag} --out FILE`, "
                "or drop --package to compile on the fly"
            )
    return found


if __name__ == "__main__":
    _compile_here(Path(sys.argv[1]))
