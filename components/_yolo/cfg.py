"""Ultralytics' own configuration keys and its type checks, for the ``train_args`` of a training stage."""

from __future__ import annotations

# Patches first: they set YOLO_OFFLINE before Ultralytics is imported.
from components._yolo.patches import install  # isort: split

from collections.abc import Mapping
from typing import Any

from ultralytics.cfg import DEFAULT_CFG_DICT, check_cfg

from components._shared.errors import ConfigError


def ultralytics_keys() -> frozenset[str]:
    """Every key of Ultralytics' default configuration (``ultralytics/cfg/default.yaml``)."""
    install()  # idempotent; the import above already ran it before Ultralytics was imported
    return frozenset(DEFAULT_CFG_DICT)


def check_values(args: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``args`` checked by Ultralytics' ``check_cfg``; ConfigError for a wrong type or range."""
    checked = dict(args)
    try:
        check_cfg(checked, hard=True)
    except (TypeError, ValueError) as err:
        first = " ".join(str(err).split())[:240]
        raise ConfigError(f"train_args: {first}") from None
    return checked
