"""Python 3.11-3.13: pyproject.toml and the Makefile agree, the Makefile picks and refuses interpreters as
documented, and the light test selection (what `make test-pythons` runs without torch) imports no torch."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parents[1]
MAKEFILE = ROOT / "Makefile"
HEAVY = ("torch", "torchvision", "ultralytics", "onnx", "onnxruntime", "onnxsim")


def make_variable(name: str) -> list[str]:
    """The words of a ``NAME := ...`` assignment in the Makefile (backslash continuations joined)."""
    text = MAKEFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    found = re.search(rf"^{name}\s*:=(.*)$", text, flags=re.M)
    assert found, f"Makefile has no {name} :="
    return found.group(1).split()


def supported_by_pyproject() -> list[str]:
    """The 3.X versions, 3.0 to 3.30, that requires-python admits."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    spec = SpecifierSet(project["requires-python"])
    return [f"3.{m}" for m in range(31) if spec.contains(f"3.{m}.0")]


def test_requires_python_and_the_makefile_accept_the_same_versions() -> None:
    """It finds one list of versions in requires-python, the classifiers and the Makefile's PYTHONS."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    classifiers = [c.rsplit(" :: ", 1)[1] for c in project["classifiers"] if re.search(r":: 3\.\d+$", c)]
    pythons = make_variable("PYTHONS")
    assert supported_by_pyproject() == pythons == classifiers == ["3.11", "3.12", "3.13"]
    assert sorted(make_variable("FULL_PYTHON_ORDER")) == sorted(pythons)
    assert make_variable("FULL_PYTHON_ORDER")[0] == "3.11", "CI's full suite needs the local torch wheels"


def test_ruff_targets_the_oldest_supported_version() -> None:
    """It keeps ruff's target at the oldest version, so no newer syntax slips in."""
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["ruff"]
    assert ruff["target-version"] == "py" + make_variable("PYTHONS")[0].replace(".", "")


def test_the_light_selection_imports_no_torch() -> None:
    """It collects LIGHT_TESTS in a fresh interpreter where torch and friends cannot be imported at all."""
    tests = make_variable("LIGHT_TESTS")
    assert tests and all((ROOT / t).exists() for t in tests), tests
    code = textwrap.dedent(f"""
        import importlib.abc, sys
        import pytest
        HEAVY, tried = {HEAVY!r}, []
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in HEAVY:
                    tried.append(name)
                    raise ImportError(f"light tests must not import {{name}}")
        sys.meta_path.insert(0, Block())
        rc = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *sys.argv[1:]])
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
        print("RESULT", rc, sorted(set(tried)), loaded)
    """)
    run = subprocess.run(
        [sys.executable, "-c", code, *tests], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    result = (run.stdout.strip().splitlines() or [""])[-1]  # RESULT <exit code> <imports tried> <loaded>
    assert result == "RESULT 0 [] []", f"{result}\n{run.stdout[-3000:]}{run.stderr[-2000:]}"


def fake_python(folder: Path, name: str, version: str) -> Path:
    """A ``name`` script in ``folder`` that answers the Makefile's version questions as Python ``version``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(
        f'#!/bin/sh\ncase "$*" in *executable*) echo "{version} $0";; *) echo "{version}";; esac\n',
        encoding="utf-8",
    )
    path.chmod(0o755)
    return path


@pytest.fixture
def bare_path(tmp_path: Path) -> Path:
    """A PATH folder with only the tools the Makefile's discovery needs (no Python at all)."""
    if shutil.which("make") is None:
        pytest.skip("make not installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "ls", "sort"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    return bin_dir


def dry_install(bin_dir: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``make -n install`` into a venv under tmp_path with only ``bin_dir`` on PATH and an empty pyenv."""
    env = {**os.environ, "PATH": str(bin_dir), "PYENV_ROOT": str(tmp_path / "pyenv")}
    env.pop("PYTHON", None)
    return subprocess.run(
        [str(bin_dir / "make"), "-n", "--no-print-directory", f"VENV={tmp_path / 'v'}", *args, "install"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_no_supported_python_stops_with_one_line(bare_path: Path, tmp_path: Path) -> None:
    """It stops in one line naming the accepted versions, also past a python3.11 that is really 3.10."""
    fake_python(bare_path, "python3.11", "3.10")
    run = dry_install(bare_path, tmp_path)
    assert run.returncode != 0 and run.stdout == ""
    assert run.stderr.count("\n") == 1, run.stderr
    assert "no supported Python found" in run.stderr and "3.11, 3.12, 3.13" in run.stderr


def test_an_unsupported_python_argument_is_named(bare_path: Path, tmp_path: Path) -> None:
    """It names the version of PYTHON=... when that is not a supported one."""
    old = fake_python(tmp_path / "old", "python3.10", "3.10")
    run = dry_install(bare_path, tmp_path, f"PYTHON={old}")
    assert run.returncode != 0 and run.stderr.count("\n") == 1, run.stderr
    assert f"PYTHON={old} is Python 3.10" in run.stderr and "3.11, 3.12, 3.13" in run.stderr


def test_the_full_install_prefers_3_11_then_the_newest(bare_path: Path, tmp_path: Path) -> None:
    """It takes python3.11 when present; without it the newest, found on PATH or as pyenv's install."""
    newest = fake_python(tmp_path / "pyenv" / "versions" / "3.13.2" / "bin", "python3.13", "3.13")
    fake_python(bare_path, "python3.12", "3.12")
    assert f"{newest} -m venv" in dry_install(bare_path, tmp_path).stdout
    py311 = fake_python(bare_path, "python3.11", "3.11")
    assert f"{py311} -m venv" in dry_install(bare_path, tmp_path).stdout
    assert f"{newest} -m venv" in dry_install(bare_path, tmp_path, "PYTHON=python3.13").stdout
