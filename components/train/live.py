"""What a training stage shows while it runs: TensorBoard event files and the doctor, after every epoch.

``LiveMonitor`` is the trainer's ``on_epoch`` hook; it only watches (README.md, "Watching a training").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from components._yolo.results import RESULTS_CSV, read_results
from components.train.doctor import ClassScore, Context, Doctor, Finding
from components.train.tensorboard import LOG_DIR, write_events

log = logging.getLogger(__name__)

LogsHook = Callable[[Path, list[dict[str, Any]]], None]  # (log folder, diagnosis so far)


class LiveMonitor:
    """The per-epoch hook of one training stage.

    Args:
        started_at: the stage's start (seconds since the epoch), kept across resumes.
        on_logs: called with the log folder and the diagnosis after every epoch (e.g. an upload).
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        stage: str,
        freeze: int,
        started_at: float,
        weights_names: Sequence[str] = (),
        dataset_names: Sequence[str] = (),
        on_logs: LogsHook | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.log_dir = self.run_dir / LOG_DIR
        self.stage, self.freeze, self.started_at = stage, freeze, started_at
        self.class_scores: dict[int, dict[str, ClassScore]] = {}
        self.ctx = Context(self.class_scores, tuple(weights_names), tuple(dataset_names))
        self.doctor = Doctor(self.ctx, report=self._report)
        self.on_logs = on_logs

    def _report(self, finding: Finding) -> None:
        log.warning("train[%s] doctor: %s", self.stage, finding.line())

    def __call__(self, epoch: int, per_class: Mapping[str, Mapping[str, Any]]) -> None:
        """After epoch ``epoch`` (1-based): event file, doctor, upload. Never raises (training goes on)."""
        try:
            self._after_epoch(epoch, per_class)
        except Exception as err:  # noqa: BLE001 - watching must never stop the run it watches
            log.warning(
                "train[%s]: live logs of epoch %d not written (training goes on): %s", self.stage, epoch, err
            )

    def _after_epoch(self, epoch: int, per_class: Mapping[str, Mapping[str, Any]]) -> None:
        self.class_scores[epoch] = {
            str(name): ClassScore(float(c.get("precision", 0.0)), int(c.get("instances", 0)))
            for name, c in per_class.items()
        }
        rows = read_results(self.run_dir / RESULTS_CSV)
        write_events(self.log_dir, self.stage, rows, freeze=self.freeze, start=self.started_at)
        self.doctor.after_epoch(rows)
        if self.on_logs is not None:
            self.on_logs(self.log_dir, self.diagnosis())

    def diagnosis(self) -> list[dict[str, Any]]:
        """The findings so far, as ``metrics.json`` lists them."""
        return [f.to_dict() for f in self.doctor.findings]

    def final_diagnosis(self, rows: Sequence[Mapping[str, float]]) -> list[dict[str, Any]]:
        """The diagnosis of the whole curve (the epochs this process watched, and any before a resume)."""
        self.doctor.after_epoch(rows)
        return self.diagnosis()
