"""docs/reliability.md stays in step with the tests: every row names a test that exists, and every test
in the hostile-case files has a row."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "reliability.md"
# files whose every test is a hostile case and must have a row
HOSTILE_FILES = (
    "tests/publish/test_publish_race.py",
    "tests/storage/test_bounded.py",
    "tests/ingest/test_ingest_bounded.py",
    "tests/train/test_safe_load.py",
    "tests/train/test_train_guards.py",
    "tests/export/test_export_guards.py",
    "tests/convert/test_convert_issue12.py",
    "tests/delivery/test_delivery_hostile.py",
    "tests/pipelines/test_cli_hostile.py",
    "tests/train/test_train_full_disk.py",
    "tests/export/test_export_full_disk.py",
    "tests/publish/test_promotion_guard.py",
    "tests/publish/test_publish_disk.py",
    "tests/validate/test_gate_records_champion.py",
    "tests/convert/test_convert_round3.py",
    "tests/stats/test_stats_round3.py",
    "tests/split/test_split_round3.py",
    "tests/ingest/test_ingest_round3.py",
    "tests/train/test_resume_foreign_dataset.py",
    "tests/train/test_train_preflight.py",
    "tests/plan/test_plan_preflight.py",
    "tests/export/test_onnx_names_metadata.py",
    "tests/predict/test_predict_hostile.py",
)


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}


def _rows() -> list[tuple[str, str]]:
    return re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", DOC.read_text(encoding="utf-8"))


def test_every_row_names_an_existing_test() -> None:
    """It fails when a test named in docs/reliability.md was renamed or removed."""
    rows = _rows()
    assert len(rows) >= 50
    missing = [f"{f}::{t}" for f, t in rows if not (REPO / f).is_file() or t not in _tests_in(REPO / f)]
    assert not missing, missing


def test_every_hostile_case_test_has_a_row() -> None:
    """It fails when a hostile-case test is added without documenting its case."""
    documented = {(f, t) for f, t in _rows()}
    missing = [
        f"{f}::{t}" for f in HOSTILE_FILES for t in sorted(_tests_in(REPO / f)) if (f, t) not in documented
    ]
    assert not missing, missing
