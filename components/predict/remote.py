"""A served model as predict's backend: the Open Inference Protocol (KServe v2 REST), bounded (``README.md``)."""

from __future__ import annotations

import errno
import http.client
import io
import json
import os
import socket
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

import numpy as np

from components._shared.artifacts import class_names
from components._shared.errors import ConfigError, YoloKfpError
from components._shared.redact import has_userinfo
from components._shared.storage.limits import env_seconds

CALL_LIMIT_S = 30.0  # total time of one request: connect, send, the whole answer
ENV_CALL_LIMIT = "YOLO_KFP_PREDICT_CALL_LIMIT"
ENV_TOKEN = "YOLO_KFP_PREDICT_TOKEN"
CONNECT_TIMEOUT_S = 5.0
MAX_ANSWER_BYTES = 256 * 1024 * 1024  # a raw 640 px answer is ~15 MB of JSON; more is not a detector's
URL_FORM = "http://HOST[:PORT]/v2/models/NAME"
FLOAT_TYPES = {"FP16": np.float16, "FP32": np.float32, "FP64": np.float64}


class InferenceServerError(YoloKfpError):
    """The inference server could not be reached, refused the request, or answered something unusable."""


def call_limit_s() -> float:
    """The total-time limit of one request: ``$YOLO_KFP_PREDICT_CALL_LIMIT`` seconds, else ``CALL_LIMIT_S``."""
    return env_seconds(os.environ, ENV_CALL_LIMIT, CALL_LIMIT_S)


def is_url(spec: str) -> bool:
    """True when ``spec`` names a served model (``http://`` or ``https://``) rather than a file."""
    return spec.strip().lower().startswith(("http://", "https://"))


class _Deadline:
    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.end = time.monotonic() + limit_s

    def left(self) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError("total-time limit reached")
        return left


class _DeadlineReader(io.RawIOBase):
    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        super().__init__()
        self._sock, self._deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._sock.settimeout(self._deadline.left())
        return self._sock.recv_into(buffer)


class _SocketShim:
    """What ``http.client.HTTPResponse`` needs of a socket (``makefile``), with deadline-bound reads."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self._sock, self._deadline = sock, deadline

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))


class _DeadlineMixin:
    """Mixed into ``http.client``'s connections: connect, every send and every read within the deadline."""

    deadline: _Deadline
    sock: Any
    timeout: Any

    def connect(self) -> None:
        self.timeout = min(CONNECT_TIMEOUT_S, self.deadline.left())
        try:
            super().connect()  # type: ignore[misc]
        except TimeoutError:  # the connect timeout, not the request's limit: say which
            raise OSError(errno.ETIMEDOUT, f"no connection within {self.timeout:g}s") from None
        self.response_class = lambda sock, *a, **k: http.client.HTTPResponse(
            _SocketShim(sock, self.deadline),  # type: ignore[arg-type]
            *a,
            **k,
        )

    def send(self, data: Any) -> None:
        if self.sock is None:  # http.client connects on the first send
            self.connect()
        # sendall's timeout bounds the whole call (Python >= 3.5), so each send gets the time left
        self.sock.settimeout(self.deadline.left())
        super().send(data)  # type: ignore[misc]


class _HTTP(_DeadlineMixin, http.client.HTTPConnection):
    pass


class _HTTPS(_DeadlineMixin, http.client.HTTPSConnection):
    pass


@dataclass(frozen=True)
class Endpoint:
    """A served model's URLs: ``url`` as given (for messages), its scheme, host, port and v2 model path."""

    url: str
    https: bool
    host: str
    port: int
    model_path: str  # .../v2/models/NAME[/versions/V]
    name: str


def parse_url(url: str) -> Endpoint:
    """The endpoint ``url`` names (``URL_FORM``); ConfigError for another form or one carrying credentials."""
    if has_userinfo(url):
        raise ConfigError(
            f"--url {url}: carries credentials; pass the URL alone and a bearer token in {ENV_TOKEN}"
        )
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError as err:
        raise ConfigError(f"--url {url!r} is not a URL ({err}); give {URL_FORM}") from None
    segments = parts.path.rstrip("/").split("/")
    if "versions" in segments[-2:-1]:
        segments = segments[:-2]
    if parts.scheme not in ("http", "https") or not parts.hostname or len(segments) < 4:
        raise ConfigError(f"--url {url!r}: not an Open Inference Protocol model URL; give {URL_FORM}")
    if segments[-3:-1] != ["v2", "models"] or not segments[-1]:
        raise ConfigError(f"--url {url!r}: not an Open Inference Protocol model URL; give {URL_FORM}")
    https = parts.scheme == "https"
    return Endpoint(
        url=url,
        https=https,
        host=parts.hostname,
        port=port or (443 if https else 80),
        model_path=parts.path.rstrip("/"),
        name=segments[-1],
    )


def request_json(endpoint: Endpoint, method: str, path: str, body: Any = None) -> Any:
    """``method path`` on the server, its JSON answer parsed, within ``call_limit_s()`` (else InferenceServerError)."""
    limit = call_limit_s()
    deadline = _Deadline(limit)
    cls = _HTTPS if endpoint.https else _HTTP
    conn = cls(endpoint.host, endpoint.port)
    conn.deadline = deadline
    data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    if token := os.environ.get(ENV_TOKEN, "").strip():
        headers["Authorization"] = f"Bearer {token}"
    where = f"--url {endpoint.url}: {method} {path}"
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        answer = _read_all(response, where)
    except TimeoutError:
        raise InferenceServerError(
            f"{where} did not finish within {limit:g}s (a total-time limit: the server is too slow or trickling "
            f"its answer); check the server, or allow longer with {ENV_CALL_LIMIT}=SECONDS"
        ) from None
    except (OSError, http.client.HTTPException) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise InferenceServerError(
            f"{where}: cannot reach {endpoint.host}:{endpoint.port} ({reason}); check the URL and that the "
            "InferenceService is ready (kubectl get inferenceservice)"
        ) from None
    finally:
        conn.close()
    if response.status >= 400:
        snippet = " ".join(answer[:200].decode("utf-8", "replace").split())
        raise InferenceServerError(
            f"{where}: the server answered HTTP {response.status} {response.reason} ({snippet or 'no body'}); "
            "check the model name and the server's log"
        )
    try:
        return json.loads(answer)
    except ValueError:
        raise InferenceServerError(
            f"{where}: the answer (HTTP {response.status}) is not JSON; is this an Open Inference Protocol server?"
        ) from None


def _read_all(response: http.client.HTTPResponse, where: str) -> bytes:
    """The whole body, one socket read at a time (``read1``: each read bounded by the deadline)."""
    chunks, size = [], 0
    while chunk := response.read1(1 << 16):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise InferenceServerError(
                f"{where}: an answer over {MAX_ANSWER_BYTES >> 20} MiB; is this a detection model?"
            )
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class RemoteDetector:
    """A served detection model: predict's backend seam (``run``, ``size``, ``classes``, ``end_to_end``)."""

    endpoint: Endpoint
    input_name: str
    size: tuple[int, int]
    classes: tuple[str, ...]
    end_to_end: bool  # output (batch, max_det, 6) rows with NMS inside, else the raw (batch, 4 + nc, anchors)
    output_name: str

    def run(self, batch: np.ndarray) -> np.ndarray:
        """The model's output for a ``Nx3xHxW`` float32 batch, one ``POST .../infer``."""
        body = {
            "inputs": [
                {
                    "name": self.input_name,
                    "shape": list(batch.shape),
                    "datatype": "FP32",
                    "data": batch.astype(np.float32, copy=False).ravel().tolist(),
                }
            ],
            "outputs": [{"name": self.output_name}],
        }
        path = f"{self.endpoint.model_path}/infer"
        answer = request_json(self.endpoint, "POST", path, body)
        out = _output_tensor(answer, self.output_name, f"--url {self.endpoint.url}: POST {path}")
        self._check_form(out, len(batch), path)
        return out

    def _check_form(self, out: np.ndarray, n: int, path: str) -> None:
        rows = (6,) if self.end_to_end else (4 + len(self.classes),)
        ok = (
            out.ndim == 3
            and out.shape[0] == n
            and (out.shape[2:] if self.end_to_end else out.shape[1:2]) == rows
        )
        if not ok:
            want = "[batch, max_det, 6]" if self.end_to_end else f"[batch, {4 + len(self.classes)}, anchors]"
            raise InferenceServerError(
                f"--url {self.endpoint.url}: POST {path} answered a tensor of shape {list(out.shape)}, "
                f"not {want} as its metadata said"
            )


def _output_tensor(answer: Any, name: str, where: str) -> np.ndarray:
    """The output tensor ``name`` (else the first) of an inference answer, as float32 of its shape."""
    outputs = answer.get("outputs") if isinstance(answer, dict) else None
    if not isinstance(outputs, list) or not outputs or not all(isinstance(o, dict) for o in outputs):
        raise InferenceServerError(
            f"{where}: the answer has no outputs; is this an Open Inference Protocol server?"
        )
    chosen = next((o for o in outputs if o.get("name") == name), outputs[0])
    dtype = FLOAT_TYPES.get(str(chosen.get("datatype")))
    shape, data = chosen.get("shape"), chosen.get("data")
    if dtype is None or not isinstance(shape, list) or not isinstance(data, list):
        raise InferenceServerError(
            f"{where}: output {chosen.get('name')!r} is not a float tensor with shape and data "
            f"(datatype {chosen.get('datatype')!r}); serve the exported ONNX model as it is"
        )
    try:
        return np.asarray(data, dtype=dtype).reshape(shape).astype(np.float32)
    except (ValueError, TypeError):
        raise InferenceServerError(
            f"{where}: output {chosen.get('name')!r} holds data that does not fill its shape {shape}"
        ) from None


def connect_remote(url: str, classes: tuple[str, ...] | None, imgsz: int | None = None) -> RemoteDetector:
    """A ``RemoteDetector`` for the served model at ``url``, from its metadata (``GET /v2/models/NAME``).

    ``classes`` names the classes when the metadata has none; ``imgsz`` sizes a dynamic input without
    ``parameters.imgsz``. ConfigError for a bad URL, classes or input; InferenceServerError for the server.
    """
    endpoint = parse_url(url)
    meta = request_json(endpoint, "GET", endpoint.model_path)
    where = f"--url {url}"
    inputs, outputs = _tensors(meta, "inputs", where), _tensors(meta, "outputs", where)
    inp, out = inputs[0], outputs[0]
    shape = inp.get("shape")
    if inp.get("datatype") != "FP32" or not isinstance(shape, list) or len(shape) != 4:
        raise ConfigError(
            f"{where}: input {inp.get('name')!r} is {inp.get('datatype')} {shape}, not FP32 [batch, 3, H, W]; "
            "serve the exported ONNX model"
        )
    size = _input_size(meta, shape, imgsz, f"{where}: input {inp.get('name')!r}")
    names = _metadata_classes(meta, where)
    if names is None and classes is None:
        raise ConfigError(
            f"{where}: the server's model metadata carries no class names; pass --classes a,b,c "
            "(the model's classes, in order: production.json or the model's manifest lists them)"
        )
    chosen = names if names is not None else tuple(classes or ())
    return RemoteDetector(
        endpoint=endpoint,
        input_name=str(inp.get("name")),
        size=size,
        classes=chosen,
        end_to_end=_is_end_to_end(out.get("shape"), len(chosen), where),
        output_name=str(out.get("name")),
    )


def _input_size(meta: dict[str, Any], shape: list[Any], imgsz: int | None, where: str) -> tuple[int, int]:
    """The served input's (height, width): its fixed shape, else ``parameters.imgsz``, else ``imgsz``."""
    fixed = all(isinstance(d, int) and d > 0 for d in shape[2:])
    if fixed and imgsz is not None and (imgsz, imgsz) != (shape[2], shape[3]):
        raise ConfigError(f"{where} is {shape[2]}x{shape[3]}, not --imgsz {imgsz}; leave --imgsz out")
    if fixed:
        return int(shape[2]), int(shape[3])
    params = meta.get("parameters")
    served = params.get("imgsz") if isinstance(params, dict) else None
    size = served if isinstance(served, int) and served > 0 else imgsz
    if size is None:
        raise ConfigError(
            f"{where} has a dynamic size ({shape}); pass --imgsz N, the size the model was exported at "
            "(imgsz in the version's manifest.json)"
        )
    return size, size


def _tensors(meta: Any, key: str, where: str) -> list[dict[str, Any]]:
    tensors = meta.get(key) if isinstance(meta, dict) else None
    if not isinstance(tensors, list) or not tensors or not all(isinstance(t, dict) for t in tensors):
        raise InferenceServerError(
            f"{where}: the model metadata lists no {key}; is this an Open Inference Protocol model URL ({URL_FORM})?"
        )
    return tensors


def _metadata_classes(meta: dict[str, Any], where: str) -> tuple[str, ...] | None:
    params = meta.get("parameters")
    value = params.get("names") if isinstance(params, dict) else None
    return None if value is None else class_names(value, where)


def _is_end_to_end(shape: Any, n_classes: int, where: str) -> bool:
    """True for ``[batch, max_det, 6]``, False for ``[batch, 4 + classes, anchors]``; else one line."""
    if isinstance(shape, list) and len(shape) == 3:
        if shape[1] == 4 + n_classes:
            return False
        if shape[2] == 6:
            return True
    raise ConfigError(
        f"{where}: output shape {shape} is neither the end-to-end [batch, max_det, 6] nor the raw "
        f"[batch, {4 + n_classes}, anchors] of {n_classes} classes; check --classes or the served model"
    )
