"""Hostile S3 endpoints on loopback: plain sockets in a thread, bounded in time (tests of the storage limits).

``HostileServer(mode)`` accepts every connection on ``127.0.0.1`` and, after reading a request's
headers:

    drip      answers a valid-looking HTTP response one byte every ``drip_every_s`` seconds
    silent    never sends a byte (the connection stays open until the client gives up)
    stuck     never sends a byte and never reads another one (an upload fills the socket buffers)
    garbage   answers ``200 OK`` with a body that is not S3 XML

It stops (closing every socket) when the ``with`` block ends or after ``lifetime_s``, whichever is first,
so a test can never leave it running.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

DRIP_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: 4096\r\n\r\n"
    + b'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>'
    + b" " * 4000
)
GARBAGE_BODY = b"502 Bad Gateway, but sent as 200 OK by a broken proxy\n"


class HostileServer:
    """A loopback TCP server that answers S3 requests badly (see the module docstring).

    Attributes:
        connections: connections accepted so far.
        bytes_sent: bytes sent to clients so far (drip mode).
    """

    def __init__(self, mode: str, *, drip_every_s: float = 5.0, lifetime_s: float = 240.0) -> None:
        if mode not in ("drip", "silent", "stuck", "garbage"):
            raise ValueError(mode)
        self.mode, self.drip_every_s, self.lifetime_s = mode, drip_every_s, lifetime_s
        self.connections = self.bytes_sent = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._clients: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name=f"hostile-{mode}", daemon=True)

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:port`` (for MINIO_ENDPOINT)."""
        return f"127.0.0.1:{self._port}"

    def __enter__(self) -> HostileServer:
        self._deadline = time.monotonic() + self.lifetime_s
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            clients, threads = list(self._clients), list(self._threads)
        for c in clients:
            with contextlib.suppress(OSError):
                c.close()
        for t in threads:
            t.join(timeout=5)
        self._listener.close()

    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._deadline

    def _accept_loop(self) -> None:
        while self._running():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            with self._lock:
                self.connections += 1
                self._clients.append(conn)
                self._threads.append(t)
            t.start()

    def _read_headers(self, conn: socket.socket) -> bool:
        conn.settimeout(0.2)
        data = b""
        while self._running() and b"\r\n\r\n" not in data:
            try:
                chunk = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return False
            if not chunk:
                return False
            data += chunk
        return self._running()

    def _client_gone(self, conn: socket.socket, wait_s: float) -> bool:
        """Wait up to ``wait_s`` (stoppable); True when the client closed or the server stops."""
        end = time.monotonic() + wait_s
        while self._running():
            left = end - time.monotonic()
            if left <= 0:
                return False
            conn.settimeout(min(left, 0.2))
            try:
                if conn.recv(65536) == b"":
                    return True
            except TimeoutError:
                continue
            except OSError:
                return True
        return True

    def _serve(self, conn: socket.socket) -> None:
        try:
            if not self._read_headers(conn):
                return
            if self.mode == "garbage":
                head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(GARBAGE_BODY)}\r\n\r\n"
                conn.sendall(head.encode() + GARBAGE_BODY)
                while self._read_headers(conn):  # keep-alive: every request gets the same page
                    conn.sendall(head.encode() + GARBAGE_BODY)
            elif self.mode == "silent":
                self._client_gone(conn, self.lifetime_s)
            elif self.mode == "stuck":
                while self._running():
                    self._stop.wait(0.2)
            else:
                for i in range(len(DRIP_RESPONSE)):
                    conn.sendall(DRIP_RESPONSE[i : i + 1])
                    with self._lock:
                        self.bytes_sent += 1
                    if self._client_gone(conn, self.drip_every_s):
                        return
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                conn.close()
