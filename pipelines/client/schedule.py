"""Schedule retraining: create or replace a KFP recurring run of a pipeline version."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components._shared.errors import ConfigError
from pipelines.client.connect import api_errors
from pipelines.client.submit import (
    DEFAULT_EXPERIMENT,
    DEFAULT_PACKAGE,
    ensure_experiment,
    ensure_pipeline_version,
    eq_filter,
)

if TYPE_CHECKING:
    import kfp

DEFAULT_SCHEDULE_NAME = "yolo-transfer-retrain"

log = logging.getLogger(__name__)


def to_kfp_cron(expr: str) -> str:
    """KFP's six-field cron (seconds first) of a five-field one (``0 3 * * 1`` -> ``0 0 3 * * 1``)."""
    fields = expr.split()
    if len(fields) not in (5, 6):
        raise ConfigError(
            f"cron {expr!r} has {len(fields)} fields: give five (min hour day month weekday, e.g. '0 3 * * 1') "
            "or six with seconds first"
        )
    for f in fields:
        if not re.fullmatch(r"[0-9A-Za-z*/,?LW#-]+", f):
            raise ConfigError(f"cron {expr!r}: field {f!r} is not a cron field")
    return " ".join(["0", *fields] if len(fields) == 5 else fields)


@dataclass(frozen=True)
class ScheduleResult:
    """The recurring run created and the ones of the same name it replaced."""

    recurring_run_id: str
    name: str
    cron: str
    version_name: str
    version_id: str
    experiment_id: str
    replaced: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the CLI's JSON summary."""
        d = asdict(self)
        d["replaced"] = list(self.replaced)
        return d


def schedule(
    client: kfp.Client,
    *,
    cron: str,
    version_name: str,
    name: str = DEFAULT_SCHEDULE_NAME,
    package: Path = DEFAULT_PACKAGE,
    experiment: str = DEFAULT_EXPERIMENT,
    params: Mapping[str, Any] | None = None,
    namespace: str | None = None,
    host: str | None = None,
) -> ScheduleResult:
    """Create (or replace) the recurring run ``name`` of version ``version_name`` (max concurrency 1, no catch-up).

    The new one is created before older ones of that name are deleted: a failed create leaves the old schedule.
    """
    kfp_cron = to_kfp_cron(cron)
    with api_errors(host or "KFP"):
        ref = ensure_pipeline_version(client, package, version_name, namespace)
        experiment_id = ensure_experiment(client, experiment, namespace)
        old = _recurring_runs_named(client, experiment_id, name)
        created = client.create_recurring_run(
            experiment_id=experiment_id, job_name=name, cron_expression=kfp_cron,
            max_concurrency=1, no_catchup=True, params=dict(params or {}),
            pipeline_id=ref.pipeline_id, version_id=ref.version_id, enabled=True,
            description=f"yolo-kfp schedule: {cron} (KFP cron {kfp_cron}), version {version_name}",
        )  # fmt: skip
        for rid in old:
            client.delete_recurring_run(rid)
            log.info("deleted the previous recurring run %s (%s)", rid, name)
    log.info(
        "recurring run %s (%s): '%s' of version %s", created.recurring_run_id, name, kfp_cron, version_name
    )
    return ScheduleResult(
        created.recurring_run_id, name, kfp_cron, version_name, ref.version_id, experiment_id, tuple(old)
    )


def _recurring_runs_named(client: kfp.Client, experiment_id: str, name: str) -> list[str]:
    ids: list[str] = []
    token = ""
    while True:
        resp = client.list_recurring_runs(
            experiment_id=experiment_id,
            page_token=token,
            page_size=100,
            filter=eq_filter("display_name", name),
        )
        ids += [r.recurring_run_id for r in resp.recurring_runs or [] if r.display_name == name]
        token = resp.next_page_token or ""
        if not token:
            return ids
