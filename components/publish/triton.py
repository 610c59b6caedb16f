"""The Triton model repository under the publish destination, ``<dest>/triton`` (rules: ``README.md``)."""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components._shared.errors import ConfigError, DatasetError, StorageError
from components._shared.production import MANIFEST, PRODUCTION, check_pointer, manifest_files, read_production
from components._shared.serving import rollout_command
from components._shared.storage import Backend, ObjectExistsError, backend_for, file_digests

log = logging.getLogger(__name__)

TRITON_DIR = "triton"
CONFIG = "config.pbtxt"
PLATFORM = "onnxruntime_onnx"
MODEL_FILE = "model.onnx"  # Triton's default file name inside <N>/, whatever the published file's name
TRITON_MAX_BATCH = 8  # max_batch_size of a dynamic-batch export
SYNC_ATTEMPTS = 8
_STAMP = re.compile(r"^(\d{8})T(\d{6})Z(?:-|$)")
_NAME_OK = re.compile(r"[^A-Za-z0-9_.-]+")

# ONNX TensorProto.DataType -> Triton data type
ONNX_TO_TRITON = {
    1: "TYPE_FP32",
    2: "TYPE_UINT8",
    3: "TYPE_INT8",
    4: "TYPE_UINT16",
    5: "TYPE_INT16",
    6: "TYPE_INT32",
    7: "TYPE_INT64",
    8: "TYPE_STRING",
    9: "TYPE_BOOL",
    10: "TYPE_FP16",
    11: "TYPE_FP64",
    12: "TYPE_UINT32",
    13: "TYPE_UINT64",
    16: "TYPE_BF16",
}


class TritonConflict(ConfigError):
    """Another version already owns the Triton version folder ``N`` with another model."""


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: name, Triton data type, dims (``str`` for a symbolic dimension)."""

    name: str
    data_type: str
    dims: tuple[int | str, ...]


@dataclass(frozen=True)
class OnnxIO:
    """The graph inputs (initializers excluded) and outputs of an ONNX model."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


def _varint(buf: memoryview, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = buf[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, i
        shift += 7


def _fields(buf: memoryview) -> Iterator[tuple[int, Any]]:
    """``(field number, value)`` of one protobuf message: ints for varints, memoryviews otherwise."""
    i, end = 0, len(buf)
    while i < end:
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            size, i = _varint(buf, i)
            value, i = buf[i : i + size], i + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, i = buf[i : i + size], i + size
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if i > end:
            raise ValueError("truncated message")
        yield number, value


def _dim(buf: memoryview) -> int | str:
    value: int | str = -1
    for number, field in _fields(buf):
        if number == 1:  # dim_value (int64)
            value = field - (1 << 64) if field >= 1 << 63 else field
        elif number == 2:  # dim_param
            value = bytes(field).decode("utf-8")
    return value if isinstance(value, str) or value > 0 else -1


def _value_info(buf: memoryview) -> tuple[str, int, tuple[int | str, ...]]:
    name, elem, dims = "", 0, ()
    for number, field in _fields(buf):
        if number == 1:
            name = bytes(field).decode("utf-8")
        elif number == 2:  # TypeProto
            for tnum, tensor in _fields(field):
                if tnum != 1:  # tensor_type only
                    continue
                for knum, part in _fields(tensor):
                    if knum == 1:
                        elem = part
                    elif knum == 2:  # TensorShapeProto.dim
                        dims = tuple(_dim(d) for dnum, d in _fields(part) if dnum == 1)
    return name, elem, dims


def onnx_io(path: Path) -> OnnxIO:
    """The inputs (no initializers) and outputs of an ONNX model, read without ``onnx``; DatasetError if unreadable."""
    data = memoryview(Path(path).read_bytes())
    inputs: list[tuple[str, int, tuple[int | str, ...]]] = []
    outputs: list[tuple[str, int, tuple[int | str, ...]]] = []
    initializers: set[str] = set()
    try:
        for number, field in _fields(data):
            if number != 7:  # ModelProto.graph
                continue
            for gnum, item in _fields(field):
                if gnum == 11:
                    inputs.append(_value_info(item))
                elif gnum == 12:
                    outputs.append(_value_info(item))
                elif gnum == 5:  # initializer: TensorProto.name is field 8
                    initializers.update(bytes(v).decode("utf-8") for n, v in _fields(item) if n == 8)
    except (ValueError, IndexError, TypeError, UnicodeDecodeError) as err:  # TypeError: wrong wire type
        raise DatasetError(f"{path}: not a readable ONNX model ({err})") from err
    inputs = [i for i in inputs if i[0] not in initializers]
    if not inputs or not outputs or not all(name for name, _, _ in (*inputs, *outputs)):
        raise DatasetError(f"{path}: not an ONNX model (no named graph inputs and outputs)")
    return OnnxIO(inputs=_specs(path, inputs), outputs=_specs(path, outputs))


def onnx_metadata(path: Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX model (Ultralytics: names, imgsz, batch, args...), without ``onnx``."""
    data = memoryview(Path(path).read_bytes())
    meta: dict[str, str] = {}
    try:
        for number, field in _fields(data):
            if number != 14:  # ModelProto.metadata_props: StringStringEntryProto (key 1, value 2)
                continue
            entry = {n: bytes(v).decode("utf-8") for n, v in _fields(field) if n in (1, 2)}
            meta[entry.get(1, "")] = entry.get(2, "")
    except (ValueError, IndexError, TypeError, UnicodeDecodeError) as err:
        raise DatasetError(f"{path}: not a readable ONNX model ({err})") from err
    return meta


def end_to_end_batch(path: Path) -> int | None:
    """The export batch of a model with NMS inside (its unrolled NMS loop takes no more), else None."""
    meta = onnx_metadata(path)
    if "'nms': True" not in meta.get("args", "") and meta.get("end2end") != "True":
        return None
    batch = meta.get("batch", "")
    return int(batch) if batch.isdigit() and int(batch) > 0 else 1


def _specs(path: Path, items: list[tuple[str, int, tuple[int | str, ...]]]) -> tuple[TensorSpec, ...]:
    out = []
    for name, elem, dims in items:
        if elem not in ONNX_TO_TRITON:
            raise DatasetError(
                f"{path}: tensor {name!r} has ONNX data type {elem}, which Triton does not serve"
            )
        out.append(TensorSpec(name=name, data_type=ONNX_TO_TRITON[elem], dims=dims))
    return tuple(out)


def triton_version_number(version: str) -> int:
    """The Triton version folder (a positive integer) of a published version name (README)."""
    stamp = _STAMP.match(version)
    if stamp:
        return int(stamp[1] + stamp[2])
    return 1 + int(hashlib.sha256(version.encode("utf-8")).hexdigest()[:15], 16) % (10**13 - 1)


def triton_model_name(dest_uri: str, override: str | None = None) -> str:
    """The Triton model name: ``override``, else the destination's last path part (``yolo-transfer``)."""
    raw = override or dest_uri.rstrip("/").rsplit("/", 1)[-1]
    name = _NAME_OK.sub("-", raw).strip(".-")
    if not name:
        raise ConfigError(f"{raw!r}: not usable as a Triton model name (letters, digits, '_', '.', '-')")
    return name


def triton_spec(
    model_path: Path, *, model: str, version: str, model_sha256: str, source: str = MODEL_FILE
) -> dict[str, Any]:
    """What production.json records under ``triton``: all config.pbtxt is rendered from (``source``: the file laid out)."""
    io = onnx_io(model_path)
    e2e_batch = end_to_end_batch(model_path)
    tensors = (*io.inputs, *io.outputs)
    dynamic_batch = all(t.dims and isinstance(t.dims[0], str) for t in tensors)

    def dims(t: TensorSpec) -> list[int]:
        kept = t.dims[1:] if dynamic_batch else t.dims
        return [d if isinstance(d, int) else -1 for d in kept]

    number = triton_version_number(version)
    return {
        "repository": TRITON_DIR,
        "model": model,
        "version": number,
        "platform": PLATFORM,
        # an end-to-end model takes at most its export batch (its NMS loop is unrolled for it)
        "max_batch_size": (e2e_batch or TRITON_MAX_BATCH) if dynamic_batch else 0,
        "inputs": [{"name": t.name, "data_type": t.data_type, "dims": dims(t)} for t in io.inputs],
        "outputs": [{"name": t.name, "data_type": t.data_type, "dims": dims(t)} for t in io.outputs],
        "model_sha256": model_sha256,
        "source": source,
    }


def served_specs(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The Triton models production serves: the main one and, beside an end-to-end model, the raw one."""
    raw = spec.get("raw")
    return [spec, raw] if isinstance(raw, dict) else [spec]


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_config(spec: dict[str, Any], pointer: dict[str, Any]) -> str:
    """config.pbtxt (protobuf text format) serving ``spec['version']`` only, for production.json ``pointer``."""
    version, promotion_id = pointer["version"], pointer.get("promotion_id")
    lines = [
        f"# Written by yolo-kfp publish: serves production version {version} (promotion {promotion_id}).",
        "# Rewritten on every promotion from production.json; do not edit.",
        f"name: {_quote(spec['model'])}",
        f"platform: {_quote(spec['platform'])}",
        f"max_batch_size: {int(spec['max_batch_size'])}",
        f"version_policy: {{ specific: {{ versions: [{int(spec['version'])}] }} }}",
    ]
    if int(spec["max_batch_size"]) > 0:
        lines.append("dynamic_batching { }")
    for kind in ("input", "output"):
        entries = []
        for t in spec[f"{kind}s"]:
            body = [
                f"    name: {_quote(t['name'])}",
                f"    data_type: {t['data_type']}",
                f"    dims: [ {', '.join(str(int(d)) for d in t['dims'])} ]",
            ]
            entries.append("  {\n" + "\n".join(body) + "\n  }")
        lines.append(f"{kind} [\n" + ",\n".join(entries) + "\n]")
    return "\n".join(lines) + "\n"


def _folder(spec: dict[str, Any]) -> str:
    return f"{spec['repository']}/{spec['model']}"


def lay_out_version(loc: Backend, spec: dict[str, Any], model_path: Path) -> None:
    """Write ``<N>/model.onnx`` create-only, checked against ``spec['model_sha256']``.

    Raises TritonConflict when another version's model owns ``N``, StorageError when the sha256 differs.
    """
    base = _folder(spec)
    rel = f"{base}/{spec['version']}/model.onnx"
    try:
        stored = loc.create_file(rel, model_path)
    except ObjectExistsError as err:
        raise TritonConflict(
            f"{loc.uri_of(base)}: Triton version {spec['version']} holds another model already ({err}): "
            "publish under another --model-version"
        ) from None
    if stored.sha256 != spec["model_sha256"]:
        raise StorageError(
            f"{stored.uri}: sha256 mismatch (stored {stored.sha256[:12]}, manifest "
            f"{spec['model_sha256'][:12]}): refusing to serve it"
        )
    log.info("Triton repository: %s (sha256 %s)", stored.uri, stored.sha256[:12])


def _ensure_served(loc: Backend, spec: dict[str, Any], version: str) -> None:
    """Put the production version's folder back from its published ``model.onnx`` if it is missing."""
    base = _folder(spec)
    if loc.exists(f"{base}/{spec['version']}/model.onnx"):
        return
    with tempfile.TemporaryDirectory(prefix="yolo-kfp-triton-") as tmp:
        model = Path(tmp) / MODEL_FILE
        source = f"{version}/{spec.get('source', MODEL_FILE)}"
        if not loc.get_file(source, model):
            raise StorageError(f"{loc.uri_of(source)}: missing, cannot serve {version}")
        lay_out_version(loc, spec, model)


def _prune(loc: Backend, spec: dict[str, Any]) -> list[str]:
    base = _folder(spec)
    keep = str(spec["version"])
    removed = []
    for name in loc.list(base + "/"):
        rel = name[len(base) + 1 :] if name.startswith(base + "/") else name
        folder = rel.split("/", 1)[0]
        if "/" in rel and folder.isdigit() and folder != keep:
            loc.delete(f"{base}/{rel}")
            removed.append(folder)
    return sorted(set(removed))


def sync_config(loc: Backend) -> dict[str, Any] | None:
    """Make the repository serve what production.json names, and only that; re-check the pointer after.

    Returns production.json's ``triton`` entry (None: none, config.pbtxt left as it was); ConfigError when
    production.json kept changing through every attempt.
    """
    for _ in range(SYNC_ATTEMPTS):
        found = loc.get_json_etag(PRODUCTION)
        if not found:
            return None
        pointer, etag = check_pointer(found[0], loc.uri_of(PRODUCTION)), found[1]
        spec = pointer.get("triton")
        if not isinstance(spec, dict):
            log.warning(
                "production version %s has no ONNX model for Triton: %s left unchanged",
                pointer.get("version"),
                CONFIG,
            )
            return None
        removed: list[str] = []
        configs = []
        for served in served_specs(spec):
            _ensure_served(loc, served, str(pointer["version"]))
            with tempfile.TemporaryDirectory(prefix="yolo-kfp-triton-") as tmp:
                path = Path(tmp) / CONFIG
                path.write_text(render_config(served, pointer), encoding="utf-8")
                configs.append(loc.put_file(f"{_folder(served)}/{CONFIG}", path))
            removed += _prune(loc, served)
        stored = configs[0]  # the main model's: what KServe's InferenceService names
        again = loc.get_json_etag(PRODUCTION)
        if again and again[1] == etag:
            log.info(
                "Triton %s serves %s (version %s)%s; running predictors load it when they restart: %s",
                stored.uri, pointer["version"], spec["version"],
                f", removed versions {', '.join(removed)}" if removed else "", rollout_command(str(pointer["version"])),
            )  # fmt: skip
            return spec
    raise ConfigError(
        f"{loc.uri_of(PRODUCTION)} kept changing while {CONFIG} was written: promote again to re-sync it"
    )


@dataclass(frozen=True)
class TritonRepository:
    """The production Triton model(s), downloaded under ``root`` and checked by ``verify_triton_repository``."""

    root: Path
    model: str
    version: int
    published_version: str
    config: Path
    model_path: Path
    classes: tuple[str, ...]
    raw_model: str | None = None
    raw_model_path: Path | None = None


def verify_triton_repository(dest: str, work_dir: Path) -> TritonRepository | None:
    """Download the Triton repository into ``work_dir`` and check it against production.json (README).

    None without a Triton entry; StorageError when a file is missing, differs, or another version remains.
    """
    loc = backend_for(dest)
    pointer = read_production(dest, backend=loc)
    spec = pointer.get("triton") if pointer else None
    if not pointer or not isinstance(spec, dict):
        return None
    root = Path(work_dir)
    manifest = loc.get_json(f"{pointer['version']}/{MANIFEST}") or {}
    listed = {name: f.get("sha256") for name, f in manifest_files(manifest).items()}
    paths = [_verify_model(loc, served, pointer, root, listed) for served in served_specs(spec)]
    return TritonRepository(
        root=root,
        model=str(spec["model"]),
        version=int(spec["version"]),
        published_version=str(pointer["version"]),
        config=root / spec["model"] / CONFIG,
        model_path=paths[0],
        classes=tuple(pointer.get("classes") or ()),
        raw_model=str(spec["raw"]["model"]) if len(paths) > 1 else None,
        raw_model_path=paths[1] if len(paths) > 1 else None,
    )


def _verify_model(
    loc: Backend, spec: dict[str, Any], pointer: dict[str, Any], root: Path, listed: dict[Any, Any]
) -> Path:
    base = _folder(spec)
    model_rel = f"{spec['version']}/{MODEL_FILE}"
    stored = sorted(n[len(base) + 1 :] for n in loc.list(base + "/") if n.startswith(base + "/"))
    extra = [n for n in stored if n not in (CONFIG, model_rel)]
    if extra:
        raise StorageError(
            f"{loc.uri_of(base)}: holds {', '.join(extra)} besides production {pointer['version']} "
            "(every predictor would download it): promote again to prune it"
        )
    for name in (CONFIG, model_rel):
        if not loc.get_file(f"{base}/{name}", root / spec["model"] / name):
            raise StorageError(f"{loc.uri_of(base + '/' + name)}: missing from the Triton repository")
    model_dir = root / spec["model"]
    if (model_dir / CONFIG).read_text(encoding="utf-8") != render_config(spec, pointer):
        raise StorageError(
            f"{loc.uri_of(base + '/' + CONFIG)}: does not serve production {pointer['version']}"
        )
    source = spec.get("source", MODEL_FILE)
    model_path = model_dir / model_rel
    sha = file_digests(model_path)[1]
    if not sha == spec["model_sha256"] == listed.get(source):
        raise StorageError(
            f"{loc.uri_of(base + '/' + model_rel)}: sha256 mismatch (stored {sha[:12]}, "
            f"manifest {source} {str(listed.get(source))[:12]}): refusing to serve it"
        )
    return model_path
