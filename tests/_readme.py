"""A stage README's usage and Python lines against the code's defaults (one place says each default)."""

from __future__ import annotations

import argparse
import ast
import importlib
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def assert_readme_defaults(stage: str, config: type, required: list[str]) -> None:
    """Assert that every ``[--flag VALUE]`` of the README's usage line is the flag's default, and that the
    README's ``Config(k=v, ...)`` equals ``Config()``."""
    readme = (REPO / "components" / stage / "README.md").read_text(encoding="utf-8")
    parser = argparse.ArgumentParser()
    importlib.import_module(f"components.{stage}.cli").add_arguments(parser)
    defaults = vars(parser.parse_args(required))
    usage = re.search(r"^yolo-kfp .*$", readme, re.MULTILINE)
    # [--flag VALUE] with a value, not a placeholder such as REGEX or A|B
    documented = re.findall(r"\[(--[\w-]+) ([^\]|A-Z][^\]|]*)\]", usage.group(0) if usage else "")
    assert documented, f"{stage}/README.md: no usage line with [--flag VALUE]"
    for flag, value in documented:
        dest = flag[2:].replace("-", "_")
        assert vars(parser.parse_args([*required, flag, value]))[dest] == defaults[dest], f"{flag} {value}"
    call = re.search(rf"{config.__name__}\([^)]*\)", readme)
    assert call, f"{stage}/README.md: no {config.__name__}(...) line"
    node = ast.parse(call.group(0), mode="eval").body
    assert isinstance(node, ast.Call)
    assert config(**{k.arg: ast.literal_eval(k.value) for k in node.keywords}) == config()
