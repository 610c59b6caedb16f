"""The ``yolo-kfp`` command line: every subcommand is there, and data stages start without torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import components
import pipelines
from pipelines.cli import COMMANDS, main

REPO = Path(__file__).resolve().parents[1]


def test_packages_import_from_this_repo() -> None:
    """It imports ``components`` and ``pipelines`` from this checkout, not a same-named package elsewhere."""
    assert Path(components.__file__).resolve().parent == REPO / "components"
    assert Path(pipelines.__file__).resolve().parent == REPO / "pipelines"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """It registers each subcommand and prints its usage."""
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"yolo-kfp {command}" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["convert", "split", "stats", "ingest", "publish", "make-sample"])
def test_data_stages_start_without_torch(command: str) -> None:
    """It parses a data stage's arguments without importing torch, ultralytics or kfp."""
    code = (
        "import sys; from pipelines.cli import main\n"
        f"try: main([{command!r}, '--help'])\nexcept SystemExit: pass\n"
        "heavy = [m for m in ('torch', 'ultralytics', 'kfp') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)
    assert proc.returncode == 0, proc.stderr


def test_known_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    """It turns a missing input into one stderr line and exit code 2, with no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "split", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, cwd=REPO, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("yolo-kfp split: error:") and "missing" in lines[0]
