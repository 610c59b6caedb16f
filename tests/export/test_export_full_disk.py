"""export on a full disk: one line (exit 2), and nothing left in or beside ``--out``.

Issue 24 (round 3). A disk that filled while export wrote the weights' working copy, the raw ONNX
file or the simplified ``model.onnx`` ended in an ``OSError`` traceback. The disk is a real tmpfs mounted
for the test (skipped where mounting is not permitted).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from publish import test_publish_disk

from components._shared.errors import StorageError
from components.export.core import ExportConfig, export_onnx

REPO = Path(__file__).resolve().parents[2]
disk = test_publish_disk.disk  # the fixture mounting a small tmpfs (skips where mounting needs root)
SAMPLE = REPO / "pipelines" / "sample" / "pretrained_task_a.pt"
TINY = ExportConfig(imgsz=64, latency_runs=1, parity_count=1)


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))


# The sample checkpoint is 5.2 MB, its raw and simplified ONNX files 9.6 MB each at 64 px.
@pytest.mark.parametrize(
    "size",
    [
        pytest.param("2m", id="working-copy-of-the-weights"),
        pytest.param("8m", id="raw-onnx"),
        pytest.param("20m", id="simplified-model-onnx"),
    ],
)
def test_export_to_a_full_disk_is_one_line_and_leaves_nothing(
    disk: Callable[..., Path], tmp_path: Path, size: str
) -> None:
    """It fails with one StorageError naming --out and "free space"; the disk holds nothing afterwards."""
    weights = tmp_path / "best.pt"
    weights.write_bytes(SAMPLE.read_bytes())
    mount = disk(size)
    with pytest.raises(StorageError, match=r"onnx: .*No space left on device.*free space") as err:
        export_onnx(weights, mount / "onnx", TINY)
    assert "\n" not in str(err.value)
    assert _files(mount) == []


def test_export_cli_on_a_full_disk_is_exit_2_with_one_line(disk: Callable[..., Path], tmp_path: Path) -> None:
    """`yolo-kfp export` onto a full disk: exit 2, one error line, no traceback."""
    weights = tmp_path / "best.pt"
    weights.write_bytes(SAMPLE.read_bytes())
    out = disk("8m") / "onnx"
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "export", "--weights", str(weights), "--out", str(out)]
        + ["--imgsz", "64"],  # fails at the raw ONNX write, before parity and latency
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("yolo-kfp export: error: ") and "No space left on device" in line, line
    assert not out.exists()
