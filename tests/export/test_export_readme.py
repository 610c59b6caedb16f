"""The export README states the defaults of ``ExportConfig`` as the code has them."""

from __future__ import annotations

import ast
from dataclasses import fields
from pathlib import Path

from components.export.core import ExportConfig

README = Path(__file__).resolve().parents[2] / "components" / "export" / "README.md"


def test_readme_states_the_config_defaults() -> None:
    """It finds every ExportConfig field in the README, in order, with the default the code has."""
    text = README.read_text(encoding="utf-8")
    start = text.index("ExportConfig(imgsz=")
    call = ast.parse(text[start : text.index(")", start) + 1].replace("\n", " "), mode="eval").body
    assert isinstance(call, ast.Call)
    assert [k.arg for k in call.keywords] == [f.name for f in fields(ExportConfig)]
    default = ExportConfig()
    for k in call.keywords:
        assert getattr(default, str(k.arg)) == ast.literal_eval(k.value), k.arg
