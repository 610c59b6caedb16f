"""Resolve a ``--weights`` value: a local checkpoint, an architecture YAML, or an object-store URI.

Nothing comes from the internet; ``s3://`` URIs are copied into ``work_dir``. No torch import: the plan
stage checks ``weights_exist`` before anything is trained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from components._shared.errors import ConfigError
from components._shared.storage import (
    BACKENDS,
    LOCAL,
    Backend,
    BucketNotFoundError,
    ObjectNotFoundError,
    backend_for,
    describe_supported,
    file_digests,
    local_path,
    scheme_of,
    split_uri,
)

WeightsKind = Literal["checkpoint", "architecture"]

_ARCH_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class ResolvedWeights:
    """Where the initial weights of a training run come from.

    ``kind`` is ``checkpoint`` (``path``: a ``.pt`` to load) or ``architecture`` (``arch``: a YAML name or
    path to build from scratch; ``path`` is None for a built-in name such as ``yolov5n.yaml``).
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
        return {**asdict(self), "path": str(self.path) if self.path else None}


def _is_remote(text: str, flag: str) -> bool:
    """True for a remote backend's URI, False for a local path; ConfigError for http(s) or an unknown scheme."""
    scheme = scheme_of(text)
    if scheme in ("http", "https"):
        raise ConfigError(
            f"{flag} {text}: no network access; download the file and pass its path, or an object-store URI"
        )
    if scheme not in BACKENDS:
        raise ConfigError(
            f"{flag} {text}: unsupported URI scheme '{scheme}://' (supported: {describe_supported()}); "
            "copy the checkpoint to a local path and pass that"
        )
    return scheme != LOCAL


def resolve_weights(spec: str, work_dir: Path) -> ResolvedWeights:
    """Turn ``best.pt``, ``yolov5n.yaml``, ``custom.yaml`` or ``s3://b/k.pt`` into a checkpoint or architecture.

    ConfigError for an empty value, a missing file or object, an unsupported scheme, or a bare checkpoint
    name that is not a local file (nothing is downloaded); StorageError when the store failed.
    """
    spec = str(spec).strip()
    if not spec:
        raise ConfigError("--weights is empty; pass a .pt checkpoint, an architecture YAML or an s3:// URI")
    if _is_remote(spec, "--weights"):
        return _fetch(spec, Path(work_dir))
    path = local_path(spec)
    if path.suffix.lower() in _ARCH_SUFFIXES:
        if path.is_file():
            return ResolvedWeights(
                spec=spec, kind="architecture", path=path.resolve(), arch=str(path.resolve())
            )
        if len(path.parts) > 1:
            raise ConfigError(f"--weights {spec}: architecture YAML not found")
        return ResolvedWeights(spec=spec, kind="architecture", arch=spec)  # built-in: the trainer checks it
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


def _fetch(spec: str, work_dir: Path) -> ResolvedWeights:
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
    return path.suffix.lower() in _ARCH_SUFFIXES and len(path.parts) == 1 and not path.is_file()


def weights_exist(specs: list[str] | tuple[str, ...]) -> dict[str, bool]:
    """``{spec: exists}`` for ``--weights`` values, downloading nothing (a built-in architecture always exists).

    ConfigError for http(s), an unsupported scheme or an unconfigured store; StorageError when it failed.
    """
    backends: dict[str, Backend] = {}
    found: dict[str, bool] = {}
    for spec in specs:
        text = str(spec).strip()
        if not _is_remote(text, "weights"):
            found[spec] = is_builtin_architecture(text) or local_path(text).is_file()
            continue
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

    KFP caches on input values (``backend/src/v2/cacheutils/cache.go``, ``GenerateCacheKey``, tag 2.17.0),
    not on what a URI points to: this token, an input of ``fetch_weights``, changes with a re-upload.

    Returns ``builtin:<name>``, ``size:<bytes>:sha256:<hex>`` (local file) or ``size:<bytes>:etag:<etag>``.
    Raises ConfigError and StorageError as ``weights_exist``, and ConfigError when the file is missing.
    """
    text = str(spec).strip()
    if is_builtin_architecture(text):
        return f"builtin:{text}"
    if not _is_remote(text, "weights"):
        path = local_path(text)
        if not path.is_file():
            raise ConfigError(f"weights {text}: not found")
        size, sha, _ = file_digests(path)
        return f"size:{size}:sha256:{sha}"
    parent, name = split_uri(text)
    try:
        entry = backend_for(parent).stat(name)
    except (ObjectNotFoundError, BucketNotFoundError):
        raise ConfigError(f"weights {text}: not found") from None
    return f"size:{entry.size}:etag:{entry.etag}"
