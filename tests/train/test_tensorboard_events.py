"""Live curves: the event files a training stage writes are read back with TensorBoard's own reader.

The project writes the files itself (``components/train/tensorboard.py``: the training image has no
``tensorboard``); the reader here is TensorBoard's ``EventAccumulator``, so the tests skip where the
``tensorboard`` package is not installed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components._yolo.results import LR_PREFIX, METRICS, TRAIN_LOSSES, VAL_LOSSES
from components.train.tensorboard import PHASE_FROZEN, PHASE_FROZEN_LAYERS, crc32c, write_events

NAMED = (*TRAIN_LOSSES, *VAL_LOSSES, *METRICS, f"{LR_PREFIX}0", PHASE_FROZEN, PHASE_FROZEN_LAYERS)


def _read(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar TensorBoard finds in ``folder``: ``{tag: [(step, value), ...]}`` (skips without TensorBoard)."""
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={event_accumulator.SCALARS: 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def _rows(n: int) -> list[dict[str, float]]:
    keys = (*TRAIN_LOSSES, *VAL_LOSSES, *METRICS)
    return [
        {"epoch": e, "time": 2.5 * e, **{k: 0.1 * e + i for i, k in enumerate(keys)}, "lr/pg0": 0.01 / e}
        for e in range(1, n + 1)
    ]


def test_crc32c_matches_the_known_check_value() -> None:
    """It computes CRC-32C (Castagnoli), whose check value for b'123456789' is 0xE3069283."""
    assert crc32c(b"123456789") == 0xE3069283


def test_event_file_holds_every_epoch_scalar_for_tensorboard(tmp_path: Path) -> None:
    """It writes losses, P, R, mAPs, learning rate and the frozen phase per epoch, as TensorBoard reads them."""
    write_events(tmp_path, "frozen", _rows(3), freeze=10, start=1_700_000_000.0)
    scalars = _read(tmp_path)
    assert set(NAMED) <= set(scalars)
    assert [s for s, _ in scalars["train/box_loss"]] == [1, 2, 3]
    assert scalars[PHASE_FROZEN] == [(1, 1.0), (2, 1.0), (3, 1.0)]
    assert scalars[PHASE_FROZEN_LAYERS][-1] == (3, 10.0)
    assert scalars["lr/pg0"][1][1] == pytest.approx(0.005)


def test_rewriting_after_another_epoch_only_appends(tmp_path: Path) -> None:
    """It keeps the bytes of earlier epochs, so a TensorBoard tailing the file reads on from where it was."""
    before = write_events(tmp_path, "finetune", _rows(2), freeze=0, start=1_700_000_000.0).read_bytes()
    after = write_events(tmp_path, "finetune", _rows(3), freeze=0, start=1_700_000_000.0).read_bytes()
    assert after.startswith(before) and len(after) > len(before)
    assert _read(tmp_path)[PHASE_FROZEN] == [(1, 0.0), (2, 0.0), (3, 0.0)]


@pytest.mark.slow
def test_a_two_epoch_stage_syncs_readable_event_files_every_epoch(tmp_path: Path, tiny_data: Path) -> None:
    """It trains 2 epochs and leaves, beside the checkpoint, event files TensorBoard reads with every scalar."""
    pytest.importorskip("tensorboard")  # before training: the reader is what this test is about
    from _tiny import TINY_TRAIN, make_checkpoint

    from components.train.core import TrainConfig
    from components.train.stage import run_training_stage

    init = make_checkpoint(tmp_path / "init" / "init.pt", nc=3)
    cfg = TrainConfig(freeze=10, epochs=2, stage_name="frozen", **TINY_TRAIN)
    root = tmp_path / "checkpoints"
    result = run_training_stage(tiny_data.parent, init, tmp_path / "out", cfg, str(root), "run-1")
    synced = root / "run-1" / "frozen" / "tensorboard"
    scalars = _read(synced)
    missing = [tag for tag in NAMED if tag not in scalars]
    assert not missing, missing
    assert [step for step, _ in scalars["metrics/mAP50-95(B)"]] == [1, 2]
    metrics = json.loads(result.metrics_json.read_text(encoding="utf-8"))
    assert isinstance(metrics["diagnosis"], list)
    assert json.loads((root / "run-1" / "frozen" / "diagnosis.json").read_text()) == metrics["diagnosis"]
    assert _read(Path(metrics["tensorboard"])) == scalars  # the artifact holds the same curves
