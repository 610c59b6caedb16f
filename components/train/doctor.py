"""The training doctor: the transfer-learning guide's monitoring table, as checks on ``results.csv`` rows.

Every number a rule uses is in ``LIMITS`` with its source; rules and remedies: ``components/train/README.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from components._yolo.results import EPOCH, MAP50, MAP50_95, TRAIN_LOSSES, VAL_LOSSES, total_loss

GUIDE = "the transfer-learning guide's monitoring table (issue 29)"
OURS = "ours (the guide gives no number)"

Row = Mapping[str, float]


@dataclass(frozen=True)
class Limit:
    """One threshold and where it comes from."""

    value: float
    source: str


LIMITS: dict[str, Limit] = {
    # training loss "should fall steadily; violent swings -> lower lr / larger batch"
    "swing_factor": Limit(
        3.0,
        f"{OURS}: a rise to 3x the stage's lowest train loss; the healthy demo never "
        "exceeds 1.07x, lr0=1 reaches 37x (components/train/README.md)",
    ),
    # "exploding gradients -> cosine schedule, lower lr0"
    "explode_factor": Limit(10.0, f"{OURS}: train loss 10x its first epoch's, or not finite"),
    # "val mAP should keep rising; a plateau of fewer than 10 epochs -> unfreeze more layers / change lr"
    "plateau_before_epoch": Limit(10, f"{GUIDE}: a plateau that starts before epoch 10"),
    "plateau_epochs": Limit(5, f"{OURS}: 5 epochs without a new best mAP50-95 make a plateau"),
    "min_gain": Limit(0.005, f"{OURS}: an mAP change below 0.005 counts as no change (val noise)"),
    # "val/train loss ratio below 1.5x; above 2x -> more augmentation or early stopping"
    "loss_ratio": Limit(2.0, f"{GUIDE}: val/train loss above 2x"),
    "loss_ratio_epochs": Limit(2, f"{OURS}: in 2 epochs running, so one noisy validation does not fire"),
    # "training loss below 0.5 with val loss above 2.0 is overfitting"
    "overfit_train_below": Limit(0.5, f"{GUIDE}: training loss below 0.5"),
    "overfit_val_above": Limit(2.0, f"{GUIDE}: val loss above 2.0"),
    # "per-class precision should differ by less than 15 %; above 30 % -> class-balanced sampling"
    "class_spread": Limit(0.30, f"{GUIDE}: per-class precision differing by more than 30 points"),
    "class_min_instances": Limit(
        20,
        f"{OURS}: only classes with 20+ val instances (a precision over "
        "fewer boxes swings by more than the threshold)",
    ),
    "class_epochs": Limit(3, f"{OURS}: in 3 epochs running, not one noisy validation"),
    # "val mAP stuck below 0.5 -> check the labels"
    "stuck_map50": Limit(0.5, f"{GUIDE}: val mAP50 below 0.5"),
    "stuck_epochs": Limit(5, f"{OURS}: 5 epochs without a gain of min_gain make it stuck"),
    # "loss falling while mAP stays flat -> class mismatch (nc/names against the weights)"
    "mismatch_loss_drop": Limit(0.25, f"{OURS}: train loss down by 25% over the window"),
    "mismatch_epochs": Limit(3, f"{OURS}: the window, 3 epochs"),
}

REMEDIES = {
    "swinging_loss": "lower the learning rate (--lr0) or use a larger batch (--batch)",
    "exploding_gradients": "use a cosine schedule (cos_lr=true) and a lower --lr0",
    "map_plateau": "unfreeze more layers (a lower --freeze) or change the learning rate",
    "val_train_loss_ratio": "add augmentation or stop earlier (a lower --patience)",
    "overfitting": "add augmentation or data, or stop earlier (a lower --patience)",
    "class_precision_spread": "use class-balanced sampling or class weights",
    "map_stuck_low": "check the labels (boxes and class ids): yolo-kfp stats, and the report's samples",
    "class_mismatch": "check the class list (nc/names) against the weights' classes",
}


@dataclass(frozen=True)
class Finding:
    """A rule that fired: at which epoch, on what evidence, and the guide's remedy."""

    rule: str
    epoch: int
    evidence: str
    remedy: str

    def to_dict(self) -> dict[str, Any]:
        """For ``metrics.json`` (``diagnosis``)."""
        return asdict(self)

    def line(self) -> str:
        """One log line."""
        return f"{self.rule} at epoch {self.epoch}: {self.evidence} -> {self.remedy}"


@dataclass(frozen=True)
class ClassScore:
    """One class's precision in one validation, and its number of val instances."""

    precision: float
    instances: int


@dataclass(frozen=True)
class Context:
    """What the rules may read besides the rows (``class_scores`` by epoch; after a resume: ours only)."""

    class_scores: Mapping[int, Mapping[str, ClassScore]] = field(default_factory=dict)
    weights_names: Sequence[str] = ()
    dataset_names: Sequence[str] = ()


def _lim(name: str) -> float:
    return LIMITS[name].value


def _epoch(rows: Sequence[Row]) -> int:
    return int(rows[-1].get(EPOCH, len(rows)))


def _train(row: Row) -> float:
    value = total_loss(row, TRAIN_LOSSES)
    return math.nan if value is None else value


def swinging_loss(rows: Sequence[Row], ctx: Context) -> str | None:
    """Train loss rises to ``swing_factor`` times the lowest of the earlier epochs (or is not finite)."""
    if len(rows) < 2:
        return None
    now, earlier = _train(rows[-1]), [_train(r) for r in rows[:-1]]
    low = min((x for x in earlier if math.isfinite(x)), default=math.nan)
    if not math.isfinite(now):
        return f"train loss {now} after {low:.3g}"
    if math.isfinite(low) and low > 0 and now > _lim("swing_factor") * low:
        return f"train loss {now:.3g}, {now / low:.1f}x its lowest so far ({low:.3g})"
    return None


def exploding_gradients(rows: Sequence[Row], ctx: Context) -> str | None:
    """Train loss not finite, or ``explode_factor`` times the stage's first epoch's."""
    if not rows:
        return None
    first, now = _train(rows[0]), _train(rows[-1])
    if not math.isfinite(now) and any(c in rows[-1] for c in TRAIN_LOSSES):
        return f"train loss is {now}"
    if len(rows) > 1 and first > 0 and now > _lim("explode_factor") * first:
        return f"train loss {now:.3g}, {now / first:.0f}x the first epoch's ({first:.3g})"
    return None


def _best_gain(values: Sequence[float], window: int) -> float:
    """How much the best of the last ``window`` values beats the best before them."""
    return max(values[-window:]) - max(values[:-window])


def map_plateau(rows: Sequence[Row], ctx: Context) -> str | None:
    """No new best mAP50-95 for ``plateau_epochs``, the plateau starting before ``plateau_before_epoch``."""
    window = int(_lim("plateau_epochs"))
    maps = [r.get(MAP50_95, 0.0) for r in rows]
    if len(maps) <= window or max(maps) <= _lim("min_gain"):  # nothing learnt: map_stuck_low's case
        return None
    start = int(rows[-window - 1].get(EPOCH, len(rows) - window))
    if start >= _lim("plateau_before_epoch") or _best_gain(maps, window) >= _lim("min_gain"):
        return None
    return f"mAP50-95 no better than {max(maps[:-window]):.3f} (epoch {start}) for {window} epochs"


def val_train_loss_ratio(rows: Sequence[Row], ctx: Context) -> str | None:
    """Val loss above ``loss_ratio`` times the train loss in the last ``loss_ratio_epochs`` epochs."""
    n = int(_lim("loss_ratio_epochs"))
    ratios = []
    for row in rows[-n:]:
        train, val = _train(row), total_loss(row, VAL_LOSSES)
        ratios.append(val / train if val is not None and train > 0 else 0.0)
    if len(ratios) < n or min(ratios) <= _lim("loss_ratio"):
        return None
    return f"val/train loss {ratios[-1]:.2f}x (above {_lim('loss_ratio'):g}x for {n} epochs)"


def overfitting(rows: Sequence[Row], ctx: Context) -> str | None:
    """Train loss below ``overfit_train_below`` while the val loss is above ``overfit_val_above``."""
    if not rows:
        return None
    train, val = _train(rows[-1]), total_loss(rows[-1], VAL_LOSSES)
    if val is None or not train < _lim("overfit_train_below") or not val > _lim("overfit_val_above"):
        return None
    return f"train loss {train:.3g} with val loss {val:.3g}"


def class_precision_spread(rows: Sequence[Row], ctx: Context) -> str | None:
    """Per-class precision (classes with enough val instances) differs by more than ``class_spread``."""
    n, spread = int(_lim("class_epochs")), None
    if len(rows) < n:
        return None
    for row in rows[-n:]:
        scores = ctx.class_scores.get(int(row.get(EPOCH, 0)), {})
        counted = {k: s.precision for k, s in scores.items() if s.instances >= _lim("class_min_instances")}
        if len(counted) < 2 or max(counted.values()) - min(counted.values()) <= _lim("class_spread"):
            return None
        spread = counted
    assert spread is not None
    hi, lo = max(spread, key=spread.__getitem__), min(spread, key=spread.__getitem__)
    return f"precision {hi} {spread[hi]:.2f} vs {lo} {spread[lo]:.2f} for {n} epochs"


def map_stuck_low(rows: Sequence[Row], ctx: Context) -> str | None:
    """mAP50 below ``stuck_map50`` and no gain of ``min_gain`` for ``stuck_epochs`` epochs."""
    window = int(_lim("stuck_epochs"))
    maps = [r.get(MAP50, 0.0) for r in rows]
    if (
        len(maps) <= window
        or max(maps) >= _lim("stuck_map50")
        or _best_gain(maps, window) >= _lim("min_gain")
    ):
        return None
    return f"mAP50 at most {max(maps):.3f} and no gain in {window} epochs"


def class_mismatch(rows: Sequence[Row], ctx: Context) -> str | None:
    """The weights' classes are the dataset's in another order, or the loss falls while mAP50 stays flat."""
    weights, data = list(ctx.weights_names), list(ctx.dataset_names)
    if weights and weights != data and sorted(weights) == sorted(data):
        return f"the weights' classes {weights} are the dataset's {data} in another order"
    n = int(_lim("mismatch_epochs"))
    if len(rows) <= n:
        return None
    before, now = _train(rows[-n - 1]), _train(rows[-1])
    maps = [r.get(MAP50, 0.0) for r in rows[-n - 1 :]]
    if not (before > 0 and now <= (1 - _lim("mismatch_loss_drop")) * before):
        return None
    if max(maps) - min(maps) >= _lim("min_gain"):
        return None
    names = f"; weights' classes {weights} vs dataset's {data}" if weights and weights != data else ""
    return f"train loss {before:.3g} -> {now:.3g} in {n} epochs while mAP50 stayed at {maps[-1]:.3f}{names}"


RULES: dict[str, Callable[[Sequence[Row], Context], str | None]] = {
    "swinging_loss": swinging_loss,
    "exploding_gradients": exploding_gradients,
    "map_plateau": map_plateau,
    "val_train_loss_ratio": val_train_loss_ratio,
    "overfitting": overfitting,
    "class_precision_spread": class_precision_spread,
    "map_stuck_low": map_stuck_low,
    "class_mismatch": class_mismatch,
}


def examine(rows: Sequence[Row], ctx: Context | None = None) -> list[Finding]:
    """Every rule that fires on the curve ``rows`` (one row per epoch so far), at its last epoch."""
    ctx = ctx or Context()
    if not rows:
        return []
    found = []
    for rule, check in RULES.items():
        evidence = check(rows, ctx)
        if evidence is not None:
            found.append(Finding(rule, _epoch(rows), evidence, REMEDIES[rule]))
    return found


class Doctor:
    """Examines the curve after every epoch; keeps each rule's first firing and hands it to ``report``."""

    def __init__(self, ctx: Context | None = None, report: Callable[[Finding], None] | None = None) -> None:
        self.ctx = ctx or Context()
        self.report = report
        self._seen: dict[str, Finding] = {}
        self._epochs = 0

    @property
    def findings(self) -> list[Finding]:
        """Each rule's first firing, in the order they fired."""
        return list(self._seen.values())

    def after_epoch(self, rows: Sequence[Row]) -> list[Finding]:
        """Examine ``rows`` (every epoch so far); earlier epochs not yet seen (a resume) are replayed first."""
        new = []
        for end in range(self._epochs + 1, len(rows) + 1):
            for finding in examine(rows[:end], self.ctx):
                if finding.rule not in self._seen:
                    self._seen[finding.rule] = finding
                    new.append(finding)
                    if self.report is not None:
                        self.report(finding)
        self._epochs = max(self._epochs, len(rows))
        return new


def diagnose(rows: Sequence[Row], ctx: Context | None = None) -> list[Finding]:
    """Each rule's first firing over a whole curve, as the doctor would have found it epoch by epoch."""
    doctor = Doctor(ctx)
    doctor.after_epoch(rows)
    return doctor.findings
