"""ingest against hostile S3 endpoints ends in bounded time and leaves nothing behind; --out never destroys inputs.

The endpoints are loopback sockets (``tests/storage/loopback_servers.py``). The CLI runs in a child
process as a user would run it; the time to failure is printed (``-s``) for the issue's note.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from loopback_servers import HostileServer
from moto_s3 import ACCESS, SECRET

from components._shared.errors import ConfigError
from components._shared.fsio import OUTPUT_MARKER
from components._shared.storage.limits import DEFAULT_SPEED_WINDOW_S
from components.ingest.core import IngestConfig, ingest

REPO = Path(__file__).resolve().parents[2]
CFG = IngestConfig(workers=2, progress=False)


def _env(endpoint: str, **extra: str) -> dict[str, str]:
    """This process's environment without any MINIO_/YOLO_KFP_ setting, pointed at ``endpoint``."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("MINIO_", "YOLO_KFP_S3", "YOLO_KFP_STORAGE"))
    }
    env.update(
        MINIO_ENDPOINT=endpoint,
        MINIO_ACCESS_KEY=ACCESS,
        MINIO_SECRET_KEY=SECRET,
        MINIO_SECURE="false",
        **extra,
    )
    return env


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ingest_cli(out: Path, env: dict[str, str], timeout: float = 200) -> tuple[int, str, float]:
    """Run ``yolo-kfp ingest --source s3://bucket/prefix/ --out out``; return (exit code, stderr, seconds)."""
    start = time.monotonic()
    proc = _start(["ingest", "--source", "s3://bucket/prefix/", "--out", str(out), "--no-progress"], env)
    try:
        _, stderr = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
    return proc.returncode, stderr, time.monotonic() - start


def _error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr and SECRET not in stderr
    return [ln for ln in stderr.splitlines() if ln.startswith("yolo-kfp ingest: error:")]


def _assert_nothing_left(work: Path) -> None:
    """No output folder, no ``.partial`` or ``.download`` temp folder beside it."""
    assert list(work.iterdir()) == [], list(work.iterdir())


# ---------------------------------------------------------------- hostile endpoints


def test_cli_dripping_endpoint_fails_in_bounded_time_with_one_line(tmp_path: Path) -> None:
    """A byte every 5 s: exit 2 and exactly one stderr line once the (shortened) speed window has passed."""
    work = tmp_path / "work"
    work.mkdir()
    env_over = {"YOLO_KFP_S3_SPEED_WINDOW": "10", "YOLO_KFP_LOG_LEVEL": "ERROR"}
    with HostileServer("drip", drip_every_s=5.0, lifetime_s=150) as server:
        code, stderr, seconds = _ingest_cli(work / "voc", _env(server.endpoint, **env_over))
    print(f"\ningest, endpoint dripping 1 byte/5 s, speed window 10 s: exit {code} after {seconds:.1f}s")
    assert code == 2, stderr
    assert stderr.strip().splitlines() == _error_lines(stderr), stderr  # one line, nothing else
    (line,) = _error_lines(stderr)
    assert "s3://bucket/prefix/" in line and "stalled" in line and f"http://{server.endpoint}" in line
    assert seconds < 90
    _assert_nothing_left(work)


@pytest.mark.slow
def test_cli_dripping_endpoint_with_default_limits_fails_within_three_minutes(tmp_path: Path) -> None:
    """With every default, the same endpoint ends ingest after about one speed window (60 s), well under 3 min."""
    work = tmp_path / "work"
    work.mkdir()
    with HostileServer("drip", drip_every_s=5.0, lifetime_s=200) as server:
        code, stderr, seconds = _ingest_cli(work / "voc", _env(server.endpoint), timeout=200)
    print(f"\ningest, endpoint dripping 1 byte/5 s, default limits: exit {code} after {seconds:.1f}s")
    assert code == 2, stderr
    (line,) = _error_lines(stderr)
    assert "stalled" in line and "after 1 attempt(s)" in line
    assert DEFAULT_SPEED_WINDOW_S <= seconds < 180
    _assert_nothing_left(work)


def test_cli_silent_endpoint_fails_within_the_budget_given_by_flags(tmp_path: Path) -> None:
    """An endpoint that accepts and never answers: the flags' read timeout and retry budget bound the run."""
    work = tmp_path / "work"
    work.mkdir()
    flags = ["--read-timeout", "2", "--retry-budget", "3", "--connect-timeout", "1"]
    with HostileServer("silent", lifetime_s=60) as server:
        start = time.monotonic()
        proc = _start(
            ["ingest", "--source", "s3://bucket/prefix/", "--out", str(work / "voc"), *flags],
            _env(server.endpoint),
        )
        _, stderr = proc.communicate(timeout=60)
        seconds = time.monotonic() - start
    print(
        f"\ningest, silent endpoint, read timeout 2 s, budget 3 s: exit {proc.returncode} after {seconds:.1f}s"
    )
    assert proc.returncode == 2, stderr
    (line,) = _error_lines(stderr)
    assert "no answer within the read timeout of 2s" in line and "after 2 attempt(s)" in line
    assert seconds < 3 + 1 + 2 + 5  # budget + connect + read, plus the interpreter's start
    _assert_nothing_left(work)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_stopped_ingest_removes_its_partial_folder(tmp_path: Path, sig: signal.Signals, code: int) -> None:
    """SIGTERM (a stopped pod) and Ctrl-C end a hanging ingest at once and leave no .partial folder."""
    work = tmp_path / "work"
    work.mkdir()
    with HostileServer("drip", drip_every_s=5.0, lifetime_s=60) as server:
        proc = _start(
            ["ingest", "--source", "s3://bucket/prefix/", "--out", str(work / "voc")], _env(server.endpoint)
        )
        deadline = time.monotonic() + 30
        while server.bytes_sent == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert server.bytes_sent > 0 and any(work.iterdir())  # mid-request, the .partial folder exists
        sent = time.monotonic()
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=30)
        seconds = time.monotonic() - sent
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and seconds < 10
    _assert_nothing_left(work)


# ---------------------------------------------------------------- --out and the inputs


def _voc(root: Path) -> Path:
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    (root / "Annotations" / "a.xml").write_text("<annotation><object><name>x</name></object></annotation>")
    (root / "JPEGImages" / "a.jpg").write_bytes(b"\xff\xd8\xff" + b"0" * 100)
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("out-is-source", "is the input"),
        ("source-inside-out", "contains the input"),
        ("out-inside-source", "lies inside the source folder"),
    ],
)
def test_out_overlapping_the_local_source_is_refused_and_nothing_changes(
    tmp_path: Path, layout: str, message: str
) -> None:
    """It refuses an --out that is, holds or lies inside the source folder, before touching anything."""
    if layout == "source-inside-out":
        out, src = tmp_path / "out", _voc(tmp_path / "out" / "src")
    else:
        src = _voc(tmp_path / "src")
        out = src if layout == "out-is-source" else src / "voc"
    before = _tree(tmp_path)
    with pytest.raises(ConfigError, match=message):
        ingest(str(src), out, CFG)
    assert _tree(tmp_path) == before and not list(tmp_path.rglob("*.partial"))


def test_out_equal_to_a_local_archive_is_refused(tmp_path: Path) -> None:
    """It refuses to write its folder over the archive it reads."""
    archive = tmp_path / "data.tar.gz"
    archive.write_bytes(b"not read")
    with pytest.raises(ConfigError, match="is the input"):
        ingest(str(archive), archive, CFG)
    assert archive.read_bytes() == b"not read"


def test_out_with_foreign_files_needs_overwrite_and_a_rerun_does_not(tmp_path: Path) -> None:
    """It keeps a folder holding files it did not write unless --overwrite; its own output it replaces."""
    src, out = _voc(tmp_path / "src"), tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"holds 1 file\(s\) this stage did not write \(e.g. notes.txt\)"):
        ingest(str(src), out, CFG)
    assert (out / "notes.txt").read_text() == "mine"

    ingest(str(src), out, IngestConfig(workers=2, progress=False, overwrite=True))
    assert not (out / "notes.txt").exists() and (out / OUTPUT_MARKER).is_file()
    ingest(str(src), out, CFG)  # a re-run into its own output needs no flag
    assert (out / "Annotations" / "a.xml").is_file()


def test_cli_out_holding_the_source_is_exit_2_with_one_line(tmp_path: Path) -> None:
    """The CLI says it in one line (exit 2) and the source is untouched; --overwrite does not change that."""
    src = _voc(tmp_path / "data" / "src")
    before = _tree(tmp_path)
    for extra in ([], ["--overwrite"]):
        proc = _start(
            ["ingest", "--source", str(src), "--out", str(tmp_path / "data"), *extra], dict(os.environ)
        )
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 2, stderr
        (line,) = _error_lines(stderr)
        assert "contains the input" in line
    assert _tree(tmp_path) == before
