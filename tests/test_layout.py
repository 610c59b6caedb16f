"""The package layout: a stage imports ``components._shared`` and ``components._yolo``, never another stage."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = ROOT / "components"
SHARED = {"_shared", "_yolo"}
STAGES = sorted(p.name for p in COMPONENTS.iterdir() if p.is_dir() and (p / "__init__.py").is_file())
STAGES = [s for s in STAGES if s not in SHARED]


def imported_components(path: Path) -> set[str]:
    """The ``components.<package>`` names a module imports (absolute imports, at any depth)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "components":
                names = [f"components.{a.name}" for a in node.names]
        else:
            continue
        found |= {n.split(".")[1] for n in names if n.startswith("components.")}
    return found


def stage_violations(stage: str) -> list[str]:
    """``file: imports components.<other stage>`` for every cross-stage import in a stage folder."""
    out = []
    for path in sorted((COMPONENTS / stage).rglob("*.py")):
        for other in sorted(imported_components(path) - SHARED - {stage}):
            out.append(f"{path.relative_to(ROOT)}: imports components.{other}")
    return out


def test_the_stage_list_is_found() -> None:
    """It finds the stage folders the rule applies to (a renamed folder would silently skip the rule)."""
    assert {"convert", "split", "stats", "train", "validate", "export", "publish"} <= set(STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_a_stage_imports_only_shared_and_yolo(stage: str) -> None:
    """It finds no import of another stage in any module of the stage (only _shared and _yolo)."""
    assert stage_violations(stage) == []


@pytest.mark.parametrize("package", sorted(SHARED))
def test_shared_packages_import_no_stage(package: str) -> None:
    """It finds no stage import in _shared or _yolo (they sit below every stage)."""
    assert stage_violations(package) == []


def test_validate_and_export_load_without_the_train_stage() -> None:
    """It imports validate's and export's core and CLI in a fresh interpreter without loading components.train."""
    code = (
        "import sys\n"
        "import components.validate.core, components.validate.cli, components.validate.stage\n"
        "import components.export.core, components.export.cli\n"
        "print(sorted(m for m in sys.modules if m.startswith(('components.train', 'components.publish'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout


def test_the_backbone_depth_loads_without_torch() -> None:
    """It reads BACKBONE_LAYERS (and the train config's default) without importing torch or Ultralytics."""
    code = (
        "import sys\n"
        "from components._yolo.layers import BACKBONE_LAYERS\n"
        "from components.train.core import TrainConfig\n"
        "assert TrainConfig().freeze == BACKBONE_LAYERS == 10\n"
        "print(sorted(m for m in ('torch', 'ultralytics') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout
