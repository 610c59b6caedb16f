"""Hostile inputs to the pipeline verbs (issue 24, round 3): YAML bombs, shared --out, secrets, paths."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from components._shared.errors import ConfigError
from pipelines.cli import main

REPO = Path(__file__).resolve().parents[2]


def billion_laughs(levels: int = 9) -> str:
    """A parameters file whose ``train_args`` holds 9 lists of 9 references, ``levels`` deep: 9**levels
    strings (387 million for 9) once anything walks it, in under 400 bytes; the first alias is on line 3."""
    lines = ["train_args:", "  a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"  a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--log-level", "WARNING", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _run_cli(
    *argv: str, env: dict[str, str] | None = None, level: str = "WARNING", timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "--log-level", level, *argv],
        cwd=REPO,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_params_file_with_a_yaml_alias_bomb_is_refused_before_anything_walks_it(tmp_path):
    """It refuses a parameters file with aliases at parse time, in milliseconds, naming the file and line."""
    from pipelines.config import load_params

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(billion_laughs(9), encoding="utf-8")

    start = time.monotonic()
    with pytest.raises(ConfigError, match=r"bomb\.yaml: a YAML alias \(\*name\) at line 3") as err:
        load_params(bomb)
    assert time.monotonic() - start < 1.0
    assert len(str(err.value).splitlines()) == 1


def test_p_value_with_yaml_aliases_is_refused():
    """It refuses a -p value (read as YAML) that uses aliases the same way, naming the flag and the key."""
    from components._shared.cliutil import parse_key_values

    with pytest.raises(ConfigError) as err:
        parse_key_values(["train_args={a: &x [1, 1], b: [*x, *x]}"], "-p")
    assert str(err.value) == (
        "-p train_args: a YAML alias (*name) at line 1: aliases are not allowed here "
        "(they can expand without bound); write the values out in full"
    )


def test_run_local_with_a_yaml_alias_bomb_in_params_exits_2_at_once(tmp_path):
    """It exits 2 in seconds with one line, nothing run and no memory blown (the old run-local hung)."""
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(billion_laughs(7), encoding="utf-8")  # 4.8 million: what the old code could survive
    out = tmp_path / "out"

    start = time.monotonic()
    proc = _run_cli("run-local", "--params", str(bomb), "--out", str(out), timeout=90)

    assert proc.returncode == 2, proc.stderr[-2000:]
    assert time.monotonic() - start < 30
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "bomb.yaml: a YAML alias (*name) at line 3" in lines[0], proc.stderr
    assert not (out / "kfp").exists()


SECRET = "hunter2-s3cr3t"


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed once the block ends: connection refused


@pytest.mark.parametrize(
    ("argv", "env"),
    [
        (  # a password inside MINIO_ENDPOINT
            ["ingest", "--source", "s3://datasets/voc/"],
            {"MINIO_ENDPOINT": f"http://minio:{SECRET}@127.0.0.1:{{port}}"},
        ),
        (  # a password inside an s3:// source
            ["ingest", "--source", f"s3://minio:{SECRET}@datasets/voc/"],
            {"MINIO_ENDPOINT": "http://127.0.0.1:{port}"},
        ),
        (  # a password inside the KFP host
            ["runs", "--host", f"http://admin:{SECRET}@127.0.0.1:{{port}}"],
            {},
        ),
    ],
    ids=["minio-endpoint", "s3-source", "kfp-host"],
)
def test_a_password_inside_a_uri_never_reaches_stderr_or_the_log(tmp_path, argv, env):
    """It fails in one line that shows the URI with its user-info replaced by ***, and no log line at
    INFO shows the password either."""
    port = _closed_port()
    env = {k: v.format(port=port) for k, v in env.items()}
    env.update({"MINIO_SECURE": "false", "YOLO_KFP_STORAGE_ATTEMPTS": "1", "HOME": str(tmp_path)})
    argv = [a.format(port=port) for a in argv]
    if argv[0] == "ingest":
        argv += ["--out", str(tmp_path / "out")]

    proc = _run_cli(*argv, env=env, level="INFO", timeout=60)

    assert proc.returncode == 2, proc.stderr[-2000:]
    assert SECRET not in proc.stderr + proc.stdout
    errors = [line for line in proc.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1 and "***@" in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr


def _hold_out_lock(out: Path) -> subprocess.Popen[str]:
    """A process that holds ``out``'s run-local lock (as a running run-local does) until killed."""
    code = (
        "import sys, time; from pathlib import Path; from pipelines.local_run import out_lock\n"
        "with out_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(120)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(out)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = holder.stdout.readline() if holder.stdout else ""
    if line.strip() != "held":
        holder.kill()
        pytest.fail(f"the lock holder did not start: {holder.communicate()[1][-800:]}")
    return holder


def test_second_run_local_into_one_out_fails_at_once_naming_the_holder(tmp_path, capsys):
    """It refuses a second run-local into an --out another one is using, in one line naming the holder's
    pid, before anything is written (the old one deleted the other's workspace 449 s later)."""
    out = tmp_path / "out"
    out.mkdir()
    holder = _hold_out_lock(out)
    try:
        start = time.monotonic()
        code, stdout, err = _cli(capsys, "run-local", "--out", str(out))
        elapsed = time.monotonic() - start
    finally:
        holder.kill()
        holder.wait()

    assert code == 2 and stdout == ""
    assert elapsed < 10
    assert err.strip().splitlines() == [
        f"yolo-kfp run-local: error: {out} is in use by another run-local (pid {holder.pid}): wait for it to "
        "end, or pass another --out"
    ]
    assert sorted(p.name for p in out.iterdir()) == [".run-local.lock"]


def test_a_killed_run_locals_lock_does_not_block_the_next_run(tmp_path):
    """It takes over the lock of a run-local that was SIGKILLed (the kernel drops an flock with its
    process), and records the new holder's pid."""
    from pipelines.local_run import out_lock

    out = tmp_path / "out"
    out.mkdir()
    holder = _hold_out_lock(out)
    holder.kill()
    holder.wait()

    with out_lock(out):
        assert (out / ".run-local.lock").read_text(encoding="utf-8").split() == [str(os.getpid())]


@pytest.mark.parametrize("where", ["folder", "under-a-file"])
def test_compile_out_that_cannot_be_a_file_is_one_line_before_compiling(tmp_path, capsys, where):
    """It refuses a compile --out that is an existing folder, or lies under a file, in one line naming
    it and the fix, before spending time compiling (the old one compiled, then raised a traceback)."""
    (tmp_path / "a-file.txt").write_text("not a folder\n", encoding="utf-8")
    out = tmp_path if where == "folder" else tmp_path / "a-file.txt" / "pipeline.yaml"

    start = time.monotonic()
    code, stdout, err = _cli(capsys, "compile", "--out", str(out))

    assert code == 2 and stdout == ""
    assert time.monotonic() - start < 3
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"yolo-kfp compile: error: --out {out}"), err
    assert "pass a file path" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file.txt"]


@pytest.mark.parametrize("where", ["file", "under-a-file"])
def test_run_local_out_that_cannot_be_a_folder_is_one_line(tmp_path, capsys, where):
    """It refuses a run-local --out that is a file, or lies under one, in one line before anything runs."""
    a_file = tmp_path / "a-file.txt"
    a_file.write_text("not a folder\n", encoding="utf-8")
    out = a_file if where == "file" else a_file / "out"

    code, stdout, err = _cli(capsys, "run-local", "--out", str(out))

    assert code == 2 and stdout == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("yolo-kfp run-local: error: --out "), err
    assert "pass a folder path" in lines[0]
    assert a_file.read_text(encoding="utf-8") == "not a folder\n"


def test_redact_hides_user_info_and_secret_values_but_not_paths():
    """It masks the user-info of any scheme (a raw @ in the password included), the values of secret
    variables and the user-info of an endpoint variable without a scheme, and leaves token file paths."""
    from components._shared.redact import redact

    env = {
        "MINIO_SECRET_KEY": "s3cr3t-key",
        "MINIO_ENDPOINT": "admin:pa55word@minio:9000",
        "KF_PIPELINES_SA_TOKEN_PATH": "/var/run/token",
    }
    text = (
        "GET http://u:p@ss@kfp:8888/apis failed; s3://key:sec@bucket/a.jpg; 'admin:pa55word@minio:9000' "
        "refused s3cr3t-key; token at /var/run/token; mail me@example.org"
    )
    assert redact(text, env) == (
        "GET http://***@kfp:8888/apis failed; s3://***@bucket/a.jpg; '***@minio:9000' "
        "refused ***; token at /var/run/token; mail me@example.org"
    )
