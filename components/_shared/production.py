"""A destination's production pointer and manifest-verified reads of its versions (``publish/README.md``)."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components._shared.errors import ConfigError, StorageError
from components._shared.fsio import write_json_atomic, write_text_atomic
from components._shared.storage import Backend, backend_for, file_digests

log = logging.getLogger(__name__)

PRODUCTION = "production.json"
MANIFEST = "manifest.json"
MODEL_CHOICES = ("model.onnx", "best.pt")  # what fetch_production_model downloads, first present wins
CARD_FILES = ("metrics.json", "model.json")


@dataclass(frozen=True)
class ProductionModel:
    """The verified production model, downloaded by ``fetch_production_model``.

    ``classes`` and ``imgsz`` come from the manifest (None when unknown); ``metrics`` is the verified
    metrics.json, else the manifest's; ``manifest_sha256`` is what the gate records as the model it measured.
    """

    version: str
    model_path: Path
    classes: tuple[str, ...] | None
    imgsz: int | None
    metrics: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    manifest_sha256: str | None = None


# production.json's fields and the JSON types each may hold (None: null); version and manifest_sha256
# are required, since promotion compares them with what the gate measured
POINTER_FIELDS: dict[str, tuple[type, ...]] = {
    "version": (str,),
    "manifest_sha256": (str,),
    "manifest": (str, type(None)),
    "model": (str, type(None)),
    "uri": (str, type(None)),
    "classes": (list, type(None)),
    "imgsz": (int, float, list, type(None)),  # the card's size: one side or [height, width]
    "metrics": (dict, type(None)),
    "gate": (dict, type(None)),
    "history": (list,),
    "triton": (dict, type(None)),
}
REQUIRED_POINTER_FIELDS = ("version", "manifest_sha256")


def _pointer_problem(pointer: Any) -> str | None:
    if not isinstance(pointer, dict):
        return f"it holds JSON {type(pointer).__name__ if pointer is not None else 'null'}, not an object"
    for name in REQUIRED_POINTER_FIELDS:
        if not pointer.get(name):
            return f"'{name}' is missing or empty"
    for name, types in POINTER_FIELDS.items():
        value = pointer.get(name)
        if name in pointer and (not isinstance(value, types) or isinstance(value, bool)):
            return f"'{name}' is {type(value).__name__}, expected {' or '.join(t.__name__ for t in types)}"
    if not all(isinstance(c, str) for c in pointer.get("classes") or []):
        return "'classes' holds a name that is not a string"
    if not all(isinstance(h, dict) for h in pointer.get("history", [])):
        return "'history' holds an entry that is not an object"
    return None


def check_pointer(pointer: Any, uri: str) -> dict[str, Any]:
    """``pointer`` (production.json at ``uri``) when it is a production pointer object, else one StorageError line."""
    problem = _pointer_problem(pointer)
    if problem:
        raise StorageError(
            f"{uri}: not a production pointer ({problem}): refusing to read it as 'nothing in production' "
            "or to replace it; restore it from a backup (or delete it only if nothing is in production)"
        )
    return pointer


def read_production(dest: str, *, backend: Backend | None = None) -> dict[str, Any] | None:
    """The current ``production.json`` of ``dest`` (schema-checked), or None when nothing was promoted yet."""
    loc = backend or backend_for(dest)
    found = loc.get_json_etag(PRODUCTION)  # unlike get_json, tells a stored null from a missing file
    return None if found is None else check_pointer(found[0], loc.uri_of(PRODUCTION))


def manifest_files(manifest: Any) -> dict[str, dict[str, Any]]:
    """The entries of a manifest's ``files`` list (``name``, ``size``, ``sha256``...) by name."""
    files = manifest.get("files") if isinstance(manifest, dict) else None
    return {str(f.get("name")): f for f in files or [] if isinstance(f, dict)}


def load_manifest(
    backend: Backend, version: str, work_dir: Path, *, expect_sha256: str | None = None
) -> tuple[dict[str, Any], str]:
    """Download ``<version>/manifest.json`` into ``work_dir``; return it parsed with its sha256.

    ConfigError without a manifest; StorageError when not JSON or its sha256 is not ``expect_sha256``.
    """
    uri = backend.uri_of(f"{version}/{MANIFEST}")
    path = Path(work_dir) / MANIFEST
    if not backend.get_file(f"{version}/{MANIFEST}", path):
        raise ConfigError(
            f"{backend.uri_of(version)}: no {MANIFEST}: the version is incomplete (publish interrupted?) "
            "and is never promoted; publish again"
        )
    sha = file_digests(path)[1]
    if expect_sha256 and sha != expect_sha256:
        path.unlink(missing_ok=True)
        raise StorageError(
            f"{uri}: sha256 mismatch (stored {sha[:12]}, production.json says {expect_sha256[:12]}): "
            "the manifest changed after promotion; refusing to use it"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StorageError(f"{uri} is not valid JSON ({err}): refusing to use the version") from err
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise StorageError(f"{uri} lists no files: refusing to use the version")
    return manifest, sha


def download_verified(
    backend: Backend, version: str, manifest: dict[str, Any], names: Iterable[str], work_dir: Path
) -> dict[str, Path]:
    """Download the named files of a version into ``work_dir``; StorageError if one is unlisted, missing or differs."""
    listed = manifest_files(manifest)
    out: dict[str, Path] = {}
    for name in names:
        uri = backend.uri_of(f"{version}/{name}")
        entry = listed.get(name)
        if entry is None:
            raise StorageError(f"{uri}: not listed in {MANIFEST}: refusing to use it")
        dest = Path(work_dir) / name
        if not backend.get_file(f"{version}/{name}", dest):
            raise StorageError(f"{uri}: listed in {MANIFEST} but missing: refusing to use the version")
        size, sha, _ = file_digests(dest)
        if sha != entry.get("sha256") or size != entry.get("size"):
            dest.unlink(missing_ok=True)
            raise StorageError(
                f"{uri}: sha256 mismatch (stored {sha[:12]}, {size} bytes; manifest "
                f"{str(entry.get('sha256'))[:12]}, {entry.get('size')} bytes): the object changed after "
                "publishing; refusing to use it"
            )
        out[name] = dest
    return out


def verify_version(
    backend: Backend, version: str, work_dir: Path, *, expect_sha256: str | None = None
) -> tuple[dict[str, Any], str]:
    """Download every file of a version into ``work_dir/files`` and check it; return ``(manifest, its sha256)``."""
    manifest, sha = load_manifest(backend, version, work_dir, expect_sha256=expect_sha256)
    download_verified(backend, version, manifest, list(manifest_files(manifest)), Path(work_dir) / "files")
    return manifest, sha


def _classes(value: Any) -> tuple[str, ...] | None:
    return tuple(str(c) for c in value) if isinstance(value, list) and value else None


def fetch_production_model(dest: str, work_dir: Path) -> ProductionModel | None:
    """Download and verify the production model of ``dest`` into ``work_dir/<version>/`` (None: nothing promoted).

    The model is ``model.onnx``, else ``best.pt``; ``metrics.json`` and ``model.json`` come with it when listed.
    """
    backend = backend_for(dest)
    pointer = read_production(dest, backend=backend)
    if pointer is None:
        log.info("%s: no production model yet", backend.uri)
        return None
    version = str(pointer["version"])
    out = Path(work_dir) / version
    manifest, manifest_sha256 = load_manifest(
        backend, version, out, expect_sha256=pointer.get("manifest_sha256")
    )
    listed = manifest_files(manifest)
    model = next((n for n in MODEL_CHOICES if n in listed), manifest.get("model"))
    if not model or model not in listed:
        raise StorageError(f"{backend.uri_of(version)}: the manifest lists no model file: refusing to use it")
    files = download_verified(
        backend, version, manifest, [model, *(n for n in CARD_FILES if n in listed)], out
    )
    metrics = manifest.get("metrics") or {}
    if "metrics.json" in files:
        try:
            metrics = json.loads(files["metrics.json"].read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise StorageError(f"{backend.uri_of(version)}/metrics.json is not valid JSON ({err})") from err
    imgsz = manifest.get("imgsz")
    log.info("production model %s verified (%s, sha256 checked) -> %s", version, model, files[model])
    return ProductionModel(
        version=version,
        model_path=files[model],
        classes=_classes(manifest.get("classes")) or _classes(pointer.get("classes")),
        imgsz=int(imgsz) if isinstance(imgsz, int | float) and not isinstance(imgsz, bool) else None,
        metrics=metrics if isinstance(metrics, dict) else {},
        manifest=manifest,
        manifest_sha256=manifest_sha256,
    )


def production_baseline_metrics(dest: str, path: Path) -> Path | None:
    """Write the production model's verified metrics.json to ``path``; None when nothing is in production."""
    backend = backend_for(dest)
    pointer = read_production(dest, backend=backend)
    if pointer is None:
        log.info("%s: no production model yet: no baseline", backend.uri)
        return None
    version, path = str(pointer["version"]), Path(path)
    try:
        with tempfile.TemporaryDirectory(prefix="yolo-kfp-baseline-") as tmp:
            manifest = backend.get_json(f"{version}/{MANIFEST}")
            if "metrics.json" in manifest_files(manifest):
                got = download_verified(backend, version, manifest, ["metrics.json"], Path(tmp))
                path.parent.mkdir(parents=True, exist_ok=True)
                write_text_atomic(path, got["metrics.json"].read_text(encoding="utf-8"))
            elif not backend.get_file(f"{version}/metrics.json", path):
                write_json_atomic(path, {**(pointer.get("metrics") or {}), "gate": pointer.get("gate")})
    except OSError as err:  # --out is a folder, lies under a file, or its disk refuses the write
        raise ConfigError(
            f"{path}: cannot write the production metrics there ({err.strerror or err}): "
            "choose a file path whose folder exists or can be created"
        ) from err
    log.info("baseline: production version %s -> %s", version, path)
    return path
