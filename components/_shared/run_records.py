"""Small records a run leaves under ``<checkpoint_root>/<run_id>/`` for the exit handler's summary.

KFP does not let an exit task read the outputs of the tasks it guards, so gate and publish write them here.
"""

from __future__ import annotations

import logging
from typing import Any

from components._shared.errors import YoloKfpError

log = logging.getLogger(__name__)

GATE_RECORD = "gate.json"
PUBLISH_RECORD = "publish.json"
DIAGNOSIS_RECORD = "diagnosis.json"  # each training stage's doctor, at <root>/<stage>/ (components/train)


def record_root(checkpoint_root: str, run_id: str) -> str:
    """The run's record folder (``<checkpoint_root>/<run_id>/``), or "" when either is empty."""
    if not checkpoint_root or not run_id:
        return ""
    return f"{checkpoint_root.rstrip('/')}/{run_id}/"


def write_record(root: str, name: str, record: dict[str, Any]) -> None:
    """Leave a record for the summary; a failure to write it is logged, never fatal to the task."""
    if not root:
        return
    from components._shared.storage import backend_for

    try:
        backend_for(root).put_json(name, record)
    except (YoloKfpError, OSError) as err:
        log.warning("could not write the run record %s%s: %s", root, name, err)
