"""The validate README states the defaults of ``ValidateConfig`` and ``GatePolicy`` as the code has them."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

from components.validate.core import ValidateConfig
from components.validate.gate import GatePolicy

README = Path(__file__).resolve().parents[2] / "components" / "validate" / "README.md"


def documented_call(text: str, name: str) -> ast.Call:
    """The first ``name(...)`` written in ``text``, parsed."""
    start, depth = text.index(f"{name}("), 0
    for end in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[end], 0)
        if text[end] == ")" and depth == 0:
            break
    call = ast.parse(text[start : end + 1].replace("\n", " "), mode="eval").body
    assert isinstance(call, ast.Call)
    return call


def assert_defaults(call: ast.Call, classes: dict[str, type]) -> None:
    """Every field of the called class is written, with its default (nested configs checked the same way)."""
    assert isinstance(call.func, ast.Name)
    cls = classes[call.func.id]
    default = cls()
    assert [k.arg for k in call.keywords] == [f.name for f in fields(cls)]
    for k in call.keywords:
        if isinstance(k.value, ast.Call):
            assert_defaults(k.value, classes)
        else:
            assert getattr(default, str(k.arg)) == ast.literal_eval(k.value), k.arg


def test_readme_states_the_config_defaults() -> None:
    """It finds every ValidateConfig and GatePolicy field in the README, with the default the code has."""
    call = documented_call(README.read_text(encoding="utf-8"), "ValidateConfig")
    assert_defaults(call, {"ValidateConfig": ValidateConfig, "GatePolicy": GatePolicy})
