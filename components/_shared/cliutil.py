"""Small helpers shared by the stage CLI modules (argument types and the closing summary)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def existing_path(value: str) -> Path:
    """argparse type: a path that must exist (checked again by the stage with a better message)."""
    return Path(value).expanduser()


def fraction(value: str) -> float:
    """argparse type: a float in [0, 1)."""
    try:
        f = float(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from err
    if not 0.0 <= f < 1.0:
        raise argparse.ArgumentTypeError(f"{value} must be in [0, 1)")
    return f


def print_summary(result: Any) -> None:
    """Print a stage result as JSON on stdout (the CLI's only print: machine-readable summary)."""
    data = result.to_dict() if hasattr(result, "to_dict") else result
    print(json.dumps(data, indent=2, sort_keys=True, default=str), file=sys.stdout)  # noqa: T201
