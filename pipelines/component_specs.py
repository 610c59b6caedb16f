"""Compile each stage's component to ``component.yaml`` and a kubeflow/pipelines-components ``metadata.yaml``."""

from __future__ import annotations

import importlib
import inspect
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components._shared.errors import ConfigError
from components._shared.fsio import write_text_atomic

REPO = Path(__file__).resolve().parents[1]
COMPONENTS = REPO / "components"
log = logging.getLogger(__name__)

PRIMARY = {"train": "train_model"}  # stages with several components: the one named component.yaml
STAGE_TAGS = {
    "ingest": ["data-processing"],
    "convert": ["data-processing"],
    "split": ["data-processing"],
    "stats": ["data-processing", "evaluation"],
    "plan": ["training"],
    "train": ["training"],
    "validate": ["evaluation"],
    "export": ["deployment"],
    "publish": ["deployment"],
    "summary": ["reporting"],
}
OBJECT_STORE = {  # components that read or write s3:// URIs (credentials: MINIO_* environment variables)
    "ingest_dataset": "reads the dataset from an s3:// prefix or archive",
    "fetch_weights": "reads the pretrained weights from an s3:// URI",
    "train_model": "uploads checkpoints to checkpoint_root (s3://) every epoch",
    "validate_model": "reads the champion model from champion_dest (s3://)",
    "publish_model": "writes the model version and production.json to dest (s3://)",
    "summarize_run": "reads the run's records under checkpoint_root (s3://)",
}


@dataclass(frozen=True)
class ComponentFiles:
    """One component function and the two files it is compiled to."""

    stage: str
    function: str
    component: Any  # kfp.dsl.python_component.PythonComponent
    spec_name: str  # component.yaml or <function>.component.yaml
    metadata_name: str  # metadata.yaml or <function>.metadata.yaml


def stages(components_dir: Path = COMPONENTS) -> list[str]:
    """Stage folders that hold a ``component.py`` (sorted)."""
    return sorted(p.parent.name for p in components_dir.glob("*/component.py"))


def stage_components(stage: str) -> list[ComponentFiles]:
    """The components of ``components/<stage>/component.py``, the main one first (ConfigError without one)."""
    from kfp.dsl.python_component import PythonComponent

    module = importlib.import_module(f"components.{stage}.component")
    found = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, PythonComponent) and obj.python_func.__module__ == module.__name__
    ]
    found.sort(key=lambda c: inspect.getsourcelines(c.python_func)[1])
    names = [c.python_func.__name__ for c in found]
    primary = names[0] if len(names) == 1 else PRIMARY.get(stage)
    if primary not in names:
        raise ConfigError(
            f"components/{stage}/component.py defines components {names or 'none'}: "
            f"name the main one in pipelines/component_specs.py PRIMARY"
        )
    out = []
    for comp, name in sorted(zip(found, names, strict=True), key=lambda cn: cn[1] != primary):
        prefix = "" if name == primary else f"{name}."
        out.append(ComponentFiles(stage, name, comp, f"{prefix}component.yaml", f"{prefix}metadata.yaml"))
    return out


def default_images() -> dict[str, str]:
    """``{image a component was defined with: the default image of the same name}`` (data and train)."""
    from components._shared import images

    default = images.ImageSet(images.DEFAULT_REGISTRY, images.DEFAULT_TAG)
    return {images.CURRENT.image(name): default.image(name) for name in images.NAMES}


def compile_component(files: ComponentFiles, out: Path) -> str:
    """Compile one component to ``out`` with its default image; returns that image."""
    from kfp import compiler

    image = files.component.component_spec.implementation.container.image
    default = default_images().get(image, image)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_file = Path(tmp) / "component.yaml"
        compiler.Compiler().compile(files.component, str(tmp_file))
        text = tmp_file.read_text(encoding="utf-8")
    if default != image:
        text = text.replace(f"image: {image}\n", f"image: {default}\n")
    write_text_atomic(out, text)
    return default


def _docstring_outputs(func: Any) -> dict[str, str]:
    """Descriptions from the docstring's ``Args`` and ``Returns`` (``name: text``)."""
    import docstring_parser

    doc = docstring_parser.parse(inspect.getdoc(func) or "")
    out = {p.arg_name: " ".join(p.description.split()) for p in doc.params if p.description}
    for ret in doc.many_returns:
        text = " ".join((ret.description or "").split())
        out[ret.type_name or ret.return_name or "Output"] = text
    return out


def _io(specs: dict[str, Any], docs: dict[str, str]) -> list[dict[str, Any]]:
    rows = []
    for name, spec in specs.items():
        row: dict[str, Any] = {"name": name, "type": spec.type}
        if getattr(spec, "default", None) is not None:
            row["default"] = spec.default
        if getattr(spec, "optional", False):
            row["optional"] = True
        description = getattr(spec, "description", None) or docs.get(name)
        if description:
            row["description"] = " ".join(description.split())
        rows.append(row)
    return rows


def component_metadata(files: ComponentFiles, image: str) -> dict[str, Any]:
    """The ``metadata.yaml`` content of one component (kubeflow/pipelines-components fields first)."""
    from components._shared import versions

    spec = files.component.component_spec
    docs = _docstring_outputs(files.component.python_func)
    external = []
    if files.function in OBJECT_STORE:
        external.append({"name": "S3-compatible object store (MinIO, SeaweedFS, AWS S3)", "version": "any",
                         "optional": True, "use": f"{OBJECT_STORE[files.function]}; local paths need none",
                         "credentials": "MINIO_ENDPOINT, MINIO_ACCESS_KEY, MINIO_SECRET_KEY environment"})  # fmt: skip
    kubeflow: list[dict[str, Any]] = [{"name": "Pipelines", "version": f">={versions.BACKEND_MIN}"}]
    if files.function == "train_model":
        kubeflow.append({"name": "Trainer", "version": f">={versions.TRAINER_MIN}", "optional": True,
                         "use": "nodes > 1: a TrainJob (trainer.kubeflow.org/v1alpha1) per training task"})  # fmt: skip
    return {
        "name": files.function,
        "displayName": spec.name,
        "description": " ".join((spec.description or "").split()),
        "stability": "beta",
        "dependencies": {
            "kubeflow": kubeflow,
            "sdk": [{"name": "kfp", "version": f"=={versions.KFP_SDK}"}],
            "external_services": external,
        },
        "tags": ["object-detection", "yolo", *STAGE_TAGS.get(files.stage, [files.stage])],
        "component": {
            "file": files.spec_name,
            "function": f"components.{files.stage}.component.{files.function}",
            "image": image,
            "installKfpPackage": False,
        },
        "inputs": _io(spec.inputs or {}, docs),
        "outputs": _io(spec.outputs or {}, docs),
        "links": {"documentation": f"components/{files.stage}/README.md"},
    }


def write_metadata(files: ComponentFiles, image: str, out: Path) -> None:
    """Write ``metadata.yaml`` for one component (atomically)."""
    import yaml

    header = (
        f"# Generated by `python -m pipelines.component_specs` from components/{files.stage}/component.py;"
        " do not edit.\n# dependencies.kubeflow Pipelines: the KFP backend the pipeline needs (docs/kubeflow.md).\n"
    )
    body = yaml.safe_dump(component_metadata(files, image), sort_keys=False, width=100, allow_unicode=True)
    write_text_atomic(out, header + body)


def compile_component_specs(root: Path = COMPONENTS) -> list[Path]:
    """Compile every stage's components (YAML + metadata) under ``root/<stage>/``; return the paths written."""
    written = []
    for stage in stages():
        for files in stage_components(stage):
            spec_path = Path(root) / stage / files.spec_name
            image = compile_component(files, spec_path)
            meta_path = Path(root) / stage / files.metadata_name
            write_metadata(files, image, meta_path)
            written += [spec_path, meta_path]
    log.info("compiled %d component specs under %s", len(written) // 2, root)
    return written


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    compile_component_specs()
