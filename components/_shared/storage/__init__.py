"""Storage: a registry from URI scheme to lazily imported backend (``BACKENDS``); ``backend_for(uri)`` opens one.

To add a backend (say ``gs://``): a class implementing ``base.Backend`` whose constructor takes
``(uri, **options)``, and one ``"module:Class"`` line in ``BACKENDS``.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from components._shared.errors import ConfigError
from components._shared.storage.base import (
    AccessDeniedError,
    Backend,
    BucketNotFoundError,
    CredentialsError,
    EndpointUnavailableError,
    Entry,
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StoredFile,
    file_digests,
    safe_relpath,
    sha256_file,
)

LOCAL = "file"
BACKENDS: Mapping[str, str] = MappingProxyType(
    {
        "s3": "components._shared.storage.s3:S3Backend",
        LOCAL: "components._shared.storage.local:LocalBackend",
    }
)
_SCHEME = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://")

__all__ = [
    "BACKENDS",
    "LOCAL",
    "AccessDeniedError",
    "Backend",
    "BucketNotFoundError",
    "CredentialsError",
    "EndpointUnavailableError",
    "Entry",
    "ObjectExistsError",
    "ObjectNotFoundError",
    "PreconditionFailedError",
    "StoredFile",
    "backend_for",
    "describe_supported",
    "file_digests",
    "local_path",
    "safe_relpath",
    "scheme_of",
    "sha256_file",
    "split_uri",
]


def scheme_of(uri: str | os.PathLike[str]) -> str:
    """The lower-case scheme of ``scheme://...``; ``"file"`` for a plain path (registered or not)."""
    m = _SCHEME.match(os.fspath(uri)) if isinstance(uri, str) else None
    return m.group("scheme").lower() if m else LOCAL


def local_path(uri: str | os.PathLike[str]) -> Path:
    """The path a plain path or a ``file://`` URI names (``~`` expanded)."""
    text = os.fspath(uri)
    m = _SCHEME.match(text)
    return Path(text[m.end() :] if m else text).expanduser()


def describe_supported() -> str:
    """``s3://, file:// or a local path``: what an error message offers instead of a bad URI."""
    return ", ".join(f"{s}://" for s in BACKENDS) + " or a local path"


def backend_for(uri: str | os.PathLike[str], **options: Any) -> Backend:
    """The objects under ``uri`` through its scheme's backend (``options``: its constructor's).

    Raises ConfigError for an unknown scheme or a malformed URI.
    """
    scheme = scheme_of(uri)
    target = BACKENDS.get(scheme)
    if target is None:
        raise ConfigError(
            f"{os.fspath(uri)}: unsupported URI scheme '{scheme}://' (supported: {describe_supported()})"
        )
    module, _, name = target.partition(":")
    backend: Backend = getattr(importlib.import_module(module), name)(os.fspath(uri), **options)
    return backend


def split_uri(uri: str | os.PathLike[str]) -> tuple[str, str]:
    """``s3://b/m/best.pt`` -> ``(s3://b/m/, best.pt)``, for ``backend_for(parent).get_file(name, dest)``.

    Raises ConfigError when the URI names a folder (ends with ``/``) or a bucket, not an object.
    """
    text = os.fspath(uri)
    m = _SCHEME.match(text)
    if m and m.group("scheme").lower() != LOCAL:
        root, _, rest = text[m.end() :].partition("/")
        parent, _, name = rest.rpartition("/")
        if not root or not name:
            raise ConfigError(f"{text}: names a folder or a bucket, not an object (expected .../name)")
        return f"{text[: m.end()]}{root}/{parent + '/' if parent else ''}", name
    path = local_path(text)
    if not path.name or text.endswith(("/", os.sep)):
        raise ConfigError(f"{text}: names a folder, not a file")
    return str(path.parent), path.name
