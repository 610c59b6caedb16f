"""split, hostile inputs round 3 (issue 24): a catastrophic --group regex is refused before any matching."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from components._shared.errors import ConfigError
from components.split.core import SplitConfig, SplitItem, assign_splits, validate_config

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("group", [r"^(a+)+$", r"^((ab)*c?)*$", r"(\w+\s?)+x", r"^(?:a{1,9})+(b)"])
def test_split_refuses_a_group_regex_with_nested_repeats(group: str) -> None:
    """It refuses, in one line and before matching any name, a regex that repeats a repeated part, which
    can take exponential time per name (^(a+)+$ on 'aaaa...b')."""
    start = time.perf_counter()
    with pytest.raises(ConfigError, match="nested repeat") as err:
        assign_splits(
            [SplitItem("a" * 22 + "b.jpg"), SplitItem("c.jpg"), SplitItem("d.jpg")], SplitConfig(group=group)
        )
    assert time.perf_counter() - start < 1.0
    assert "\n" not in str(err.value)


def test_split_keeps_accepting_ordinary_group_regexes() -> None:
    """It accepts the usual grouping patterns (one repeat per part, alternatives, classes)."""
    for group in (r"^(.+)_\d+$", r"^([a-z]+)-\d+", r"(cam\d)_", r"^(\w+?)(_frame)?\d*$", r"^(a|b)+_"):
        assert validate_config(SplitConfig(group=group)) is not None


def test_split_cli_refuses_a_catastrophic_regex_in_one_line(tmp_path: Path) -> None:
    """It exits 2 with one line on the CLI, in well under a second of matching."""
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "split", "--converted", str(tmp_path / "none"),
         "--out", str(tmp_path / "o"), "--group", "^(a+)+$"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "nested repeat" in proc.stderr
