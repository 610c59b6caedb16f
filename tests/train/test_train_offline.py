"""Training, validation and export never open a network connection (no weights, fonts, checks)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from _tiny import TINY_TRAIN, TinyRun

from components.export.core import ExportConfig, export_onnx
from components.train.core import TrainConfig, train_model
from components.validate.core import ValidateConfig, validate_model

pytestmark = pytest.mark.slow


@pytest.fixture
def attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every connection or DNS lookup attempted while the test runs (each one also fails)."""
    seen: list[str] = []

    def refuse(kind: str):
        def blocked(*args: object, **kwargs: object) -> None:
            seen.append(f"{kind} {args[1:] if kind.startswith('socket') else args[:1]}")
            raise OSError(f"network blocked by the test ({kind})")

        return blocked

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    return seen


def test_train_validate_export_make_no_network_attempt(
    frozen_run: TinyRun, tmp_path: Path, attempts: list[str]
) -> None:
    """With sockets and DNS blocked, all three stages succeed and none of them tried to connect."""
    cfg = TrainConfig(freeze=10, epochs=1, **TINY_TRAIN)
    trained = train_model(frozen_run.data_yaml, str(frozen_run.init_weights), tmp_path / "train", cfg)
    validate_model(
        trained.best, frozen_run.data_yaml, tmp_path / "val", ValidateConfig(imgsz=64, batch=4, device="cpu")
    )
    exported = export_onnx(trained.best, tmp_path / "onnx", ExportConfig(imgsz=64, latency_runs=2))
    validate_model(
        exported.onnx_path,
        frozen_run.data_yaml,
        tmp_path / "val-onnx",
        ValidateConfig(imgsz=64, device="cpu"),
    )
    assert attempts == []
