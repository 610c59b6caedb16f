"""The training report: ``curves.png`` (one curve across both stages) and ``report.html``; see README.md."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components._shared.fsio import write_text_atomic
from components._shared.report import escape, figure, html_page, html_table, png_tag, save_png
from components._yolo.results import (
    EPOCH,
    LR_PREFIX,
    MAP50,
    MAP50_95,
    PRECISION,
    RECALL,
    RESULTS_CSV,
    TRAIN_LOSSES,
    VAL_LOSSES,
    read_results,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CURVE_GROUPS = {
    "loss": (*TRAIN_LOSSES, *VAL_LOSSES),
    "metrics": (MAP50, MAP50_95, PRECISION, RECALL),
    "learning rate": tuple(f"{LR_PREFIX}{i}" for i in range(3)),
}


@dataclass(frozen=True)
class PreviousStage:
    """The training stage whose output folder held this stage's initial weights."""

    stage: str
    freeze: int
    rows: tuple[Mapping[str, float], ...]
    results_csv: Path

    @property
    def epochs(self) -> int:
        """Epochs the earlier stage trained."""
        return len(self.rows)

    def to_dict(self) -> dict[str, Any]:
        """For ``metrics.json`` (without the rows: they are in its ``results.csv``)."""
        return {"stage": self.stage, "freeze": self.freeze, "epochs": self.epochs,
                "results_csv": str(self.results_csv)}  # fmt: skip


def previous_stage(weights: Path | None) -> PreviousStage | None:
    """The training stage whose output folder holds ``weights`` (None: skipped stage, download, bare file)."""
    if weights is None:
        return None
    folder = Path(weights).parent
    try:
        info = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    rows = read_results(folder / RESULTS_CSV)
    if not isinstance(info, dict) or info.get("skipped") or "stage" not in info or not rows:
        return None
    return PreviousStage(str(info["stage"]), int(info.get("freeze", 0)), tuple(rows), folder / RESULTS_CSV)


def write_report(
    m: Mapping[str, Any], rows: Sequence[Mapping[str, float]], out_dir: Path, previous: PreviousStage | None
) -> None:
    """Write ``curves.png`` and ``report.html`` of a finished run (``m``: its ``metrics.json``)."""
    title = f"{m['stage']}: freeze={m['freeze']}"
    if previous is not None:
        title = f"{previous.stage} (freeze={previous.freeze}) then {title}"
    write_curves(rows, out_dir / "curves.png", title=title, previous=previous, freeze=m["freeze"])
    write_text_atomic(out_dir / "report.html", render_report(m, out_dir / "curves.png"))


def write_curves(
    rows: Sequence[Mapping[str, float]],
    path: Path,
    title: str,
    *,
    previous: PreviousStage | None = None,
    freeze: int = 0,
) -> Figure:
    """Plot losses, mAP/P/R and learning rates per epoch into one PNG (``previous``'s epochs first)."""
    from matplotlib.ticker import MaxNLocator

    fig = figure(13, 3.8)
    axes = fig.subplots(1, 3)
    before = list(previous.rows) if previous is not None else []
    offset = len(before)
    everything = before + list(rows)
    epochs = [i + 1 for i in range(offset)] + [offset + r.get(EPOCH, i + 1) for i, r in enumerate(rows)]
    boundary = offset + 0.5
    label = ""
    if previous is not None:
        label = "unfreeze" if previous.freeze > freeze else f"{previous.stage} -> next stage"
    for ax, (group, keys) in zip(axes, CURVE_GROUPS.items(), strict=True):
        for key in keys:
            if everything and any(key in r for r in everything):
                style = "--" if key.startswith("val/") else "-"
                ax.plot(
                    epochs, [r.get(key, math.nan) for r in everything], style, marker="o", ms=3, label=key
                )
        ax.set(title=group, xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if group == "metrics":
            ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
        if previous is not None:
            ax.axvline(boundary, color="#c75c5c", linestyle=":", linewidth=1.5)
            ax.annotate(label, (boundary, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                        textcoords="offset points", color="#c75c5c", fontsize=8)  # fmt: skip
        if ax.lines:
            ax.legend(fontsize=7, frameon=False)
    fig.suptitle(title)
    save_png(fig, path)
    return fig


def _curves_note(m: Mapping[str, Any]) -> str:
    prev = m.get("previous_stage")
    if not prev:
        return ""
    return (
        f"<p>Epochs 1-{prev['epochs']}: stage {escape(prev['stage'])} (freeze={escape(prev['freeze'])}, read "
        f"from its results.csv); from epoch {prev['epochs'] + 1}: this stage (freeze={escape(m['freeze'])}). "
        "The dotted line marks the switch"
        + (" (unfreeze)." if prev["freeze"] > m["freeze"] else ".")
        + "</p>"
    )


def _doctor_section(m: Mapping[str, Any]) -> str:
    found = m.get("diagnosis") or []
    rows = [(d["rule"], d["epoch"], d["evidence"], d["remedy"]) for d in found]
    verdict = (
        html_table(["rule", "epoch", "evidence", "remedy"], rows) if rows else "<p>No symptom found.</p>"
    )
    live = (
        f"<p>Live view: the TensorBoard event files are in <code>{escape(m.get('tensorboard', ''))}</code> "
        "(<code>tensorboard --logdir</code> on it); in a pipeline run they are synced every epoch to "
        "<code>&lt;checkpoint_root&gt;/&lt;run id&gt;/&lt;stage&gt;/tensorboard/</code>, which "
        "<code>yolo-kfp tensorboard --run RUN_ID</code> serves in Kubeflow while the run trains.</p>"
    )
    return "<h2>Training doctor</h2>" + verdict + live


def render_report(m: Mapping[str, Any], curves: Path) -> str:
    """The training report: headline numbers, frozen proof, per-class AP, curves, configuration."""
    head = [
        ("architecture", m["architecture"]),
        ("mAP50-95", m["map50_95"]),
        ("mAP50", m["map50"]),
        ("precision", m["precision"]),
        ("recall", m["recall"]),
        ("epochs", m["epochs"]),
        ("seconds per epoch", m["seconds_per_epoch"]),
        ("device", m["device"]),
        ("freeze (layers)", m["freeze"]),
        (
            "parameters total / trainable / frozen",
            f"{m['total_params']} / {m['trainable_params']} / {m['frozen_params']}",
        ),
    ]
    if m.get("frozen_verified") is not None:
        head.append(("frozen layers bit-identical to the input", "yes" if m["frozen_verified"] else "NO"))
    if m.get("backbone_max_abs_change") is not None:
        head.append(("backbone max abs change vs input (best.pt)", m["backbone_max_abs_change"]))
        head.append(("backbone max abs change vs input (final fp32)", m["backbone_max_abs_change_fp32"]))
    if m.get("resumed_from_epoch") is not None:
        head.append(("resumed after epoch", m["resumed_from_epoch"]))
    per_class = [(n, c["ap50"], c["ap50_95"], c.get("instances", "")) for n, c in m["per_class"].items()]
    cfg_rows = sorted(m["config"].items())
    body = (
        html_table(["", "value"], head)
        + "<h2>Per class (best.pt on val)</h2>"
        + html_table(["class", "AP50", "AP50-95", "instances"], per_class)
        + "<h2>Per epoch</h2>"
        + _curves_note(m)
        + png_tag(curves, "training curves")
        + _doctor_section(m)
        + "<h2>Configuration</h2>"
        + html_table(["option", "value"], cfg_rows + [("weights", m["weights"]["spec"])])
    )
    return html_page(f"Training report: {m['stage']}", body)
