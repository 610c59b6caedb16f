"""``yolo-kfp convert`` as a separate process: exit codes, one-line errors, no traceback, no torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from voc_builder import VocTree

REPO = Path(__file__).resolve().parents[2]
HELMET = {"name": "helmet", "box": (11, 11, 50, 30)}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "convert", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("yolo-kfp convert: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_cli_converts_and_prints_the_report(tmp_path: Path) -> None:
    """It exits 0 and prints the result JSON when one image of several converts."""
    tree = VocTree(tmp_path / "voc")
    tree.image("good.jpg")
    tree.annotation("good", [HELMET])
    tree.image("junk.jpg", data=b"")
    tree.annotation("junk", [HELMET])
    tree.xml_text("broken", "<annotation><object>")
    proc = run_cli("--source", str(tree.root), "--out", str(tmp_path / "out"), "--classes", "helmet,head")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    report = json.loads(proc.stdout)
    assert report["images"] == 1
    assert sorted(report["files_skipped"].values()) == ["empty_image", "malformed_xml"]
    assert (tmp_path / "out" / "classes.txt").read_text() == "helmet\nhead\n"


def test_cli_missing_folder_exits_2_with_one_line(tmp_path: Path) -> None:
    """It exits 2 with one stderr line naming the missing folder."""
    missing = tmp_path / "no-such-voc"
    assert_one_line_error(run_cli("--source", str(missing), "--out", str(tmp_path / "out")), str(missing))


def test_cli_strict_unknown_class_exits_2_naming_the_file(tmp_path: Path) -> None:
    """It exits 2 with one line naming the XML and the class when --strict meets an unknown class."""
    tree = VocTree(tmp_path / "voc")
    tree.image("a.jpg")
    tree.annotation("a", [{"name": "dog", "box": (1, 1, 20, 20)}])
    proc = run_cli(
        "--source", str(tree.root), "--out", str(tmp_path / "out"), "--classes", "helmet", "--strict"
    )
    assert_one_line_error(proc, "a.xml", "'dog'")
    assert not (tmp_path / "out").exists()


def test_cli_nothing_usable_exits_2_with_one_line(tmp_path: Path) -> None:
    """It exits 2 with one line when every file is hostile (entity expansion, no image)."""
    tree = VocTree(tmp_path / "voc")
    tree.image("x.jpg")
    tree.xml_text("x", '<!DOCTYPE a [<!ENTITY e "boom">]><annotation><name>&e;</name></annotation>')
    tree.annotation("y", [HELMET])
    proc = run_cli("--source", str(tree.root), "--out", str(tmp_path / "out"))
    assert_one_line_error(proc, str(tree.root), "unsafe_xml", "missing_image")


def test_importing_convert_does_not_import_torch() -> None:
    """It keeps the data stage light: importing the core and the CLI module loads no torch."""
    code = (
        "import sys, components.convert.core, components.convert.cli; "
        "bad = [m for m in ('torch', 'ultralytics', 'kfp') if m in sys.modules]; "
        "assert not bad, bad"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
