"""predict --url: the Open Inference Protocol client against a real KServe ModelServer on loopback.

The server is ``kserve`` 0.21's ``ModelServer`` with a small ONNX Runtime ``kserve.Model``, run by
``.venv-kserve/bin/python`` (``make kserve-install``: kserve's protobuf pin cannot live in .venv beside
kfp's); without that venv the server tests skip with one line. It serves the sample model in both forms
publish lays out: ``shapes`` (the end-to-end model, output ``[batch, 300, 6]``) and ``shapes-raw``
(``[batch, 4 + classes, anchors]``), plus ``broken``, whose predict raises (the server answers 500).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from predict_fixtures import CLASSES, IMGSZ, REPO, SAMPLE_PT

from components.predict.core import PredictConfig, predict

pytest.importorskip("onnxruntime")

KSERVE_PYTHON = REPO / ".venv-kserve" / "bin" / "python"
LIMIT_S = 2.0  # YOLO_KFP_PREDICT_CALL_LIMIT in the hostile cases
SERVER = '''
import sys
import uuid
import onnxruntime as ort
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer


class OnnxModel(Model):
    """An ONNX Runtime predictor: metadata from the graph, one session run per request."""

    def __init__(self, name, path, broken=False):
        super().__init__(name)
        self.session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        self.broken = broken
        self.ready = True

    @staticmethod
    def _spec(t):
        return {"name": t.name, "datatype": "FP32", "shape": [d if isinstance(d, int) else -1 for d in t.shape]}

    def get_input_types(self):
        return [self._spec(t) for t in self.session.get_inputs()]

    def get_output_types(self):
        return [self._spec(t) for t in self.session.get_outputs()]

    def predict(self, payload: InferRequest, headers=None):
        if self.broken:
            raise RuntimeError("model crashed")
        x = payload.inputs[0].as_numpy()
        outs = self.session.run(None, {self.session.get_inputs()[0].name: x})
        return InferResponse(
            model_name=self.name,
            infer_outputs=[
                InferOutput(name=t.name, shape=list(a.shape), datatype="FP32", data=a)
                for t, a in zip(self.session.get_outputs(), outs)
            ],
            response_id=payload.id or str(uuid.uuid4()),
        )


port, e2e, raw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
sys.argv = sys.argv[:1]
models = [OnnxModel("shapes", e2e), OnnxModel("shapes-raw", raw), OnnxModel("broken", raw, broken=True)]
ModelServer(http_port=port, grpc_port=port + 1, workers=1, enable_grpc=False).start(models)
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str, limit_s: float = LIMIT_S) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "YOLO_KFP_PREDICT_CALL_LIMIT": str(limit_s)}
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "predict", *args],
        capture_output=True, text=True, cwd=REPO, check=False, env=env, timeout=120,
    )  # fmt: skip


def _one_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture(scope="module")
def e2e_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample checkpoint's end-to-end model as export writes it (NMS inside, output (-1, 300, 6))."""
    pytest.importorskip("ultralytics")
    import onnx

    from components._yolo.export import export_onnx_end_to_end

    path = export_onnx_end_to_end(
        weights=SAMPLE_PT, work_dir=tmp_path_factory.mktemp("e2e"), imgsz=IMGSZ, opset=17,
        batch=8, conf=0.001, iou=0.7, max_det=300,
    )  # fmt: skip
    model = onnx.load(str(path))
    for dim, value in zip(model.graph.output[0].type.tensor_type.shape.dim[1:], (300, 6), strict=True):
        dim.dim_value = value  # as components/export/core.py fixes them
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def kserve_python() -> Path:
    """``.venv-kserve/bin/python``, or a one-line skip (before the models are exported)."""
    if not KSERVE_PYTHON.is_file():
        pytest.skip(f"no {KSERVE_PYTHON.relative_to(REPO)}: `make kserve-install` makes it")
    return KSERVE_PYTHON


@pytest.fixture(scope="module")
def server(
    kserve_python: Path, e2e_onnx: Path, sample_onnx: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` of a KServe ModelServer serving shapes, shapes-raw and broken."""
    script = tmp_path_factory.mktemp("kserve") / "serve.py"
    script.write_text(SERVER, encoding="utf-8")
    port = _free_port()
    log = script.with_suffix(".log").open("w")
    proc = subprocess.Popen(  # noqa: S603 - our own venv's interpreter on our own script
        [str(kserve_python), str(script), str(port), str(e2e_onnx), str(sample_onnx)],
        stdout=log, stderr=subprocess.STDOUT, cwd=script.parent,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/v2/models/shapes/ready", timeout=2) as r:  # noqa: S310
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"the KServe server did not start: {script.with_suffix('.log').read_text()[-2000:]}"
                )
            time.sleep(0.5)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _assert_same_predictions(served: Path, local: Path) -> None:
    a = json.loads((served / "predictions.json").read_text())
    b = json.loads((local / "predictions.json").read_text())
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        assert x["image_id"] == y["image_id"] and x["category_id"] == y["category_id"]
        assert np.allclose(x["bbox"], y["bbox"], atol=0.02) and abs(x["score"] - y["score"]) <= 1e-4
    for label in (local / "labels").iterdir():
        assert json.loads(label.read_text()) == json.loads((served / "labels" / label.name).read_text())


def test_predict_url_finds_the_boxes_of_the_local_end_to_end_model(
    server: str, e2e_onnx: Path, sample_images: Path, tmp_path: Path
) -> None:
    """It finds through the served end-to-end model the boxes predict finds running that model.onnx here."""
    served = predict(
        f"{server}/v2/models/shapes",
        str(sample_images),
        tmp_path / "url",
        PredictConfig(classes=CLASSES, imgsz=IMGSZ),
    )
    local = predict(str(e2e_onnx), str(sample_images), tmp_path / "local")
    assert served.images == local.images == 6 and served.detections == local.detections
    assert json.loads((tmp_path / "url" / "predict.json").read_text())["end_to_end"] is True
    _assert_same_predictions(tmp_path / "url", tmp_path / "local")


def test_predict_url_finds_the_boxes_of_the_local_raw_model(
    server: str, sample_onnx: Path, sample_images: Path, tmp_path: Path
) -> None:
    """It finds through the served raw model (<model>-raw) the boxes predict finds running it here."""
    proc = _cli(
        "--url", f"{server}/v2/models/shapes-raw", "--classes", ",".join(CLASSES),
        "--source", str(sample_images), "--out", str(tmp_path / "url"), limit_s=30,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1].endswith("images/s")
    predict(str(sample_onnx), str(sample_images), tmp_path / "local")
    assert json.loads((tmp_path / "url" / "predict.json").read_text())["end_to_end"] is False
    _assert_same_predictions(tmp_path / "url", tmp_path / "local")


def test_predict_url_refuses_a_server_without_class_names_and_no_classes(
    server: str, sample_images: Path, tmp_path: Path
) -> None:
    """It exits 2 with one line asking for --classes when the metadata names no classes, writing nothing."""
    out = str(tmp_path / "o")
    line = _one_line(
        _cli("--url", f"{server}/v2/models/shapes-raw", "--source", str(sample_images), "--out", out)
    )
    assert "carries no class names" in line and "--classes" in line
    assert not (tmp_path / "o").exists()


def test_predict_url_asks_for_imgsz_when_the_served_input_size_is_dynamic(
    server: str, sample_images: Path, tmp_path: Path
) -> None:
    """It exits 2 with one line asking for --imgsz when the served end-to-end model's input is [-1, 3, -1, -1]."""
    out = str(tmp_path / "o")
    classes = ",".join(CLASSES)
    line = _one_line(
        _cli(
            "--url",
            f"{server}/v2/models/shapes",
            "--classes",
            classes,
            "--source",
            str(sample_images),
            "--out",
            out,
        )
    )
    assert "dynamic size" in line and "--imgsz" in line
    assert not (tmp_path / "o").exists()


def test_predict_url_reports_a_server_error_in_one_line(
    server: str, sample_images: Path, tmp_path: Path
) -> None:
    """It exits 2 with one line naming the URL and HTTP 500 when the served model fails, writing nothing."""
    url = f"{server}/v2/models/broken"
    line = _one_line(
        _cli(
            "--url",
            url,
            "--classes",
            ",".join(CLASSES),
            "--source",
            str(sample_images),
            "--out",
            str(tmp_path / "o"),
        )
    )
    assert url in line and "HTTP 500" in line
    assert not (tmp_path / "o").exists()


def _drip(listener: socket.socket, stop: threading.Event) -> None:
    """Accept connections and answer each with one byte of a status line every 0.2 s, never finishing."""
    listener.settimeout(0.2)
    conns = []
    reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Drip: " + b"x" * 100_000
    sent = 0
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
            conns.append(conn)
        except TimeoutError:
            pass
        for conn in conns:
            with contextlib.suppress(OSError):  # the client hung up: it gave up, as it should
                conn.sendall(reply[sent : sent + 1])
        sent += 1
    for conn in conns:
        conn.close()


def test_predict_url_gives_up_on_a_dripping_server_within_the_limit(
    sample_images: Path, tmp_path: Path
) -> None:
    """It exits 2 with one line naming the total-time limit when the server trickles its answer forever."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    thread = threading.Thread(target=_drip, args=(listener, stop), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/v2/models/shapes"
    try:
        t0 = time.monotonic()
        proc = _cli(
            "--url", url, "--classes", "a", "--source", str(sample_images), "--out", str(tmp_path / "o")
        )
        took = time.monotonic() - t0
    finally:
        stop.set()
        thread.join(5)
        listener.close()
    line = _one_line(proc)
    assert url in line and f"within {LIMIT_S:g}s" in line and "YOLO_KFP_PREDICT_CALL_LIMIT" in line
    assert took < LIMIT_S + 20  # the limit, plus the interpreter's start-up
    assert not (tmp_path / "o").exists()


def test_predict_url_reports_a_closed_port_in_one_line(sample_images: Path, tmp_path: Path) -> None:
    """It exits 2 at once with one line naming the URL when nothing listens on the port."""
    url = f"http://127.0.0.1:{_free_port()}/v2/models/shapes"
    t0 = time.monotonic()
    line = _one_line(_cli("--url", url, "--source", str(sample_images), "--out", str(tmp_path / "o")))
    assert time.monotonic() - t0 < LIMIT_S + 20
    assert url in line and "cannot reach 127.0.0.1" in line


def test_predict_url_never_shows_credentials_in_the_url(sample_images: Path, tmp_path: Path) -> None:
    """It refuses a URL carrying a password in one line that shows *** instead, naming the token variable."""
    line = _one_line(
        _cli("--url", "http://admin:hunter22@127.0.0.1:9/v2/models/shapes", "--source", str(sample_images),
             "--out", str(tmp_path / "o"))
    )  # fmt: skip
    assert "hunter22" not in line and "***@127.0.0.1" in line and "YOLO_KFP_PREDICT_TOKEN" in line
