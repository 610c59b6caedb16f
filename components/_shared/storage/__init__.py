"""Storage: one registry from URI scheme to backend; a new backend is one module and one line here.

    s3://bucket/prefix/...    components/_shared/storage/s3.py     (MinIO/S3 from MINIO_*, retries)
    /path, file:///path       components/_shared/storage/local.py  (local folder, same layout)

``backend_for(uri)`` opens the objects under a URI through the ``Backend`` interface
(``components/_shared/storage/base.py``): stat, list, download, upload, small JSON, delete, each
verified and atomic per object, plus create-only writes and compare-and-swap of small JSON
documents (``ObjectExistsError`` / ``PreconditionFailedError`` when another writer won).
``BACKENDS`` below is the whole list: nothing registers itself as
a side effect of an import, and each ``"module:Class"`` is imported when its scheme is first used
(the two built-in modules are also re-exported here; they import only the standard library until a
MinIO client is made).

To add one (say ``gs://``): write ``gs.py`` with a class that implements ``Backend`` and has a
``from_uri(uri, **options)`` classmethod, and add ``"gs": "components._shared.storage.gs:GsBackend"``.

The MinIO client and its error types are re-exported here (``from components._shared.storage import
Storage, parse_s3_uri``) for callers that need bucket-level calls.
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
    Backend,
    Entry,
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StoredFile,
    file_digests,
    safe_relpath,
    sha256_file,
)
from components._shared.storage.local import LocalBackend
from components._shared.storage.s3 import (
    AccessDeniedError,
    BucketNotFoundError,
    CredentialsError,
    EndpointUnavailableError,
    ObjectInfo,
    RetryPolicy,
    S3Backend,
    Storage,
    StorageSettings,
    is_s3_uri,
    parse_s3_uri,
    storage_configured,
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
    "LocalBackend",
    "ObjectExistsError",
    "ObjectInfo",
    "ObjectNotFoundError",
    "PreconditionFailedError",
    "RetryPolicy",
    "S3Backend",
    "Storage",
    "StorageSettings",
    "StoredFile",
    "backend_class",
    "backend_for",
    "describe_supported",
    "file_digests",
    "is_s3_uri",
    "parse_s3_uri",
    "safe_relpath",
    "scheme_of",
    "sha256_file",
    "split_uri",
    "storage_configured",
    "supported_schemes",
]


def scheme_of(uri: str | os.PathLike[str]) -> str:
    """The lower-case scheme of ``scheme://...``; ``"file"`` for a plain path (registered or not)."""
    m = _SCHEME.match(os.fspath(uri)) if isinstance(uri, str) else None
    return m.group("scheme").lower() if m else LOCAL


def supported_schemes() -> tuple[str, ...]:
    """The registered schemes, in registry order (``("s3", "file")``)."""
    return tuple(BACKENDS)


def describe_supported() -> str:
    """``s3://, file:// or a local path``: what an error message offers instead of a bad URI."""
    return ", ".join(f"{s}://" for s in BACKENDS) + " or a local path"


def backend_class(scheme: str) -> type[Backend]:
    """Import and return the backend class registered for ``scheme``.

    Raises:
        ConfigError: no backend is registered for it.
    """
    target = BACKENDS.get(scheme.lower())
    if target is None:
        raise ConfigError(f"no storage backend for '{scheme}://' (supported: {describe_supported()})")
    module, _, name = target.partition(":")
    cls: type[Backend] = getattr(importlib.import_module(module), name)
    return cls


def backend_for(uri: str | os.PathLike[str], **options: Any) -> Backend:
    """The objects under ``uri``, through the backend registered for its scheme.

    Args:
        uri: ``s3://bucket/prefix``, ``file:///folder`` or a local folder path.
        **options: passed to the backend's ``from_uri`` (S3: ``storage=``, ``workers=``).

    Raises:
        ConfigError: unknown scheme (the message lists the supported ones), or a malformed URI.
    """
    scheme = scheme_of(uri)
    try:
        cls = backend_class(scheme)
    except ConfigError:
        raise ConfigError(
            f"{os.fspath(uri)}: unsupported URI scheme '{scheme}://' (supported: {describe_supported()})"
        ) from None
    backend: Backend = cls.from_uri(os.fspath(uri), **options)  # type: ignore[attr-defined]
    return backend


def split_uri(uri: str | os.PathLike[str]) -> tuple[str, str]:
    """Split an object's URI into its parent's URI and its name: ``s3://b/m/best.pt`` -> ``(s3://b/m/, best.pt)``.

    ``backend_for(parent).get_file(name, dest)`` then fetches the object, whatever the scheme.

    Raises:
        ConfigError: the URI names a folder (ends with ``/``) or a bucket, not an object.
    """
    text = os.fspath(uri)
    m = _SCHEME.match(text)
    if m and m.group("scheme").lower() != LOCAL:
        root, _, rest = text[m.end() :].partition("/")
        parent, _, name = rest.rpartition("/")
        if not root or not name:
            raise ConfigError(f"{text}: names a folder or a bucket, not an object (expected .../name)")
        return f"{text[: m.end()]}{root}/{parent + '/' if parent else ''}", name
    path = Path(text[m.end() :] if m else text).expanduser()
    if not path.name or text.endswith(("/", os.sep)):
        raise ConfigError(f"{text}: names a folder, not a file")
    return str(path.parent), path.name
