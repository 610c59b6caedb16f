"""Every S3 call is bounded: documented defaults are the code's, and hostile loopback endpoints end in time.

The endpoints are plain sockets on 127.0.0.1 (``loopback_servers.HostileServer``): one that never answers,
one that answers a byte at a time, one that never reads an upload, one that answers with a non-S3 page.
The fast tests shrink the limits; the ``slow`` ones keep the defaults and check the documented worst cases.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path

import pytest
from loopback_servers import HostileServer
from moto_s3 import ACCESS, SECRET

from components._shared.errors import ConfigError, StorageError
from components._shared.storage import EndpointUnavailableError, Entry
from components._shared.storage.limits import RetryPolicy, TransferLimits
from components._shared.storage.s3 import S3Backend, StorageSettings

REPO = Path(__file__).resolve().parents[2]
DOCUMENTED_IN = [REPO / "components" / "ingest" / "README.md"]
ROW = re.compile(
    r"^\|[^|]*\|\s*`(?P<var>YOLO_KFP_[A-Z0-9_]+)`\s*\|[^|]*\|\s*(?P<value>[\d.]+)\s*(?P<unit>s|B/s)?\s"
)


def _client(endpoint: str, limits: TransferLimits, retry: RetryPolicy) -> S3Backend:
    """The objects under ``s3://data/`` on ``endpoint``."""
    settings = StorageSettings(endpoint, ACCESS, SECRET, secure=False, region="us-east-1")
    return S3Backend("s3://data/", settings=settings, retry=retry, limits=limits)


def _documented(path: Path) -> dict[str, float]:
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line.strip())
        if m:
            rows[m.group("var")] = float(m.group("value"))
    return rows


@pytest.mark.parametrize("doc", DOCUMENTED_IN, ids=lambda p: p.name)
def test_documented_defaults_are_the_code_constants(doc: Path) -> None:
    """It finds every limit in the docs' table with the value the code uses, and the derived worst cases."""
    retry, lim = RetryPolicy(), TransferLimits()
    expected = {
        "YOLO_KFP_S3_CONNECT_TIMEOUT": lim.connect_timeout_s,
        "YOLO_KFP_S3_READ_TIMEOUT": lim.read_timeout_s,
        "YOLO_KFP_S3_MIN_SPEED": lim.min_speed_bps,
        "YOLO_KFP_S3_SPEED_WINDOW": lim.speed_window_s,
        "YOLO_KFP_S3_RETRY_BUDGET": retry.deadline_s,
        "YOLO_KFP_STORAGE_ATTEMPTS": retry.attempts,
        "YOLO_KFP_STORAGE_BACKOFF_S": retry.base_delay_s,
    }
    assert _documented(doc) == expected
    assert RetryPolicy.from_env({}) == retry and TransferLimits.from_env({}) == lim
    text = " ".join(doc.read_text(encoding="utf-8").split())
    assert f"capped at {retry.max_delay_s:g} s" in text
    assert f"at most {retry.worst_case_sleep_s():g} s of back-off" in text
    silent_bound = retry.deadline_s + lim.connect_timeout_s + lim.read_timeout_s
    assert f"retry budget + connect timeout + read timeout = {silent_bound:g} s" in text
    assert f"speed window + read timeout = {lim.speed_window_s + lim.read_timeout_s:g} s" in text


def test_environment_overrides_the_defaults_and_bad_values_are_one_line() -> None:
    """It reads YOLO_KFP_S3_* and refuses values that are not positive numbers, naming the variable."""
    env = {
        "YOLO_KFP_S3_CONNECT_TIMEOUT": "2",
        "YOLO_KFP_S3_READ_TIMEOUT": "3.5",
        "YOLO_KFP_S3_MIN_SPEED": "0",
        "YOLO_KFP_S3_SPEED_WINDOW": "9",
        "YOLO_KFP_S3_RETRY_BUDGET": "0",
    }
    assert TransferLimits.from_env(env) == TransferLimits(2.0, 3.5, 0, 9.0)
    assert RetryPolicy.from_env(env).deadline_s == 0.0
    for name, value in (("YOLO_KFP_S3_READ_TIMEOUT", "soon"), ("YOLO_KFP_S3_CONNECT_TIMEOUT", "0")):
        with pytest.raises(ConfigError, match=name):
            TransferLimits.from_env({name: value})
    with pytest.raises(ConfigError, match="YOLO_KFP_S3_RETRY_BUDGET"):
        RetryPolicy.from_env({"YOLO_KFP_S3_RETRY_BUDGET": "-1"})


def test_endpoint_that_never_answers_fails_within_the_budget(caplog: pytest.LogCaptureFixture) -> None:
    """It gives up after read-timeout-long attempts, starting none after the retry budget, with one line."""
    lim, retry = TransferLimits(read_timeout_s=1.0), RetryPolicy(attempts=4, base_delay_s=0.1, deadline_s=1.5)
    with HostileServer("silent") as server, caplog.at_level(logging.WARNING):
        client = _client(server.endpoint, lim, retry)
        start = time.monotonic()
        with pytest.raises(EndpointUnavailableError) as info:
            client.list("voc/")
        seconds = time.monotonic() - start
    msg = str(info.value)
    assert "no answer within the read timeout of 1s (YOLO_KFP_S3_READ_TIMEOUT)" in msg and "\n" not in msg
    assert "after 2 attempt(s)" in msg and server.connections == 2
    assert 2 * lim.read_timeout_s <= seconds < retry.deadline_s + lim.connect_timeout_s + lim.read_timeout_s
    assert SECRET not in msg + caplog.text


def test_endpoint_that_drips_bytes_fails_as_stalled() -> None:
    """It fails a response trickling under the minimum speed once the window has passed, without a retry."""
    lim = TransferLimits(read_timeout_s=5.0, min_speed_bps=1024, speed_window_s=2.0)
    with HostileServer("drip", drip_every_s=0.25) as server:
        client = _client(server.endpoint, lim, RetryPolicy(base_delay_s=0.1, deadline_s=1.0))
        start = time.monotonic()
        with pytest.raises(
            EndpointUnavailableError, match=r"after 1 attempt\(s\).*stalled: \d+ bytes in the last 2s"
        ):
            client.get_json("voc/ingest.json")
        seconds = time.monotonic() - start
    assert lim.speed_window_s <= seconds < lim.speed_window_s + 1.5
    assert 0 < server.bytes_sent < 20


def test_download_stall_removes_its_temp_file(tmp_path: Path) -> None:
    """It leaves neither the destination nor a temp file when a download stalls."""
    lim = TransferLimits(read_timeout_s=5.0, min_speed_bps=1024, speed_window_s=1.5)
    with HostileServer("drip", drip_every_s=0.25) as server:
        client = _client(server.endpoint, lim, RetryPolicy(deadline_s=0.5))
        with pytest.raises(EndpointUnavailableError, match="stalled"):
            client.get_files(
                [(Entry("a.jpg", 4096, "x", "s3://data/a.jpg"), tmp_path / "d" / "a.jpg")], progress=False
            )
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_upload_to_an_endpoint_that_stops_reading_is_bounded(tmp_path: Path) -> None:
    """It fails an upload whose bytes the endpoint never reads after the read timeout, not never."""
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (12 * 1024 * 1024))  # more than the loopback socket buffers hold
    lim = TransferLimits(read_timeout_s=1.0, min_speed_bps=1024, speed_window_s=30.0)
    with HostileServer("stuck") as server:
        client = _client(server.endpoint, lim, RetryPolicy(deadline_s=0.5))
        start = time.monotonic()
        with pytest.raises(EndpointUnavailableError, match="upload s3://data/big.bin failed after 1 attempt"):
            client.put_file("big.bin", big)
    assert time.monotonic() - start < 10


def test_a_reply_that_is_not_s3_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    """It turns a non-XML 200 reply (a broken proxy) into a one-line StorageError for every call."""
    with HostileServer("garbage") as server:
        client = _client(server.endpoint, TransferLimits(), RetryPolicy(deadline_s=0.5))
        # Without MINIO_REGION every first call asks for the bucket's location, and gets the page too.
        settings = StorageSettings(server.endpoint, ACCESS, SECRET, secure=False)
        asks_region = S3Backend("s3://data/", settings=settings, retry=RetryPolicy(deadline_s=0.5))
        calls = {
            "list": lambda: client.list("voc/"),
            "stat": lambda: asks_region.stat("k"),
            "read": lambda: asks_region.get_json("k.json"),
        }
        for op, call in calls.items():
            with pytest.raises(StorageError, match=f"{op} s3://data/.*not an S3 answer") as info:
                call()
            assert "\n" not in str(info.value)


@pytest.mark.slow
def test_default_limits_never_answering_endpoint_ends_within_the_documented_bound() -> None:
    """With the defaults, a silent endpoint fails in about 2 read timeouts, under budget + connect + read."""
    lim, retry = TransferLimits(), RetryPolicy()
    with HostileServer("silent") as server:
        client = _client(server.endpoint, lim, retry)
        start = time.monotonic()
        with pytest.raises(EndpointUnavailableError, match="no answer within the read timeout"):
            client.list("voc/")
        seconds = time.monotonic() - start
    print(f"\nsilent endpoint, default limits: failed after {seconds:.1f}s, {server.connections} attempts")
    assert lim.read_timeout_s <= seconds <= retry.deadline_s + lim.connect_timeout_s + lim.read_timeout_s
