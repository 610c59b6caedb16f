"""The publishing gate (pure: no I/O, no torch): a challenger against a threshold and the champion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class GatePolicy:
    """What a challenger must reach.

    Attributes:
        threshold: absolute minimum mAP50-95.
        champion_tolerance: how far below the champion's mAP50-95 the challenger may be (0: at least equal).
        class_tolerance: the largest AP50-95 drop allowed for any one class against the champion.
        allow_class_change: promote over a production model whose classes differ (it cannot be compared).
    """

    threshold: float = 0.0
    champion_tolerance: float = 0.0
    class_tolerance: float = 0.05
    allow_class_change: bool = False


@dataclass(frozen=True)
class Champion:
    """The production model as measured on the challenger's split (no metrics when ``compared`` is False).

    ``manifest_sha256`` (None for a bare model file) and ``version`` are what promotion checks is still
    in production.
    """

    version: str
    names: tuple[str, ...]
    compared: bool
    map50_95: float | None = None
    map50: float | None = None
    per_class: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    imgsz: int | None = None
    manifest_sha256: str | None = None


@dataclass(frozen=True)
class GateCheck:
    """One of the gate's three checks."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Gate:
    """The publishing decision, its three checks, and what it compared.

    ``champion_version`` and ``champion_manifest_sha256`` (None: none) name the production model measured;
    promotion refuses the verdict once production.json names another (``check_gate_measured``).
    """

    passed: bool
    reason: str
    checks: tuple[GateCheck, ...]
    threshold: float
    split: str
    champion_version: str | None = None
    champion_map50_95: float | None = None
    champion_manifest_sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for metrics.json (``checks`` as a list of dicts)."""
        d = asdict(self)
        d["checks"] = [asdict(c) for c in self.checks]
        return d

    def check(self, name: str) -> GateCheck:
        """The check called ``name`` (``threshold``, ``champion``, ``per_class``)."""
        return next(c for c in self.checks if c.name == name)


def _class_drops(
    challenger: Mapping[str, Mapping[str, Any]], champion: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, float]]:
    """(class, champion AP50-95 - challenger AP50-95) for every class the champion has, largest first."""
    drops = []
    for name, champ in champion.items():
        before = float(champ.get("ap50_95", 0.0))
        after = float(challenger.get(name, {}).get("ap50_95", 0.0))
        drops.append((name, before - after))
    return sorted(drops, key=lambda d: -d[1])


def decide_gate(
    map50_95: float,
    per_class: Mapping[str, Mapping[str, Any]],
    champion: Champion | None,
    policy: GatePolicy,
    split: str,
) -> Gate:
    """Decide the gate for a challenger measured on ``split`` (the checks: ``components/validate/README.md``)."""
    checks = [
        GateCheck(
            "threshold",
            map50_95 >= policy.threshold,
            f"mAP50-95 {map50_95:.4f} {'>=' if map50_95 >= policy.threshold else '<'} "
            f"threshold {policy.threshold:.4f}",
        )
    ]
    if champion is None:
        checks.append(
            GateCheck("champion", True, "no production model: first run, the threshold alone decides")
        )
        checks.append(GateCheck("per_class", True, "no production model to compare classes with"))
    elif not champion.compared:
        allowed = policy.allow_class_change
        detail = (
            f"production {champion.version} has other classes [{', '.join(champion.names)}]: not compared; "
            + ("allowed by allow_class_change" if allowed else "set allow_class_change to replace it")
        )
        checks.append(GateCheck("champion", allowed, detail))
        checks.append(GateCheck("per_class", allowed, "classes differ: not compared"))
    else:
        floor = float(champion.map50_95 or 0.0) - policy.champion_tolerance
        ok = map50_95 >= floor
        tol = f" - tolerance {policy.champion_tolerance:.4f}" if policy.champion_tolerance else ""
        checks.append(GateCheck(
            "champion", ok,
            f"{'>=' if ok else '<'} champion {champion.version} {champion.map50_95:.4f}{tol} on the same {split} split",
        ))  # fmt: skip
        drops = _class_drops(per_class, champion.per_class)
        worst = drops[0] if drops else ("-", 0.0)
        bad = [f"{n} -{d:.4f}" for n, d in drops if d > policy.class_tolerance]
        detail = (
            f"AP50-95 drops beyond {policy.class_tolerance:.4f}: {', '.join(bad)}"
            if bad
            else f"no class drops more than {policy.class_tolerance:.4f} (worst class: {worst[0]} {-worst[1]:+.4f})"
        )
        checks.append(GateCheck("per_class", not bad, detail))
    passed = all(c.passed for c in checks)
    return Gate(
        passed=passed,
        reason="; ".join(c.detail for c in checks),
        checks=tuple(checks),
        threshold=policy.threshold,
        split=split,
        champion_version=champion.version if champion else None,
        champion_map50_95=champion.map50_95 if champion else None,
        champion_manifest_sha256=champion.manifest_sha256 if champion else None,
    )
