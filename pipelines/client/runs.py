"""List the last pipeline runs with state, duration and what they published, and format them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pipelines.client.connect import api_errors
from pipelines.client.submit import ensure_experiment

if TYPE_CHECKING:
    import kfp

_UNSET_TIMES = ("1970-01-01",)  # KFP reports unset timestamps as the epoch


@dataclass(frozen=True)
class RunSummary:
    """One line of ``yolo-kfp runs``."""

    run_id: str
    name: str
    state: str
    created_at: str
    duration_s: float | None
    model: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        return asdict(self)


def list_recent_runs(
    client: kfp.Client, *, limit: int = 10, experiment: str | None = None, namespace: str | None = None
) -> list[RunSummary]:
    """The last ``limit`` runs (newest first) with state, duration and published model."""
    with api_errors("KFP"):
        experiment_id = ensure_experiment(client, experiment, namespace, create=False) if experiment else None
        resp = client.list_runs(
            experiment_id=experiment_id, namespace=namespace, page_size=limit, sort_by="created_at desc"
        )
        runs = list(resp.runs or [])[:limit]
        runs = [r if r.run_details is not None else client.get_run(r.run_id) for r in runs]
    return [_summarize(r) for r in runs]


def _summarize(run: Any) -> RunSummary:
    created = _as_datetime(run.created_at)
    finished = _as_datetime(run.finished_at)
    end = finished or (datetime.now(UTC) if created else None)
    duration = (end - created).total_seconds() if created and end else None
    return RunSummary(
        run_id=run.run_id or "",
        name=run.display_name or "",
        state=str(run.state or "UNKNOWN"),
        created_at=created.strftime("%Y-%m-%d %H:%M") if created else "-",
        duration_s=round(duration, 1) if duration is not None else None,
        model=published_model(run),
    )


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value.startswith(_UNSET_TIMES):
            return None
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.year <= 1970:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def published_model(run: Any) -> str:
    """``published``, ``not published`` or ``-``, from the publish task's state (the run API has no outputs)."""
    details = getattr(run, "run_details", None)
    for task in getattr(details, "task_details", None) or []:
        if "publish" in (task.display_name or "").lower():
            state = str(task.state or "")
            if state == "SUCCEEDED":
                return "published"
            if state in ("SKIPPED", "FAILED", "CANCELED"):
                return "not published"
            return "-"
    return "-"


def format_runs_table(runs: list[RunSummary]) -> str:
    """Fixed-width table: run id, state, started, duration, model, name."""
    header = ("RUN ID", "STATE", "CREATED (UTC)", "DURATION", "MODEL", "NAME")
    rows = [(r.run_id, r.state, r.created_at, _fmt_duration(r.duration_s), r.model, r.name) for r in runs]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
        for row in [header, *rows]
    ]
    return "\n".join(lines)


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
