"""The serving hand-off: a Triton model repository under the publish destination.

Layout (next to the versions, ``s3://models/yolo-transfer`` -> ``s3://models/yolo-transfer/triton``):

    triton/<model>/config.pbtxt          serves exactly the production version (rewritten on promotion)
    triton/<model>/labels-<N>.txt        class names of version N, one per line (create-only)
    triton/<model>/<N>/model.onnx        the promoted version's model.onnx, byte for byte (create-only)

``<model>`` is the last part of the destination (``yolo-transfer``), or ``PublishConfig.triton_model``;
it is the name in KServe's v2 URLs (``/v2/models/<model>/infer``). Only promoted versions are laid
out: KServe's storage initializer downloads the whole ``storageUri`` prefix into every predictor pod,
so unpromoted candidates stay out of it.

``N`` (Triton wants a positive integer folder) is derived from the version name alone
(``triton_version_number``): ``YYYYmmddTHHMMSSZ-...`` gives ``YYYYmmddHHMMSS`` (readable, grows with
time); any other name gives ``1 + int(sha256(name)[:15], 16) % (10**13 - 1)`` (below every timestamp).
Two versions mapping to one ``N`` with different models cannot both be laid out: the create-only
write refuses the second (``PublishConflict``).

The model's inputs and outputs (names, data types, shapes) are read from the ONNX file itself with a
small protobuf reader (``onnx_io``): the publish task runs on the data image, which has no ``onnx``
package. A first dimension that is symbolic on every input and output (a dynamic export) becomes
Triton batching (``max_batch_size: TRITON_MAX_BATCH``, batch dimension left out of ``dims``); a fixed
export gets ``max_batch_size: 0`` and its full shapes. Other symbolic dimensions become ``-1``.

Promotion order (``components/publish/core.py``): the version folder and labels are written
create-only and sha256-checked against the manifest BEFORE the compare-and-swap of production.json,
whose ``triton`` entry records what to serve; then ``sync_config`` renders config.pbtxt from
production.json, writes it (an atomic replace: the storage backends' compare-and-swap covers JSON
documents only) and re-reads production.json, repeating until it did not change in between. So once
every promotion has returned, config.pbtxt names the version production.json names, whatever the
interleaving (the last writer always re-checked the pointer after its write).
"""

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
from components._shared.production import MANIFEST, PRODUCTION, read_production
from components._shared.storage import Backend, ObjectExistsError, backend_for, file_digests

log = logging.getLogger(__name__)

TRITON_DIR = "triton"
CONFIG = "config.pbtxt"
PLATFORM = "onnxruntime_onnx"
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
    """One graph input or output as the ONNX file declares it.

    Attributes:
        name: the tensor's name in the graph (what clients send and read).
        data_type: the Triton data type (``TYPE_FP32``...).
        dims: the shape; an ``int`` for a fixed dimension, a ``str`` for a symbolic one (``batch``).
    """

    name: str
    data_type: str
    dims: tuple[int | str, ...]


@dataclass(frozen=True)
class OnnxIO:
    """The graph inputs (initializers excluded) and outputs of an ONNX model."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]


# ---------------------------------------------------------------- reading the ONNX file


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
    """ValueInfoProto -> (name, ONNX elem_type, dims)."""
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
    """Read the inputs and outputs of an ONNX model from its protobuf, without the ``onnx`` package.

    Args:
        path: the ``model.onnx`` file (external data, if any, is not read).

    Raises:
        DatasetError: the file is not an ONNX model, or a tensor has a type Triton cannot serve.
    """
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


def _specs(path: Path, items: list[tuple[str, int, tuple[int | str, ...]]]) -> tuple[TensorSpec, ...]:
    out = []
    for name, elem, dims in items:
        if elem not in ONNX_TO_TRITON:
            raise DatasetError(
                f"{path}: tensor {name!r} has ONNX data type {elem}, which Triton does not serve"
            )
        out.append(TensorSpec(name=name, data_type=ONNX_TO_TRITON[elem], dims=dims))
    return tuple(out)


# ---------------------------------------------------------------- the repository's content


def triton_version_number(version: str) -> int:
    """The Triton version folder (a positive integer) of a published version name; see the module doc."""
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
    model_path: Path, *, model: str, version: str, classes: list[str] | None, model_sha256: str
) -> dict[str, Any]:
    """What production.json records under ``triton``: everything config.pbtxt is rendered from.

    Raises:
        DatasetError: ``model_path`` is not a readable ONNX model.
    """
    io = onnx_io(model_path)
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
        "max_batch_size": TRITON_MAX_BATCH if dynamic_batch else 0,
        "inputs": [{"name": t.name, "data_type": t.data_type, "dims": dims(t)} for t in io.inputs],
        "outputs": [{"name": t.name, "data_type": t.data_type, "dims": dims(t)} for t in io.outputs],
        "labels": f"labels-{number}.txt" if classes else None,
        "model_sha256": model_sha256,
    }


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_config(spec: dict[str, Any], *, version: str, promotion_id: str | None = None) -> str:
    """config.pbtxt (protobuf text format) serving ``spec['version']`` only."""
    lines = [
        f"# Written by yolo-kfp publish: serves production version {version} (promotion {promotion_id}).",
        "# Rewritten on every promotion from production.json; do not edit.",
        f"name: {_quote(spec['model'])}",
        f"platform: {_quote(spec['platform'])}",
        f"max_batch_size: {int(spec['max_batch_size'])}",
        f"version_policy: {{ specific: {{ versions: [{int(spec['version'])}] }} }}",
    ]
    for kind in ("input", "output"):
        entries = []
        for i, t in enumerate(spec[f"{kind}s"]):
            body = [
                f"    name: {_quote(t['name'])}",
                f"    data_type: {t['data_type']}",
                f"    dims: [ {', '.join(str(int(d)) for d in t['dims'])} ]",
            ]
            if kind == "output" and i == 0 and spec.get("labels"):
                body.append(f"    label_filename: {_quote(spec['labels'])}")
            entries.append("  {\n" + "\n".join(body) + "\n  }")
        lines.append(f"{kind} [\n" + ",\n".join(entries) + "\n]")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- writing it


def lay_out_version(loc: Backend, spec: dict[str, Any], model_path: Path, classes: list[str] | None) -> None:
    """Write ``<N>/model.onnx`` and ``labels-<N>.txt`` create-only, checked against ``spec['model_sha256']``.

    An object already holding the same bytes counts as written (a re-promotion, a retried task).

    Raises:
        TritonConflict: another version's model or labels already own the folder ``N``.
        StorageError: the stored model's sha256 differs from the manifest's.
    """
    base = f"{spec['repository']}/{spec['model']}"
    rel = f"{base}/{spec['version']}/model.onnx"
    try:
        stored = loc.create_file(rel, model_path)
        if spec.get("labels") and classes:
            with tempfile.TemporaryDirectory(prefix="yolo-kfp-triton-") as tmp:
                labels = Path(tmp) / "labels.txt"
                labels.write_text("".join(f"{c}\n" for c in classes), encoding="utf-8")
                loc.create_file(f"{base}/{spec['labels']}", labels)
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


def sync_config(loc: Backend) -> dict[str, Any] | None:
    """Make ``config.pbtxt`` serve what production.json names; re-check the pointer after each write.

    Returns:
        production.json's ``triton`` entry now served, or None when production has none (nothing
        promoted, or its model is not ONNX: config.pbtxt is then left as it was, with a warning).

    Raises:
        ConfigError: production.json kept changing through every attempt (run the promotion again).
    """
    for _ in range(SYNC_ATTEMPTS):
        found = loc.get_json_etag(PRODUCTION)
        if not found or not isinstance(found[0], dict):
            return None
        pointer, etag = found
        spec = pointer.get("triton")
        if not isinstance(spec, dict):
            log.warning(
                "production version %s has no ONNX model for Triton: %s left unchanged",
                pointer.get("version"),
                CONFIG,
            )
            return None
        text = render_config(spec, version=str(pointer["version"]), promotion_id=pointer.get("promotion_id"))
        with tempfile.TemporaryDirectory(prefix="yolo-kfp-triton-") as tmp:
            path = Path(tmp) / CONFIG
            path.write_text(text, encoding="utf-8")
            stored = loc.put_file(f"{spec['repository']}/{spec['model']}/{CONFIG}", path)
        again = loc.get_json_etag(PRODUCTION)
        if again and again[1] == etag:
            log.info("Triton %s serves %s (version %s)", stored.uri, pointer["version"], spec["version"])
            return spec
    raise ConfigError(
        f"{loc.uri_of(PRODUCTION)} kept changing while {CONFIG} was written: promote again to re-sync it"
    )


# ---------------------------------------------------------------- verified reader


@dataclass(frozen=True)
class TritonRepository:
    """The production Triton model, downloaded and checked by ``verify_triton_repository``.

    Attributes:
        root: the local model repository (``<root>/<model>/config.pbtxt``...), what Triton would load.
        model: the Triton model name.
        version: the Triton version number served.
        published_version: the production version's name.
        config: ``<root>/<model>/config.pbtxt``.
        model_path: ``<root>/<model>/<N>/model.onnx``.
        labels: the class names from the labels file (empty without one).
    """

    root: Path
    model: str
    version: int
    published_version: str
    config: Path
    model_path: Path
    labels: tuple[str, ...]


def verify_triton_repository(dest: str, work_dir: Path) -> TritonRepository | None:
    """Download the served part of the Triton repository and check it against production.json.

    config.pbtxt must be exactly what production.json's ``triton`` entry renders to, the model's
    sha256 must equal the manifest's ``model.onnx`` entry and the labels production's classes.

    Returns:
        The checked repository under ``work_dir``, or None when production has no Triton entry.

    Raises:
        StorageError: a file is missing or differs (one line naming it).
    """
    loc = backend_for(dest)
    pointer = read_production(dest, backend=loc)
    spec = pointer.get("triton") if pointer else None
    if not pointer or not isinstance(spec, dict):
        return None
    base, root = f"{spec['repository']}/{spec['model']}", Path(work_dir)
    names = [CONFIG, f"{spec['version']}/model.onnx", *([spec["labels"]] if spec.get("labels") else [])]
    for name in names:
        if not loc.get_file(f"{base}/{name}", root / spec["model"] / name):
            raise StorageError(f"{loc.uri_of(base + '/' + name)}: missing from the Triton repository")
    model_dir = root / spec["model"]
    config = model_dir / CONFIG
    expected = render_config(spec, version=str(pointer["version"]), promotion_id=pointer.get("promotion_id"))
    if config.read_text(encoding="utf-8") != expected:
        raise StorageError(
            f"{loc.uri_of(base + '/' + CONFIG)}: does not serve production {pointer['version']}"
        )
    manifest = loc.get_json(f"{pointer['version']}/{MANIFEST}") or {}
    listed = {f.get("name"): f.get("sha256") for f in manifest.get("files", []) if isinstance(f, dict)}
    model_rel = f"{spec['version']}/model.onnx"
    model_path = model_dir / model_rel
    sha = file_digests(model_path)[1]
    if not sha == spec["model_sha256"] == listed.get("model.onnx"):
        raise StorageError(
            f"{loc.uri_of(base + '/' + model_rel)}: sha256 mismatch (stored {sha[:12]}, "
            f"manifest {str(listed.get('model.onnx'))[:12]}): refusing to serve it"
        )
    labels: tuple[str, ...] = ()
    if spec.get("labels"):
        labels = tuple((model_dir / spec["labels"]).read_text(encoding="utf-8").splitlines())
        if list(labels) != list(pointer.get("classes") or []):
            raise StorageError(f"{loc.uri_of(base + '/' + spec['labels'])}: labels differ from production's")
    return TritonRepository(
        root=root,
        model=str(spec["model"]),
        version=int(spec["version"]),
        published_version=str(pointer["version"]),
        config=config,
        model_path=model_path,
        labels=labels,
    )
