"""Know the KFP backend: read its release from the health probe and check it against what the pipeline needs.

The API server answers ``GET /apis/v2beta1/healthz`` with ``{"commit_sha", "tag_name", "multi_user"}``
(``tag_name`` is its release, e.g. ``2.5.0``). ``components._shared.versions.BACKEND_FEATURES`` says which
feature of the compiled pipeline needs which release: an older backend than ``BACKEND_MIN`` runs the
pipeline wrongly (training on the CPU, no retries...), so submit and schedule refuse it; a feature that
only degrades (``required=False``) is logged as a warning. A backend that does not say its release
(``unknown``, a development build, kfp's kubeconfig proxy that drops the field) is a warning too.
"""

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
    """What the backend said about itself and what that means for the pipeline.

    Attributes:
        version: the backend's ``tag_name`` (``None`` when it did not say).
        degraded: features that work less well on it (each logged as a warning).
    """

    version: str | None
    degraded: tuple[str, ...] = ()


def backend_version(health: Mapping[str, Any] | None) -> str | None:
    """The release in a healthz answer (``tag_name``), or ``None`` when absent or not a release number."""
    tag = str((health or {}).get("tag_name") or "").strip()
    return tag if _RELEASE.fullmatch(tag) else None


def check_backend(health: Mapping[str, Any] | None, where: str = "KFP") -> BackendCheck:
    """Refuse a backend older than ``BACKEND_MIN``; warn for degraded features or an unknown release.

    Raises:
        BackendTooOld: the backend's release is below ``BACKEND_MIN`` (names both and the first
            feature it lacks).
    """
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
