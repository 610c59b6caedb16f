"""The production pointer of a model destination: ``<dest>/production.json``, read by validate and publish.

``publish --promote`` writes it (``components/publish/core.py``); the validate stage reads the
production model's metrics from it as the baseline a challenger must match. Layout under ``dest``
(``s3://bucket/name`` or a local folder, any scheme of ``components._shared.storage``):

    production.json          {"version", "metrics", "gate", "history", ...}
    <version>/metrics.json   the promoted version's validation metrics
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from components._shared.fsio import write_json_atomic
from components._shared.storage import Backend, backend_for

log = logging.getLogger(__name__)

PRODUCTION = "production.json"


def read_production(dest: str, *, backend: Backend | None = None) -> dict[str, Any] | None:
    """The current ``production.json`` of ``dest``, or None when nothing was promoted yet.

    Args:
        dest: ``s3://bucket/name`` or a local folder.
        backend: the already opened ``dest`` (saves a client); default ``backend_for(dest)``.
    """
    pointer = (backend or backend_for(dest)).get_json(PRODUCTION)
    return pointer if isinstance(pointer, dict) else None


def production_baseline_metrics(dest: str, path: Path) -> Path | None:
    """Write the production model's metrics.json to ``path`` (for ``validate --baseline``).

    Returns:
        ``path``, or None when nothing is in production yet (the first model has no baseline).
    """
    backend = backend_for(dest)
    pointer = read_production(dest, backend=backend)
    if not pointer or not pointer.get("version"):
        log.info("%s: no production model yet: no baseline", backend.uri)
        return None
    path = Path(path)
    if not backend.get_file(f"{pointer['version']}/metrics.json", path):
        write_json_atomic(path, {**pointer.get("metrics", {}), "gate": pointer.get("gate")})
    log.info("baseline: production version %s -> %s", pointer["version"], path)
    return path
