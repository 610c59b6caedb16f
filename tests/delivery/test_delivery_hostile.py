"""Hostile KFP hosts and host URLs (issue 24, round 3): every wait bounded by total time, one line each."""

from __future__ import annotations

import time

import pytest

from pipelines.cli import main
from pipelines.client.connect import ENV_CALL_LIMIT

CALL_LIMIT_S = 2.0  # each call's total-time bound in these tests; the host drips a byte every 0.5 s


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--log-level", "WARNING", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("command", "route"),
    [
        ("runs", "GET /healthz"),  # the health probe, which is also the backend version check
        ("runs", "GET /runs"),
        ("submit", "POST /pipelines/upload"),
        ("submit", "POST /runs"),  # run creation, after the upload succeeded
    ],
)
def test_kfp_host_that_drips_one_byte_at_a_time_fails_within_the_call_limit(
    fake_kfp, tiny_package, capsys, monkeypatch, command, route
):
    """It ends a call whose answer trickles in (no silence ever reaches a read timeout) at its total-time
    limit, with one line naming the host and the limit."""
    fake_kfp.drip = (route,)
    monkeypatch.setenv(ENV_CALL_LIMIT, str(CALL_LIMIT_S))
    argv = (
        ["submit", "--package", str(tiny_package), "--pipeline-version", "v1"]
        if command == "submit"
        else [command]
    )

    start = time.monotonic()
    code, out, err = _cli(capsys, *argv)
    elapsed = time.monotonic() - start

    assert code == 2, err
    assert elapsed < CALL_LIMIT_S + 4, f"{route}: {elapsed:.1f}s"
    errors = [line for line in err.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "Traceback" not in err, err
    assert fake_kfp.url in errors[0] and f"{CALL_LIMIT_S:g}s" in errors[0] and ENV_CALL_LIMIT in errors[0]
    assert out == ""


@pytest.mark.parametrize("host", ["http://[::1", "http://localhost:99999", "http://:8080", "http://a b:80"])
def test_a_malformed_host_is_one_line_naming_it(capsys, host):
    """It refuses a --host that is not a URL before any request, in one line naming it and the form to use."""
    code, out, err = _cli(capsys, "runs", "--host", host)

    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"yolo-kfp runs: error: --host/KFP_HOST {host!r} is not a URL")
    assert "http://localhost:8080" in lines[0]


def test_kfp_host_dripping_a_byte_every_5s_fails_within_the_default_limit(fake_kfp, capsys):
    """It ends `runs` against a host that sends one byte every 5 s (under the probe's 10 s read timeout)
    at the default 30 s limit, where the old client waited as long as the host kept dripping."""
    from pipelines.client.connect import CALL_LIMIT_S as DEFAULT_LIMIT_S

    fake_kfp.drip, fake_kfp.drip_every_s, fake_kfp.drip_lifetime_s = (
        ("GET /healthz",),
        5.0,
        DEFAULT_LIMIT_S + 30,
    )

    start = time.monotonic()
    code, _, err = _cli(capsys, "runs")
    elapsed = time.monotonic() - start

    assert code == 2, err
    assert DEFAULT_LIMIT_S <= elapsed < DEFAULT_LIMIT_S + 5
    assert f"did not finish within {DEFAULT_LIMIT_S:g}s" in err and fake_kfp.url in err
