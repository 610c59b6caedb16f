"""Bounds of every S3 call: connect and read timeouts, a minimum transfer speed, retries within a budget.

``bounded_pool_manager``'s connections enforce ``TransferLimits`` on the socket itself, so no call can
hang. Defaults, variables and worst cases: ``components/ingest/README.md`` (held to it by
``tests/storage/test_bounded.py``).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import http.client
import io
import os
import random
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from components._shared.errors import ConfigError

DEFAULT_CONNECT_TIMEOUT_S = 5.0
DEFAULT_READ_TIMEOUT_S = 15.0
DEFAULT_MIN_SPEED_BPS = 1024
DEFAULT_SPEED_WINDOW_S = 60.0
DEFAULT_RETRY_BUDGET_S = 20.0

ENV_CONNECT_TIMEOUT = "YOLO_KFP_S3_CONNECT_TIMEOUT"
ENV_READ_TIMEOUT = "YOLO_KFP_S3_READ_TIMEOUT"
ENV_MIN_SPEED = "YOLO_KFP_S3_MIN_SPEED"
ENV_SPEED_WINDOW = "YOLO_KFP_S3_SPEED_WINDOW"
ENV_RETRY_BUDGET = "YOLO_KFP_S3_RETRY_BUDGET"
ENV_ATTEMPTS = "YOLO_KFP_STORAGE_ATTEMPTS"
ENV_BACKOFF = "YOLO_KFP_STORAGE_BACKOFF_S"

_SEND_BLOCK = 64 * 1024  # request bodies are sent in blocks so that a slow reader is noticed between them


def env_seconds(environ: Mapping[str, str], name: str, default: float, *, allow_zero: bool = False) -> float:
    """Seconds from ``environ[name]`` (``default`` when unset); ConfigError unless > 0 (>= 0 if allowed)."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number of seconds") from None
    if value < 0 or (value == 0 and not allow_zero) or value != value:
        raise ConfigError(f"{name}={raw!r}: must be {'>= 0' if allow_zero else '> 0'} seconds")
    return value


@dataclass(frozen=True)
class TransferLimits:
    """Per-request bounds enforced on the socket.

    Attributes:
        read_timeout_s: time to first byte, and the longest silence between two socket reads or sends.
        min_speed_bps: minimum average bytes per second over ``speed_window_s`` (0 disables the rule).
    """

    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    min_speed_bps: int = DEFAULT_MIN_SPEED_BPS
    speed_window_s: float = DEFAULT_SPEED_WINDOW_S

    def __post_init__(self) -> None:
        if self.connect_timeout_s <= 0 or self.read_timeout_s <= 0 or self.speed_window_s <= 0:
            raise ConfigError(
                f"S3 limits: connect timeout {self.connect_timeout_s}s, read timeout {self.read_timeout_s}s "
                f"and speed window {self.speed_window_s}s must all be > 0"
            )
        if self.min_speed_bps < 0:
            raise ConfigError(f"S3 minimum speed {self.min_speed_bps} B/s: must be >= 0 (0 turns it off)")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TransferLimits:
        """Defaults overridden by ``YOLO_KFP_S3_CONNECT_TIMEOUT`` / ``_READ_TIMEOUT`` / ``_MIN_SPEED`` / ``_SPEED_WINDOW``."""
        env = os.environ if environ is None else environ
        speed_raw = env.get(ENV_MIN_SPEED, "").strip()
        try:
            speed = int(float(speed_raw)) if speed_raw else DEFAULT_MIN_SPEED_BPS
        except ValueError:
            raise ConfigError(f"{ENV_MIN_SPEED}={speed_raw!r} is not a number of bytes per second") from None
        return cls(
            connect_timeout_s=env_seconds(env, ENV_CONNECT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT_S),
            read_timeout_s=env_seconds(env, ENV_READ_TIMEOUT, DEFAULT_READ_TIMEOUT_S),
            min_speed_bps=speed,
            speed_window_s=env_seconds(env, ENV_SPEED_WINDOW, DEFAULT_SPEED_WINDOW_S),
        )

    def describe(self) -> str:
        """One line for logs: ``connect 5s, read 15s, min 1024 B/s over 60s``."""
        speed = (
            f"min {self.min_speed_bps} B/s over {self.speed_window_s:g}s"
            if self.min_speed_bps
            else "no min speed"
        )
        return f"connect {self.connect_timeout_s:g}s, read {self.read_timeout_s:g}s, {speed}"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential back-off: ``attempts`` tries, delays ``base * 2**n`` (capped, jittered).

    ``deadline_s`` is the retry budget: no retry starts when its back-off would end later than this
    after the call began (the attempt in flight is bounded by ``TransferLimits``).
    """

    attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 4.0
    deadline_s: float = DEFAULT_RETRY_BUDGET_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> RetryPolicy:
        """Defaults overridden by ``YOLO_KFP_STORAGE_ATTEMPTS`` / ``_BACKOFF_S`` and ``YOLO_KFP_S3_RETRY_BUDGET``."""
        env = os.environ if environ is None else environ
        try:
            attempts = int(env.get(ENV_ATTEMPTS, cls.attempts))
            base = float(env.get(ENV_BACKOFF, cls.base_delay_s))
        except ValueError as err:
            raise ConfigError(f"{ENV_ATTEMPTS}/_BACKOFF_S must be numbers ({err})") from err
        if attempts < 1 or base < 0:
            raise ConfigError(f"{ENV_ATTEMPTS} must be >= 1 and {ENV_BACKOFF} >= 0")
        budget = env_seconds(env, ENV_RETRY_BUDGET, DEFAULT_RETRY_BUDGET_S, allow_zero=True)
        return cls(attempts=attempts, base_delay_s=base, deadline_s=budget)

    def delay(self, failed_attempts: int) -> float:
        """Back-off before the next try after ``failed_attempts`` failures (jittered, at most max_delay_s)."""
        nominal = min(self.max_delay_s, self.base_delay_s * 2 ** (failed_attempts - 1))
        return nominal * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not crypto

    def worst_case_sleep_s(self) -> float:
        """Upper bound of the total back-off of one call (what a dead endpoint costs at most in sleeps)."""
        total = sum(min(self.max_delay_s, self.base_delay_s * 2 ** (n - 1)) for n in range(1, self.attempts))
        return min(total, self.deadline_s)


class TransferStalled(OSError):
    """A request moved fewer bytes than the minimum speed over the speed window (raised on the socket)."""


class TransferCancelled(OSError):
    """The batch this request belongs to was cancelled (another transfer failed, or the process is stopping)."""


_scope = threading.local()


@contextlib.contextmanager
def cancel_scope(event: threading.Event) -> Iterator[None]:
    """Requests made by this thread inside the block stop at their next socket read or send once ``event`` is set."""
    previous = getattr(_scope, "event", None)
    _scope.event = event
    try:
        yield
    finally:
        _scope.event = previous


def cancelled() -> bool:
    """True when the current thread's cancel scope has been cancelled."""
    event: threading.Event | None = getattr(_scope, "event", None)
    return bool(event and event.is_set())


class _Progress:
    """Bytes moved by one request (both directions) over time; ``check`` raises when it stalls or is cancelled."""

    def __init__(self, limits: TransferLimits) -> None:
        self.limits = limits
        self.cancel: threading.Event | None = getattr(_scope, "event", None)
        self.start = time.monotonic()
        self.total = 0
        # (time, total bytes at that time), one sample per second at most: the window stays ~60 entries.
        self.samples: collections.deque[tuple[float, int]] = collections.deque([(self.start, 0)])

    def add(self, n: int) -> None:
        self.total += n
        now = time.monotonic()
        if now - self.samples[-1][0] >= 1.0:
            self.samples.append((now, self.total))
        else:
            self.samples[-1] = (self.samples[-1][0], self.total)

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise TransferCancelled("cancelled")
        lim = self.limits
        if not lim.min_speed_bps:
            return
        now = time.monotonic()
        edge = now - lim.speed_window_s
        if self.start > edge:
            return
        while len(self.samples) > 1 and self.samples[1][0] <= edge:
            self.samples.popleft()
        moved = self.total - self.samples[0][1]
        if moved < lim.min_speed_bps * lim.speed_window_s:
            raise TransferStalled(
                f"stalled: {moved} bytes in the last {lim.speed_window_s:g}s, under the minimum of "
                f"{lim.min_speed_bps} B/s ({ENV_MIN_SPEED} / {ENV_SPEED_WINDOW})"
            )


class _WatchedReader(io.RawIOBase):
    def __init__(self, raw: io.RawIOBase, progress: _Progress) -> None:
        super().__init__()
        self._raw, self._progress = raw, progress

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self._progress.check()
        n = self._raw.readinto(buffer)
        if n:
            self._progress.add(n)
            self._progress.check()
        return n

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _SocketShim:
    """What ``http.client.HTTPResponse`` needs of a socket (``makefile``), with the reads watched."""

    def __init__(self, sock: Any, progress: _Progress) -> None:
        self._sock, self._progress = sock, progress

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        raw = self._sock.makefile("rb", buffering=0)
        return io.BufferedReader(_WatchedReader(raw, self._progress))


class _WatchedResponse(http.client.HTTPResponse):
    def __init__(
        self, sock: Any, debuglevel: int = 0, method: str | None = None, url: str | None = None, *,
        progress: _Progress,
    ) -> None:  # fmt: skip
        super().__init__(_SocketShim(sock, progress), debuglevel, method, url)  # type: ignore[arg-type]


class _WatchedConnection:
    """Mixed into urllib3's connections: one ``_Progress`` per request, fed by every send and read."""

    limits: ClassVar[TransferLimits]
    _progress: _Progress | None = None

    def request(self, method: str, url: str, body: Any = None, headers: Any = None, **kwargs: Any) -> None:
        self._progress = progress = _Progress(self.limits)
        self.response_class = functools.partial(_WatchedResponse, progress=progress)
        super().request(method, url, body, headers, **kwargs)  # type: ignore[misc]

    def send(self, data: Any) -> None:
        progress = self._progress
        if progress is None or not isinstance(data, bytes | bytearray | memoryview):
            super().send(data)  # type: ignore[misc]
            return
        view = memoryview(data).cast("B")
        for start in range(0, len(view), _SEND_BLOCK):
            progress.check()
            block = view[start : start + _SEND_BLOCK]
            sock = getattr(self, "sock", None)
            if sock is not None:  # urllib3 sends with the connect timeout; a body may be slower than that
                sock.settimeout(self.limits.read_timeout_s)
            super().send(block)  # type: ignore[misc]
            progress.add(len(block))


def bounded_pool_manager(limits: TransferLimits, *, maxsize: int) -> Any:
    """A urllib3 ``PoolManager`` whose connections enforce ``limits``.

    urllib3's own retries are off (``RetryPolicy`` owns the budget); TLS uses ``SSL_CERT_FILE``, else certifi.
    """
    import certifi
    import urllib3
    from urllib3.connection import HTTPConnection, HTTPSConnection

    http_conn = type("BoundedHTTPConnection", (_WatchedConnection, HTTPConnection), {"limits": limits})
    https_conn = type("BoundedHTTPSConnection", (_WatchedConnection, HTTPSConnection), {"limits": limits})
    manager = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=limits.connect_timeout_s, read=limits.read_timeout_s),
        maxsize=maxsize,
        retries=False,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
    )
    manager.pool_classes_by_scheme = {
        "http": type("BoundedHTTPPool", (urllib3.HTTPConnectionPool,), {"ConnectionCls": http_conn}),
        "https": type("BoundedHTTPSPool", (urllib3.HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
    }
    return manager
