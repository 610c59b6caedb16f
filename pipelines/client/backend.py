"""Check the KFP backend's release against ``BACKEND_FEATURES`` (docs/kubeflow.md, "Which KFP backend")."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components._shared.versions import BACKEND_FEATURES, BACKEND_MIN, version_at_least
from pipelines.client.connect import KfpApiError

log = logging.getLogger(__name__)
_RELEASE = re.compile(r"v?\d+\.\d+(\.\d+)?([-+.].*)?")


class BackendTooOld(KfpApiError):
    """The KFP backend is older than the compiled pipeline needs."""


@dataclass(frozen=True)
class BackendCheck:
    """The backend's release (None: not reported) and the features it degrades."""

    version: str | None
    degraded: tuple[str, ...] = ()


def backend_version(health: Mapping[str, Any] | None) -> str | None:
    """The release in a healthz answer (``tag_name``), or None when absent or not a release number."""
    tag = str((health or {}).get("tag_name") or "").strip()
    return tag if _RELEASE.fullmatch(tag) else None


def check_backend(health: Mapping[str, Any] | None, where: str = "KFP") -> BackendCheck:
    """Refuse (BackendTooOld) a backend older than ``BACKEND_MIN``; warn for degraded features or an unknown release."""
    version = backend_version(health)
    if version is None:
        found = (health or {}).get("tag_name")
        log.warning(
            "KFP at %s does not report its release (tag_name=%r): cannot check it is >= %s; "
            "on an older backend GPU requests, node selectors and retries may be ignored",
            where, found, BACKEND_MIN,
        )  # fmt: skip
        return BackendCheck(None)
    missing = [f for f in BACKEND_FEATURES if f.required and not version_at_least(version, f.since)]
    if missing:
        first = missing[0]  # the table is in release order: the oldest feature it lacks
        raise BackendTooOld(
            f"KFP backend at {where} is {version}, this pipeline needs >= {BACKEND_MIN} "
            f"(from {first.since}: {first.feature}; older {first.older}); upgrade Kubeflow Pipelines"
        )
    degraded = tuple(
        f.feature for f in BACKEND_FEATURES if not f.required and not version_at_least(version, f.since)
    )
    for f in BACKEND_FEATURES:
        if f.feature in degraded:
            log.warning("KFP backend %s < %s: %s %s", version, f.since, f.feature, f.older)
    log.info("KFP backend %s (pipeline needs >= %s)", version, BACKEND_MIN)
    return BackendCheck(version, degraded)
