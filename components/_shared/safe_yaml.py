"""Read YAML a user hands us (parameters files, ``-p`` values, dataset.yaml) in bounded time and memory.

``yaml.safe_load`` is not bounded (alias "billion laughs", ``RecursionError`` on deep nesting): aliases,
oversized text and deep nesting are refused before objects are built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from components._shared.errors import ConfigError

MAX_USER_YAML_BYTES = 1024 * 1024  # a parameters file or dataset.yaml is a few KiB
MAX_USER_YAML_DEPTH = 50  # nesting of mappings and lists


class _NoAliasLoader(yaml.SafeLoader):
    """``SafeLoader`` that stops at the first alias or at a nesting deeper than ``MAX_USER_YAML_DEPTH``."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise _Refused(
                f"a YAML alias (*name) at line {mark.line + 1}: aliases are not allowed here "
                "(they can expand without bound); write the values out in full"
            )
        return super().compose_node(parent, index)

    def compose_sequence_node(self, anchor: Any) -> Any:
        self._enter()
        try:
            return super().compose_sequence_node(anchor)
        finally:
            self.depth -= 1

    def compose_mapping_node(self, anchor: Any) -> Any:
        self._enter()
        try:
            return super().compose_mapping_node(anchor)
        finally:
            self.depth -= 1

    def _enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_USER_YAML_DEPTH:
            line = self.peek_event().start_mark.line + 1
            raise _Refused(
                f"nested deeper than {MAX_USER_YAML_DEPTH} levels at line {line}: not a file of settings"
            )


class _Refused(Exception):
    """Raised inside the loader; ``load_user_yaml`` turns it into one ``ConfigError`` line."""


def load_user_yaml(text: str, where: str) -> Any:
    """The one YAML document in ``text``, without aliases and within the bounds (ConfigError naming ``where``)."""
    if len(text.encode("utf-8", "replace")) > MAX_USER_YAML_BYTES:
        raise ConfigError(
            f"{where}: larger than {MAX_USER_YAML_BYTES // 1024} KiB; a YAML file of settings is far smaller"
        )
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except _Refused as err:
        raise ConfigError(f"{where}: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{where}: not valid YAML ({_position(err)})") from None


def read_user_yaml(path: Path) -> Any:
    """``load_user_yaml`` of a file, reading at most one byte more than the size bound."""
    try:
        with Path(path).open("rb") as fh:
            raw = fh.read(MAX_USER_YAML_BYTES + 1)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read it ({err.strerror or err.__class__.__name__})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); save it as UTF-8") from None
    return load_user_yaml(text, str(path))


def _position(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or err.__class__.__name__
    return f"{problem} at line {mark.line + 1}" if mark is not None else str(problem)
