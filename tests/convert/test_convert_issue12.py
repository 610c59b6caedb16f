"""convert: a --classes path that does not exist, a control character in a file name, and an --out that
holds its inputs (exit 2, nothing touched)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from test_convert_cli import REPO, assert_one_line_error
from voc_builder import VocTree

from components._shared.errors import ConfigError
from components.convert.core import ConvertConfig, convert_voc, parse_classes

BOX = [{"name": "helmet", "box": (10, 10, 40, 30)}]


def run_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "convert", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


@pytest.mark.parametrize("value", ["/no/such/classes.txt", "labels/classes", "classes.txt"])
def test_classes_that_looks_like_a_missing_path_is_refused(value: str, tmp_path: Path) -> None:
    """A value with '/' or ending in .txt that does not exist is a path typo, not one class name."""
    with pytest.raises(ConfigError, match="file not found"):
        parse_classes(value)
    assert parse_classes("helmet,head") == ("helmet", "head")
    listed = tmp_path / "classes.txt"
    listed.write_text("a\nb\n")
    assert parse_classes(str(listed)) == ("a", "b")


def test_classes_path_typo_exits_2_on_the_cli(make_voc: Callable[[str], VocTree], tmp_path: Path) -> None:
    voc = make_voc("voc")
    voc.image("a.jpg")
    voc.annotation("a", BOX)
    proc = run_in(
        REPO, "--source", str(voc.root), "--out", str(tmp_path / "o"), "--classes", "/path/classes.txt"
    )
    assert_one_line_error(proc, "--classes /path/classes.txt", "file not found")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("bad", ["new\nline", "tab\there", "cr\rhere"])
def test_control_character_in_a_file_name_is_skipped_and_counted(
    make_voc: Callable[[str], VocTree], tmp_path: Path, bad: str
) -> None:
    """The pair is skipped with reason control_char_in_name in report.json; no output line is split."""
    voc = make_voc("voc")
    voc.image("good.jpg")
    voc.annotation("good", BOX)
    voc.image(f"{bad}.jpg")
    voc.annotation(bad, BOX)
    result = convert_voc([voc.root], tmp_path / "out", ConvertConfig())
    assert result.images == 1
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert list(report["files_skipped"].values()) == ["control_char_in_name"]
    names = [p.name for p in (tmp_path / "out").rglob("*")]
    assert not any(c in n for n in names for c in "\n\t\r")


def test_control_character_only_in_the_image_name(make_voc: Callable[[str], VocTree], tmp_path: Path) -> None:
    """An XML whose stem-matched image has a control character is skipped too (the image name travels on)."""
    voc = make_voc("voc")
    voc.image("good.jpg")
    voc.annotation("good", BOX)
    (voc.root / "JPEGImages" / "x.jpg").write_bytes((voc.root / "JPEGImages" / "good.jpg").read_bytes())
    voc.annotation("x", BOX, filename="x.jpg")
    os.rename(voc.root / "JPEGImages" / "x.jpg", voc.root / "JPEGImages" / "x.\x1b.jpg")
    (voc.root / "Annotations" / "x.xml").rename(voc.root / "Annotations" / "x.\x1b.xml")
    result = convert_voc([voc.root], tmp_path / "out", ConvertConfig())
    assert result.images == 1 and list(result.files_skipped.values()) == ["control_char_in_name"]


def test_out_holding_the_inputs_is_refused_and_nothing_is_touched(
    make_voc: Callable[[str], VocTree], tmp_path: Path
) -> None:
    """--out . (contains the VOC tree), --out = the tree, --out inside it: exit 2, the tree unchanged."""
    voc = make_voc("voc")
    voc.image("a.jpg")
    voc.annotation("a", BOX)
    (voc.root / "README").write_text("mine")
    before = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    for out in (voc.root.parent, voc.root, voc.root / "Annotations", voc.root / "yolo"):
        with pytest.raises(ConfigError, match="the input"):
            convert_voc([voc.root], out, ConvertConfig())
    proc = run_in(voc.root.parent, "--source", "voc", "--out", ".")
    assert_one_line_error(proc, "--out .", "the input")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == before


def test_foreign_files_need_overwrite(make_voc: Callable[[str], VocTree], tmp_path: Path) -> None:
    """An --out holding files convert did not write needs --overwrite; its own previous output does not."""
    voc = make_voc("voc")
    voc.image("a.jpg")
    voc.annotation("a", BOX)
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.tex").write_text("x")
    with pytest.raises(ConfigError, match="did not write"):
        convert_voc([voc.root], out, ConvertConfig())
    assert (out / "thesis.tex").is_file()
    convert_voc([voc.root], out, ConvertConfig(overwrite=True))
    assert not (out / "thesis.tex").exists()
    convert_voc([voc.root], out, ConvertConfig())  # re-run into its own output
    proc = run_in(REPO, "--source", str(voc.root), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
