"""What the gate records about the champion it measured, written into a test model's metrics.json.

``components/validate`` writes ``gate.champion_version`` and ``gate.champion_manifest_sha256`` (the
production pointer it measured; both null when there was none); promotion compares them with
production.json. These helpers stand in for a real validation run on tiny hand-built model folders.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from components._shared.production import read_production


def record_gate(model_dir: Path, version: str | None, manifest_sha256: str | None) -> Path:
    """Set the measured champion of ``model_dir/metrics.json``'s gate (kept passing); return ``model_dir``."""
    path = Path(model_dir) / "metrics.json"
    metrics = json.loads(path.read_text(encoding="utf-8"))
    gate = metrics.setdefault("gate", {"passed": True, "reason": "ok"})
    gate["champion_version"], gate["champion_manifest_sha256"] = version, manifest_sha256
    path.write_text(json.dumps(metrics), encoding="utf-8")
    return Path(model_dir)


def gate_against(model_dir: Path, dest: str) -> Path:
    """Record that the gate measured ``dest``'s current production model (none when nothing is promoted)."""
    pointer = read_production(dest)
    if pointer is None:
        return record_gate(model_dir, None, None)
    return record_gate(model_dir, pointer["version"], pointer["manifest_sha256"])


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment in threads; return each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    out: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = calls[i]()
        except Exception as err:  # noqa: BLE001 - the test inspects what each run got
            out[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return out
