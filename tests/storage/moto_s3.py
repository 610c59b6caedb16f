"""S3 test fixtures shared by tests/storage, tests/ingest and tests/publish (imported by their conftest).

A moto S3 server runs on loopback in this process (``ThreadedMotoServer``); the stages talk real HTTP to
it through ``components._shared.storage``. ``FaultProxy`` sits in front of it and answers chosen
requests with ``503 SlowDown``, which is how transient failures and interrupted uploads are produced
without mocking our own code.
"""

from __future__ import annotations

import http.client
import logging
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from components._shared.storage.base import Entry, StoredFile
from components._shared.storage.limits import RetryPolicy
from components._shared.storage.s3 import S3Backend, StorageSettings

SECRET = "s3cr3t-never-print-me"
ACCESS = "yolo-kfp-test"
FAST_RETRY = RetryPolicy(attempts=3, base_delay_s=0.02, max_delay_s=0.1, deadline_s=2.0)
SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message><Resource>/</Resource>"
    b"<RequestId>fault-proxy</RequestId></Error>"
)


def closed_port() -> int:
    """A loopback port with nothing listening (connections are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FaultProxy:
    """Loopback HTTP proxy to an upstream S3 endpoint that fails chosen requests with 503 SlowDown.

    Attributes:
        fail_first: answer this many of the next requests with 503 (then forward again).
        fail_paths: substrings; a request whose path contains one always gets 503.
        requests, failed: counters.
    """

    def __init__(self, upstream: str) -> None:
        host, port = upstream.rsplit(":", 1)
        self.upstream = (host, int(port))
        self.fail_first = 0
        self.fail_paths: set[str] = set()
        self.requests = self.failed = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _ProxyHandler)
        self._server.daemon_threads = True
        self._server.proxy = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self._server.server_address[1]}"

    def should_fail(self, path: str) -> bool:
        with self._lock:
            self.requests += 1
            fail = self.fail_first > 0 or any(p in path for p in self.fail_paths)
            if self.fail_first > 0:
                self.fail_first -= 1
            self.failed += fail
            return fail

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # keep test output clean
        pass

    def _handle(self) -> None:
        proxy: FaultProxy = self.server.proxy  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if proxy.should_fail(self.path):
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(SLOWDOWN)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(SLOWDOWN)
            return
        conn = http.client.HTTPConnection(*proxy.upstream, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length", "date", "server"):
                self.send_header(k, v)
        upstream_len = resp.getheader("Content-Length")
        self.send_header(
            "Content-Length", upstream_len if self.command == "HEAD" and upstream_len else str(len(data))
        )
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


class S3Admin:
    """Bucket-level set-up and checks for tests, through ``S3Backend`` (stages never create buckets).

    Args:
        settings: the endpoint; ``MINIO_*`` when omitted.
        retry: the back-off of every backend it opens (fast by default).
    """

    def __init__(self, settings: StorageSettings | None = None, retry: RetryPolicy = FAST_RETRY) -> None:
        self.settings = settings or StorageSettings.from_env()
        self.retry = retry

    def __repr__(self) -> str:
        return f"S3Admin({self.endpoint!r})"

    @property
    def endpoint(self) -> str:
        return self.settings.url

    def at(self, bucket: str, prefix: str = "") -> S3Backend:
        """The backend of ``s3://bucket/prefix`` on this endpoint."""
        return S3Backend(f"s3://{bucket}/{prefix}", settings=self.settings, retry=self.retry)

    def ensure_bucket(self, bucket: str) -> None:
        self.at(bucket).ensure_bucket()

    def upload_file(self, path: object, bucket: str, key: str) -> StoredFile:
        return self.at(bucket).put_file(key, path)  # type: ignore[arg-type]

    def get_json(self, bucket: str, key: str) -> object:
        return self.at(bucket).get_json(key)

    def list_objects(self, bucket: str, prefix: str = "") -> list[Entry]:
        """Every object under ``prefix``; ``Entry.name`` is the key."""
        return self.at(bucket).list_entries(prefix)

    def remove_object(self, bucket: str, key: str) -> None:
        self.at(bucket).delete(key)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """host:port of a moto S3 server on loopback, for the whole session."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"{host}:{port}"
    server.stop()


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """MINIO_* pointing at moto (plain HTTP, the distinctive secret) and fast retries; returns the endpoint."""
    monkeypatch.setenv("MINIO_ENDPOINT", moto_endpoint)
    monkeypatch.setenv("MINIO_ACCESS_KEY", ACCESS)
    monkeypatch.setenv("MINIO_SECRET_KEY", SECRET)
    monkeypatch.setenv("MINIO_SECURE", "false")
    monkeypatch.delenv("MINIO_REGION", raising=False)
    monkeypatch.setenv("YOLO_KFP_STORAGE_ATTEMPTS", "3")
    monkeypatch.setenv("YOLO_KFP_STORAGE_BACKOFF_S", "0.02")
    return moto_endpoint


@pytest.fixture
def s3(s3_env: str) -> S3Admin:
    """Bucket-level calls on moto, configured from the environment like every stage."""
    return S3Admin()


@pytest.fixture
def bucket(s3: S3Admin) -> str:
    """A fresh bucket, created through our own storage code."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3.ensure_bucket(name)
    return name


def storage_for(endpoint: str, **kwargs: object) -> S3Admin:
    """Calls on another endpoint (proxy, closed port) with the test credentials and fast retries."""
    return S3Admin(StorageSettings(endpoint, ACCESS, SECRET, secure=False, **kwargs))  # type: ignore[arg-type]
