"""train never writes over its inputs, refuses foreign files without --overwrite, and fails in one line on
an empty split list; a re-run into its own output folder (resume state in run/ and .state/) is allowed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from _tiny import NAMES, TINY_TRAIN, TinyRun, make_checkpoint
from test_train_errors import assert_one_line_error, run_cli

from components._shared.errors import ConfigError, DatasetError
from components._shared.fsio import OUTPUT_MARKER
from components.train.core import TrainConfig, train_model

CFG = TrainConfig(freeze=10, epochs=1, **TINY_TRAIN)


def test_out_is_or_holds_an_input_is_refused(tiny_data: Path, tmp_path: Path) -> None:
    """--out = the dataset folder, inside it, or a folder holding the weights file: exit 2, nothing touched."""
    init = make_checkpoint(tmp_path / "w" / "init.pt")
    before = sorted(p.name for p in tiny_data.parent.iterdir())
    for out in (tiny_data.parent, tiny_data.parent / "runs", tmp_path):
        with pytest.raises(ConfigError, match=r"--out .* (is|lies inside|contains) the input"):
            train_model(tiny_data, str(init), out, CFG)
    with pytest.raises(ConfigError, match=r"contains the input .*init\.pt"):
        train_model(tiny_data, str(init), tmp_path / "w", CFG)
    assert sorted(p.name for p in tiny_data.parent.iterdir()) == before
    assert init.is_file()
    proc = run_cli(
        "train", "--dataset", str(tiny_data), "--weights", str(init), "--out", str(tiny_data.parent)
    )
    assert_one_line_error(proc, "--out", "the input")


def test_foreign_files_need_overwrite_and_the_card_names_the_classes(tiny_data: Path, tmp_path: Path) -> None:
    """A folder with someone else's file is refused; --overwrite trains into it and keeps that file."""
    init = make_checkpoint(tmp_path / "init.pt")
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine\n")
    with pytest.raises(ConfigError, match=r"holds 1 file\(s\) this stage did not write \(e.g. notes.txt\)"):
        train_model(tiny_data, str(init), out, CFG)
    result = train_model(tiny_data, str(init), out, TrainConfig(**{**CFG.to_dict(), "overwrite": True}))
    assert (out / "notes.txt").read_text() == "mine\n"
    assert result.card()["names"] == list(NAMES)
    assert (out / OUTPUT_MARKER).is_file()


def test_rerun_into_its_own_output_is_allowed(tiny_data: Path, tmp_path: Path, frozen_run: TinyRun) -> None:
    """A finished run's folder (marker) and an interrupted one (only run/ and .state/) pass the guard."""
    from components._shared.dataset import load_dataset
    from components.train.core import _guard_out

    spec = load_dataset(tiny_data)
    done = tmp_path / "done"
    shutil.copytree(frozen_run.out_dir, done)
    _guard_out(done, spec, str(frozen_run.init_weights), overwrite=False)
    interrupted = tmp_path / "interrupted"
    shutil.copytree(frozen_run.out_dir / "run", interrupted / "run")
    (interrupted / ".state").mkdir()
    (interrupted / ".state" / "stage.json").write_text("{}")
    _guard_out(interrupted, spec, str(frozen_run.init_weights), overwrite=False)


@pytest.mark.parametrize("split", ["val", "train"])
def test_empty_split_list_is_a_one_line_dataset_error(tiny_data: Path, tmp_path: Path, split: str) -> None:
    """An empty val.txt (or train.txt): DatasetError naming the file; the CLI exits 2 without a traceback."""
    (tiny_data.parent / f"{split}.txt").write_text("\n")
    with pytest.raises(DatasetError, match=rf"{split}\.txt: the {split} list is empty"):
        train_model(tiny_data, "yolov5n.yaml", tmp_path / "o", CFG)
    proc = run_cli(
        "train", "--dataset", str(tiny_data), "--weights", "yolov5n.yaml", "--out", str(tmp_path / "o")
    )
    assert_one_line_error(proc, f"{split}.txt", "empty")
