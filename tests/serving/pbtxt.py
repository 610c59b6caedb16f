"""A small parser of protobuf text format, enough to read a Triton config.pbtxt in tests.

Messages become dicts whose values are lists (every field may repeat); ``[a, b]`` lists are flattened
into the field's list; scalars stay strings (quoted ones unquoted) or ints; enum names stay strings.
"""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r'\s*(?:#[^\n]*\n?)*\s*("(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"#]+)')


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    text = text.rstrip() + "\n"
    while True:
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            break
        out.append(m.group(1))
        pos = m.end()
    rest = re.sub(r"#[^\n]*", "", text[pos:]).strip()
    if rest:
        raise ValueError(f"cannot parse near {rest[:40]!r}")
    return out


def _scalar(tok: str) -> Any:
    if tok.startswith('"'):
        return re.sub(r"\\(.)", r"\1", tok[1:-1])
    if re.fullmatch(r"-?\d+", tok):
        return int(tok)
    return tok


def _message(toks: list[str], i: int, end: str | None) -> tuple[dict[str, list[Any]], int]:
    msg: dict[str, list[Any]] = {}
    while i < len(toks) and toks[i] != end:
        name = toks[i]
        i += 1
        if toks[i] == ":":
            i += 1
        values, i = _value(toks, i)
        msg.setdefault(name, []).extend(values)
        if i < len(toks) and toks[i] in (",", ";"):
            i += 1
    if end is not None:
        if i >= len(toks):
            raise ValueError(f"missing {end!r}")
        i += 1
    return msg, i


def _value(toks: list[str], i: int) -> tuple[list[Any], int]:
    tok = toks[i]
    if tok == "{":
        msg, i = _message(toks, i + 1, "}")
        return [msg], i
    if tok == "[":
        items: list[Any] = []
        i += 1
        while toks[i] != "]":
            values, i = _value(toks, i)
            items.extend(values)
            if toks[i] == ",":
                i += 1
        return items, i + 1
    return [_scalar(tok)], i + 1


def parse_pbtxt(text: str) -> dict[str, list[Any]]:
    """Parse protobuf text format into nested dicts of lists."""
    msg, i = _message(_tokens(text), 0, None)
    return msg
