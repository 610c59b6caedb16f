"""Resolve a ``--weights`` value: a local checkpoint, an architecture YAML, or an object-store URI.

Nothing here downloads from the internet: a bare checkpoint name such as ``yolov5s.pt`` that is not a
local file is an error that says where to put the file. URIs whose scheme is in the storage registry
(``components._shared.storage.BACKENDS``: ``s3://``) are copied into ``work_dir`` first; any other
scheme is a one-line ``ConfigError`` listing the supported ones. No torch import: the data stages
may call this too (``weights_exist`` is what the plan stage checks before anything is trained).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from components._shared.errors import ConfigError
from components._shared.storage import (
    BACKENDS,
    LOCAL,
    Backend,
    BucketNotFoundError,
    backend_for,
    describe_supported,
    split_uri,
)

WeightsKind = Literal["checkpoint", "architecture"]

_ARCH_SUFFIXES = (".yaml", ".yml")
_URI = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://")


@dataclass(frozen=True)
class ResolvedWeights:
    """Where the initial weights of a training run come from.

    Attributes:
        spec: the value the user gave (path, URI or architecture name), for reports.
        kind: ``checkpoint`` (a ``.pt`` file to load) or ``architecture`` (a YAML to build from scratch).
        path: the local checkpoint file (``kind == "checkpoint"``), or the local YAML file when the
            architecture is a file; ``None`` for a built-in architecture name such as ``yolov5n.yaml``.
        arch: the architecture YAML name or path (``kind == "architecture"``), else ``None``.
    """

    spec: str
    kind: WeightsKind
    path: Path | None = None
    arch: str | None = None

    @property
    def is_checkpoint(self) -> bool:
        """True when training starts from saved weights (a frozen stage needs them)."""
        return self.kind == "checkpoint"

    def to_dict(self) -> dict[str, str | None]:
        """JSON-ready dict for reports and model cards."""
        return {
            "spec": self.spec,
            "kind": self.kind,
            "path": str(self.path) if self.path else None,
            "arch": self.arch,
        }


def resolve_weights(spec: str, work_dir: Path) -> ResolvedWeights:
    """Turn a ``--weights`` value into a local checkpoint or an architecture to build.

    Args:
        spec: ``path/to/best.pt``, ``yolov5n.yaml`` (built-in architecture, random weights),
            ``path/to/custom.yaml``, or ``s3://bucket/key.pt``.
        work_dir: folder where fetched URIs are stored.

    Returns:
        The resolved weights; checkpoint paths exist and are files.

    Raises:
        ConfigError: an empty value, a missing file or object, a URI scheme with no storage backend,
            or a bare checkpoint name that is not a local file (no download is possible).
        StorageError: the object store failed (one line naming the endpoint and the object).
    """
    spec = str(spec).strip()
    if not spec:
        raise ConfigError("--weights is empty; pass a .pt checkpoint, an architecture YAML or an s3:// URI")
    path = Path(spec).expanduser()
    if m := _URI.match(spec):
        scheme = m.group("scheme").lower()
        if scheme != LOCAL:
            return _fetch(spec, scheme, Path(work_dir))
        path = Path(spec[m.end() :]).expanduser()
    if path.suffix.lower() in _ARCH_SUFFIXES:
        if path.is_file():
            return ResolvedWeights(
                spec=spec, kind="architecture", path=path.resolve(), arch=str(path.resolve())
            )
        if len(path.parts) > 1:
            raise ConfigError(f"--weights {spec}: architecture YAML not found")
        return ResolvedWeights(
            spec=spec, kind="architecture", arch=spec
        )  # built-in name, checked by the trainer
    if path.is_dir():
        raise ConfigError(
            f"--weights {spec} is a folder; pass the checkpoint inside it (e.g. {path / 'best.pt'})"
        )
    if path.is_file():
        return ResolvedWeights(spec=spec, kind="checkpoint", path=path.resolve())
    if len(path.parts) == 1:
        raise ConfigError(
            f"--weights {spec}: no such file in {Path.cwd()}, and weights are never downloaded (no network); "
            f"copy the checkpoint to {Path.cwd() / spec} or pass its path, an s3:// URI, "
            f"or an architecture such as yolov5n.yaml to train from scratch"
        )
    raise ConfigError(f"--weights {spec}: checkpoint file not found")


def _fetch(spec: str, scheme: str, work_dir: Path) -> ResolvedWeights:
    """Copy the object ``spec`` into ``work_dir`` through the storage backend of its scheme."""
    if scheme in ("http", "https"):
        raise ConfigError(f"--weights {spec}: no network access; download the file and pass its path")
    if scheme not in BACKENDS:
        raise ConfigError(
            f"--weights {spec}: unsupported URI scheme '{scheme}://' (supported: {describe_supported()}); "
            "copy the checkpoint to a local path and pass that"
        )
    parent, name = split_uri(spec)
    local = work_dir / name
    backend = backend_for(parent)
    if not backend.get_file(name, local):
        raise ConfigError(f"--weights {spec}: no such object on {backend.endpoint}; check the URI")
    if local.suffix.lower() in _ARCH_SUFFIXES:
        return ResolvedWeights(spec=spec, kind="architecture", path=local, arch=str(local))
    return ResolvedWeights(spec=spec, kind="checkpoint", path=local)


def is_builtin_architecture(spec: str) -> bool:
    """True for a bare architecture YAML name such as ``yolov5n.yaml`` that is not a local file (Ultralytics builds it)."""
    path = Path(str(spec).strip())
    return (
        path.suffix.lower() in _ARCH_SUFFIXES
        and len(path.parts) == 1
        and not _URI.match(str(spec))
        and not path.is_file()
    )


def weights_exist(specs: list[str] | tuple[str, ...]) -> dict[str, bool]:
    """Whether each ``--weights`` value names something that exists, without downloading anything.

    Local paths (and ``file://``) are looked up on disk, URIs through the storage registry (``stat`` of
    the object, one backend per folder); a built-in architecture name (``yolov5n.yaml``) always exists.

    Args:
        specs: ``--weights`` values (paths, URIs, architecture YAMLs).

    Returns:
        ``{spec: exists}`` for every value.

    Raises:
        ConfigError: an http(s) URI (no network), a scheme with no storage backend, or an object store
            that is not configured (``MINIO_ENDPOINT`` unset).
        StorageError: the object store failed (one line naming the endpoint).
    """
    backends: dict[str, Backend] = {}
    found: dict[str, bool] = {}
    for spec in specs:
        text = str(spec).strip()
        m = _URI.match(text)
        scheme = m.group("scheme").lower() if m else LOCAL
        if scheme == LOCAL:
            path = Path(text[m.end() :] if m else text).expanduser()
            found[spec] = is_builtin_architecture(text) or path.is_file()
            continue
        if scheme in ("http", "https"):
            raise ConfigError(
                f"weights {text}: no network access; put the file in the object store and pass its URI"
            )
        if scheme not in BACKENDS:
            raise ConfigError(
                f"weights {text}: unsupported URI scheme '{scheme}://' (supported: {describe_supported()})"
            )
        parent, name = split_uri(text)
        if parent not in backends:
            backends[parent] = backend_for(parent)
        try:
            found[spec] = backends[parent].exists(name)
        except BucketNotFoundError:
            found[spec] = False  # nothing uploaded yet: the caller says what to upload where
    return found


def weights_folder(spec: str) -> str:
    """The folder (or ``s3://`` prefix) that holds the file ``spec`` names, for messages."""
    try:
        return split_uri(str(spec).strip())[0]
    except ConfigError:
        return str(spec)


def weights_digest(spec: str) -> str:
    """A token that changes whenever the bytes ``spec`` names change, without downloading them.

    KFP caches a task on its input values (``backend/src/v2/cacheutils/cache.go``, ``GenerateCacheKey``,
    tag 2.17.0), never on what a URI points to: ``fetch_weights`` takes this token as an input so that
    weights uploaded again under the same URI change its cache key.

    Returns:
        ``builtin:<name>`` for an architecture YAML, ``size:<bytes>:sha256:<hex>`` for a local file,
        ``size:<bytes>:etag:<etag>`` for an object (its ETag changes with every upload).

    Raises:
        ConfigError: as ``weights_exist``; or the file or object does not exist.
        StorageError: the object store failed.
    """
    text = str(spec).strip()
    if is_builtin_architecture(text):
        return f"builtin:{text}"
    m = _URI.match(text)
    scheme = m.group("scheme").lower() if m else LOCAL
    if scheme == LOCAL:
        path = Path(text[m.end() :] if m else text).expanduser()
        if not path.is_file():
            raise ConfigError(f"weights {text}: not found")
        from components._shared.storage.base import sha256_file

        return f"size:{path.stat().st_size}:sha256:{sha256_file(path)}"
    if not weights_exist([text])[text]:
        raise ConfigError(f"weights {text}: not found")
    parent, name = split_uri(text)
    entry = backend_for(parent).stat(name)
    return f"size:{entry.size}:etag:{entry.etag}"
