"""The run summary the exit handler builds from the run's records: status, gate verdict, published version."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from components._shared.errors import YoloKfpError
from components._shared.fsio import write_text_atomic
from components._shared.run_records import DIAGNOSIS_RECORD, GATE_RECORD, PUBLISH_RECORD
from components._shared.serving import rollout_command

log = logging.getLogger(__name__)

Diagnoses = dict[str, list[dict[str, Any]]]  # {training stage: [doctor finding]}


@dataclass(frozen=True)
class RunSummary:
    """What the summary says: final state, gate verdict (None: not reached), published URI, outcome line, page."""

    state: str
    gate_passed: bool | None
    published: str | None
    outcome: str
    markdown: Path

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["markdown"] = str(self.markdown)
        return d


def _read_records(root: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None, Diagnoses, str]:
    """The gate and publish records, each training stage's doctor findings, and a note when unreadable."""
    if not root:
        return None, None, {}, "no run records (checkpoint_root is empty)"
    from components._shared.storage import backend_for

    diagnoses: Diagnoses = {}
    try:
        backend = backend_for(root)
        gate, publish = backend.get_json(GATE_RECORD), backend.get_json(PUBLISH_RECORD)
    except (YoloKfpError, OSError) as err:
        return None, None, {}, f"run records unreadable at {root}: {err}"
    try:  # a finding that cannot be read is left out: the summary is written whatever else failed
        for name in backend.list(""):
            stage, _, leaf = name.partition("/")
            if leaf == DIAGNOSIS_RECORD:
                record = backend.get_json(name)
                diagnoses[stage] = (
                    [d for d in record if isinstance(d, dict)] if isinstance(record, list) else []
                )
    except (YoloKfpError, OSError) as err:
        log.warning("training diagnoses unreadable at %s: %s", root, err)
    return gate, publish, diagnoses, ""


def doctor_lines(diagnoses: Diagnoses) -> list[str]:
    """One line per finding (``<stage>: <rule> at epoch N: evidence -> remedy``), or that none fired."""
    lines = [
        f"{stage}: {d.get('rule')} at epoch {d.get('epoch')}: {d.get('evidence')} -> {d.get('remedy')}"
        for stage, found in diagnoses.items()
        for d in found
    ]
    if diagnoses and not lines:
        lines.append(f"no symptom found ({', '.join(diagnoses)})")
    return lines


def live_view_command(root: str, run_id: str) -> str:
    """How to open the run's TensorBoard curves: ``tensorboard --logdir`` locally, the Kubeflow resource on S3."""
    if "://" not in root:
        return f"tensorboard --logdir {root.rstrip('/')}"
    checkpoint_root = root.rstrip("/").removesuffix(f"/{run_id}")
    return f"yolo-kfp tensorboard --run {run_id} --checkpoint-root {checkpoint_root} | kubectl apply -f -"


def _outcome(state: str, error: str, gate: dict[str, Any] | None, publish: dict[str, Any] | None) -> str:
    if publish:
        promoted = "promoted to production" if publish.get("promoted") else "not promoted"
        return f"published {publish.get('version')} ({promoted})"
    if gate is None:
        why = f": {error}" if error else ""
        return f"not published: the run {state.lower()} before the gate{why}"
    if not gate.get("passed"):
        return f"not published: the gate blocked it ({gate.get('reason', 'no reason recorded')})"
    return f"not published: the run {state.lower()} after the gate passed" + (f": {error}" if error else "")


def summarize_run(state: str, error: str, run_id: str, root: str, out_path: Path) -> RunSummary:
    """Write the run's summary page (Markdown) to ``out_path`` from its final state and its records.

    ``state``, ``error``: KFP's ``PipelineTaskFinalStatus``; ``root``: the run's record folder ("" for none).
    """
    gate, publish, diagnoses, note = _read_records(root)
    outcome = _outcome(state, error, gate, publish)
    lines = [
        f"# Run {run_id}: {state}",
        "",
        f"**{outcome}**",
        "",
        "| | |",
        "|---|---|",
        f"| status | {state} |",
    ]
    if error:
        lines.append(f"| error | {' '.join(error.split())} |")
    if gate is not None:
        verdict = "PASSED" if gate.get("passed") else "BLOCKED"
        lines.append(f"| gate | {verdict} on the {gate.get('split', '?')} split |")
        for check in gate.get("checks", []):
            mark = "pass" if check.get("passed") else "FAIL"
            lines.append(f"| gate: {check.get('name')} | {mark}: {check.get('detail')} |")
        champ = gate.get("champion_map50_95")
        champ_text = f"{champ:.4f}" if isinstance(champ, int | float) else "none"
        lines.append(f"| mAP50-95 | {float(gate.get('map50_95') or 0.0):.4f} (champion: {champ_text}) |")
    else:
        lines.append("| gate | not reached |")
    if publish:
        lines.append(f"| published | `{publish.get('uri')}` |")
        if publish.get("promoted"):
            # serving pods load the Triton repository when they start: the promotion needs a rollout
            lines.append(f"| roll out serving | `{rollout_command(str(publish.get('version')))}` |")
    for line in doctor_lines(diagnoses):
        lines.append(f"| training doctor | {line} |")
    if diagnoses:
        lines.append(f"| live curves | `{live_view_command(root, run_id)}` |")
    if note:
        lines += ["", note]
    out_path = Path(out_path)
    write_text_atomic(out_path, "\n".join(lines) + "\n")
    log.info("run %s: %s; %s", run_id, state, outcome)
    return RunSummary(
        state=state,
        gate_passed=None if gate is None else bool(gate.get("passed")),
        published=publish.get("uri") if publish else None,
        outcome=outcome,
        markdown=out_path,
    )
