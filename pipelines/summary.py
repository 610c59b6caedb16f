"""The one-screen summary printed at the end of ``yolo-kfp run-local``."""

from __future__ import annotations

from typing import Any

from pipelines.local_run import LocalRunResult


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else ("-" if value is None else str(value))


def format_summary(r: LocalRunResult) -> str:
    """Render stage mAPs, the gate verdict, wall time per task and where the outputs are."""
    lines = ["", "=" * 72, f"yolo-transfer local run finished in {r.seconds:.0f} s", "=" * 72]
    if r.plan:
        lines += [f"plan: {r.plan.get('reason', '-')}", ""]
    lines.append(f"{'stage':<22}{'mAP50':>8}{'mAP50-95':>10}{'P':>8}{'R':>8}{'epochs':>8}")
    for name in ("frozen", "finetune", "pytorch", "onnx"):
        m = r.stages.get(name)
        if m:
            lines.append(
                f"{name:<22}{_fmt(m.get('map50')):>8}{_fmt(m.get('map50_95')):>10}"
                f"{_fmt(m.get('precision')):>8}{_fmt(m.get('recall')):>8}{_fmt(m.get('epochs')):>8}"
            )
    verdict = "PASSED" if r.gate.get("passed") else "BLOCKED"
    lines += ["", f"gate: {verdict} - {r.gate.get('reason', 'no verdict')}"]
    from pipelines.cli_tensorboard import local_summary_lines  # the doctor's findings, the live curves

    lines += ["", *local_summary_lines(r.stages, str(r.params.get("checkpoint_root", "")))]
    lines += ["", "wall time by task (s): " + ", ".join(f"{k} {v:.0f}" for k, v in r.task_seconds.items())]
    lines += ["", f"ONNX model:  {r.onnx_model or '-'}"]
    lines += [
        f"published:   {r.published or 'not published: ' + ('gate blocked' if not r.gate.get('passed') else 'publish did not run')}"
    ]
    lines += [f"plan:        {r.plan_json or '-'}"]
    lines += [f"run summary: {r.run_summary or '-'}"]
    lines += [f"artifacts:   {r.run_dir}"]
    lines += ["reports:"] + [f"  {p}" for p in r.reports]
    return "\n".join(lines)
