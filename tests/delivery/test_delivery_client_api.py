"""pipelines/client uses only kfp.Client's public API: a kfp SDK upgrade cannot break it via internals."""

from __future__ import annotations

import ast
from pathlib import Path

CLIENT_DIR = Path(__file__).resolve().parents[2] / "pipelines" / "client"


def _modules() -> dict[str, ast.Module]:
    trees = {p.name: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(CLIENT_DIR.glob("*.py"))}
    assert {"connect.py", "submit.py", "schedule.py", "runs.py"} <= set(trees)
    return trees


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_client_modules_touch_no_underscore_attribute():
    """It finds no `obj._name` and no getattr/setattr/hasattr of a `_name` in pipelines/client."""
    found = []
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _is_private(node.attr):
                found.append(f"{name}:{node.lineno} .{node.attr}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
                and isinstance(node.args[1].value, str)
                and _is_private(node.args[1].value)
            ):
                found.append(f"{name}:{node.lineno} {node.func.id}(..., {node.args[1].value!r})")
    assert found == []


def test_no_class_in_client_modules_subclasses_kfp_client():
    """It finds no class whose bases name kfp's Client."""
    found = []
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            for base in node.bases:
                base_name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                if base_name == "Client":
                    found.append(f"{name}:{node.lineno} class {node.name}({ast.unparse(base)})")
    assert found == []
