"""Fixtures for the delivery tests: a fake KFP v2beta1 API on loopback and a tiny compiled pipeline.

The fake server speaks exactly the endpoints kfp 2.17.0's ``kfp.Client`` calls for submit, schedule
and runs (read from kfp/client/client.py and kfp_server_api/api/*.py), keeps state in memory and
records every request so tests can assert what the client sent. Its healthz answers like the KFP API
server's own handler (backend/src/apiserver/main.go): ``commit_sha``, ``tag_name`` (set ``tag_name`` to
play another release, ``None`` to leave it out), ``multi_user``. An uploaded version keeps its spec the
way KFP returns it (``YamlStringToPipelineSpecStruct``: the pipeline spec, or ``{pipeline_spec,
platform_spec}`` when the YAML has a platform document).

``drip`` plays a host that answers one byte at a time: each request whose ``"METHOD /path"`` (without
the /apis/v2beta1 prefix) is in it gets its whole answer, status line included, one byte every
``drip_every_s`` seconds (well under any read timeout), until the answer is sent, the fixture ends or
``drip_lifetime_s`` has passed, so an unbounded client fails a test in bounded time instead of hanging.
"""

import email.parser
import email.policy
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

API = "/apis/v2beta1"


@dataclass
class Request:
    """One request the fake server received."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass
class FakeKfp:
    """In-memory KFP API state plus the request log."""

    url: str = ""
    token: str | None = None  # when set, requests need "Authorization: Bearer <token>"
    multi_user: bool = False
    forbid_writes: bool = False  # when set, every POST/DELETE answers 403 like KFP's authorization check
    tag_name: str | None = "2.15.0"  # the backend release healthz reports; None: the field is absent
    drip: tuple[str, ...] = ()  # "GET /healthz", "POST /runs"...: answered one byte at a time
    drip_every_s: float = 0.5
    drip_lifetime_s: float = 15.0
    stopped: threading.Event = field(default_factory=threading.Event)
    requests: list[Request] = field(default_factory=list)
    pipelines: dict[str, dict] = field(default_factory=dict)
    versions: dict[str, list[dict]] = field(default_factory=dict)
    experiments: dict[str, dict] = field(default_factory=dict)
    runs: dict[str, dict] = field(default_factory=dict)
    recurring_runs: dict[str, dict] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def new_id(self, kind: str) -> str:
        return f"{kind}-{next(self._ids)}"

    def calls(self, method: str, path: str) -> list[Request]:
        """Requests with this method and exact path (without the /apis/v2beta1 prefix)."""
        return [r for r in self.requests if r.method == method and r.path == API + path]

    def add_run(
        self, display_name: str, state: str, created: str, finished: str | None, tasks: list[dict]
    ) -> str:
        """Seed a finished or running run with task details (for ``yolo-kfp runs``)."""
        run_id = self.new_id("run")
        self.runs[run_id] = {
            "run_id": run_id,
            "display_name": display_name,
            "state": state,
            "created_at": created,
            "finished_at": finished or "1970-01-01T00:00:00Z",
            "run_details": {"task_details": tasks},
        }
        return run_id


def _uploaded_spec(body: bytes, ctype: str) -> dict:
    """The spec KFP returns for an uploaded package (multipart field ``uploadfile``)."""
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body
    )
    part = next(
        p for p in msg.iter_parts() if p.get_param("name", header="content-disposition") == "uploadfile"
    )
    docs = [d for d in yaml.safe_load_all(part.get_payload(decode=True)) if d]
    if len(docs) > 1:
        return {"pipeline_spec": docs[0], "platform_spec": docs[1]}
    return docs[0]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _matches(item: dict, flt: str | None) -> bool:
    if not flt:
        return True
    for pred in json.loads(flt).get("predicates", []):
        if pred.get("operation") == "EQUALS" and item.get(pred["key"]) != pred.get("stringValue"):
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    kfp: FakeKfp

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def _reply(self, status: int, payload: Any, drip: bool = False) -> None:
        data = json.dumps(payload).encode()
        if drip:
            self._drip(status, data)
            return
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drip(self, status: int, data: bytes) -> None:
        """The whole answer one byte at a time: every read sees progress, none sees a silence."""
        head = (
            f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        answer = head.encode() + data
        ends = time.monotonic() + self.kfp.drip_lifetime_s
        for i in range(len(answer)):
            if time.monotonic() > ends or self.kfp.stopped.wait(self.kfp.drip_every_s):
                self.close_connection = True
                return
            try:
                self.wfile.write(answer[i : i + 1])
            except OSError:
                return

    def _handle(self, method: str) -> None:
        url = urlparse(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        ctype = self.headers.get("Content-Type", "")
        body: Any = raw
        if raw and "json" in ctype:
            body = json.loads(raw)
        self.kfp.requests.append(
            Request(method, url.path, query, body, {k.lower(): v for k, v in self.headers.items()})
        )
        if self.kfp.token and self.headers.get("Authorization") != f"Bearer {self.kfp.token}":
            self._reply(
                401, {"error": "Unauthorized", "code": 16, "message": "Unauthenticated: no valid token"}
            )
            return
        if self.kfp.forbid_writes and method != "GET":
            self._reply(
                403,
                {"error": "PermissionDenied", "code": 7, "message": "User is not authorized to create this"},
            )
            return
        status, payload = self._route(method, url.path.removeprefix(API), query, body)
        self._reply(status, payload, drip=f"{method} {url.path.removeprefix(API)}" in self.kfp.drip)

    def _route(self, method: str, path: str, q: dict, body: Any) -> tuple[int, Any]:  # noqa: C901
        k = self.kfp
        parts = path.strip("/").split("/")
        if method == "GET" and path == "/healthz":
            health = {"commit_sha": "0123abc", "multi_user": k.multi_user, "pipeline_store": "database"}
            return 200, health | ({"tag_name": k.tag_name} if k.tag_name is not None else {})
        if method == "GET" and path == "/pipelines":
            items = [p for p in k.pipelines.values() if _matches(p, q.get("filter"))]
            return 200, {"pipelines": items, "total_size": len(items)}
        if method == "POST" and path == "/pipelines/upload":
            assert b'name="uploadfile"' in body and b"pipelineInfo" in body, "upload without the package"
            pid = k.new_id("pipeline")
            name = q["name"]
            k.pipelines[pid] = {
                "pipeline_id": pid,
                "display_name": name,
                "name": name,
                "namespace": q.get("namespace"),
            }
            # KFP creates a default version named like the pipeline
            k.versions[pid] = [
                {
                    "pipeline_id": pid,
                    "pipeline_version_id": k.new_id("version"),
                    "display_name": name,
                    "name": name,
                    "pipeline_spec": _uploaded_spec(body, self.headers.get("Content-Type", "")),
                }
            ]
            return 200, k.pipelines[pid]
        if method == "POST" and path == "/pipelines/upload_version":
            assert b'name="uploadfile"' in body, "upload_version without the package"
            pid = q["pipelineid"]
            if pid not in k.pipelines:
                return 404, {"error": "pipeline not found", "code": 5, "message": f"pipeline {pid} not found"}
            v = {
                "pipeline_id": pid,
                "pipeline_version_id": k.new_id("version"),
                "display_name": q["name"],
                "name": q["name"],
                "pipeline_spec": _uploaded_spec(body, self.headers.get("Content-Type", "")),
            }
            k.versions[pid].append(v)
            return 200, v
        if method == "GET" and len(parts) == 4 and parts[0] == "pipelines" and parts[2] == "versions":
            found = [v for v in k.versions.get(parts[1], []) if v["pipeline_version_id"] == parts[3]]
            return (200, found[0]) if found else (404, {"error": "version not found", "code": 5})
        if method == "GET" and len(parts) == 3 and parts[0] == "pipelines" and parts[2] == "versions":
            items = [v for v in k.versions.get(parts[1], []) if _matches(v, q.get("filter"))]
            return 200, {"pipeline_versions": items, "total_size": len(items)}
        if method == "GET" and path == "/experiments":
            items = [e for e in k.experiments.values() if _matches(e, q.get("filter"))]
            return 200, {"experiments": items, "total_size": len(items)}
        if method == "POST" and path == "/experiments":
            eid = k.new_id("experiment")
            k.experiments[eid] = {**body, "experiment_id": eid, "created_at": _now()}
            return 200, k.experiments[eid]
        if method == "POST" and path == "/runs":
            rid = k.new_id("run")
            k.runs[rid] = {**body, "run_id": rid, "state": "PENDING", "created_at": _now()}
            return 200, k.runs[rid]
        if method == "GET" and path == "/runs":
            items = [
                r
                for r in k.runs.values()
                if "experiment_id" not in q or r.get("experiment_id") == q["experiment_id"]
            ]
            items.sort(key=lambda r: r["created_at"], reverse=True)
            size = int(q.get("page_size") or 10)
            return 200, {"runs": items[:size], "total_size": len(items)}
        if method == "GET" and len(parts) == 2 and parts[0] == "runs":
            return (200, k.runs[parts[1]]) if parts[1] in k.runs else (404, {"error": "not found", "code": 5})
        if method == "POST" and path == "/recurringruns":
            rid = k.new_id("recurring")
            k.recurring_runs[rid] = {
                **body,
                "recurring_run_id": rid,
                "status": "ENABLED",
                "created_at": _now(),
            }
            return 200, k.recurring_runs[rid]
        if method == "GET" and path == "/recurringruns":
            items = [
                r
                for r in k.recurring_runs.values()
                if _matches(r, q.get("filter"))
                and r.get("experiment_id") == q.get("experiment_id", r.get("experiment_id"))
            ]
            return 200, {"recurringRuns": items, "total_size": len(items)}
        if method == "DELETE" and len(parts) == 2 and parts[0] == "recurringruns":
            k.recurring_runs.pop(parts[1], None)
            return 200, {}
        return 404, {
            "error": f"fake KFP: no route {method} {path}",
            "code": 5,
            "message": f"no route {method} {path}",
        }

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")


@pytest.fixture
def fake_kfp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A fake KFP API on 127.0.0.1 (ephemeral port); ``KFP_HOST`` points at it."""
    state = FakeKfp()
    handler = type("Handler", (_Handler,), {"kfp": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("KFP_HOST", state.url)
    yield state
    state.stopped.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _isolated_kfp_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No host, token, namespace or kfp context from the developer's machine leaks into a test."""
    import kfp.client.client as kfp_client_module

    for var in (
        "KFP_HOST", "KFP_TOKEN", "KFP_NAMESPACE", "KF_PIPELINES_ENDPOINT", "GIT_SHA", "GITHUB_SHA",
        "IMAGE_REGISTRY", "IMAGE_TAG", "YOLO_KFP_PACKAGE", "YOLO_KFP_KFP_CALL_LIMIT",
    ):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(tmp_path / "no-token-here"))
    monkeypatch.setattr(kfp_client_module.Client, "_LOCAL_KFP_CONTEXT", str(tmp_path / "kfp-context.json"))


@pytest.fixture(scope="session")
def tiny_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A compiled stand-in pipeline named yolo-transfer with a few of the real parameter names."""
    from kfp import compiler, dsl

    @dsl.component(base_image="python:3.11-slim")
    def echo(source: str, epochs_frozen: int, lr0: float) -> str:
        return f"{source} {epochs_frozen} {lr0}"

    @dsl.pipeline(name="yolo-transfer")
    def yolo_transfer(
        source: str = "s3://datasets/voc/",
        epochs_frozen: int = -1,
        lr0: float = 0.01,
        node_selector: dict = {},  # noqa: B006 (KFP reads the default)
    ):
        echo(source=source, epochs_frozen=epochs_frozen, lr0=lr0)

    path = tmp_path_factory.mktemp("package") / "yolo_transfer.yaml"
    compiler.Compiler().compile(yolo_transfer, str(path))
    return path


@pytest.fixture(scope="session")
def package_for(tmp_path_factory: pytest.TempPathFactory):
    """Factory: a compiled stand-in pipeline ``yolo-transfer`` whose one task runs ``image``.

    ``lr0`` sets the parameter's default, so two calls with different values give different specs.
    """
    from kfp import compiler, dsl

    made: dict[tuple[str, float], Path] = {}

    def make(image: str, lr0: float = 0.01) -> Path:
        if (image, lr0) in made:
            return made[(image, lr0)]

        @dsl.component(base_image=image, install_kfp_package=False)
        def echo(source: str, lr0: float) -> str:
            return f"{source} {lr0}"

        @dsl.pipeline(name="yolo-transfer")
        def yolo_transfer(source: str = "s3://datasets/voc/", lr0: float = lr0):
            echo(source=source, lr0=lr0)

        path = tmp_path_factory.mktemp("package") / "yolo_transfer.yaml"
        compiler.Compiler().compile(yolo_transfer, str(path))
        made[(image, lr0)] = path
        return path

    return make
