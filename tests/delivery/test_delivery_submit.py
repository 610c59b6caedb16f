"""yolo-kfp submit / schedule / runs against a fake KFP v2beta1 API on 127.0.0.1 (see conftest.py)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from components._shared.errors import ConfigError
from pipelines.cli import main
from pipelines.client.schedule import DEFAULT_SCHEDULE_NAME, to_kfp_cron
from pipelines.client.submit import DEFAULT_PACKAGE, resolve_version_name

REPO = Path(__file__).resolve().parents[2]


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--log-level", "WARNING", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _params(tmp_path: Path, text: str, name: str = "params.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_submit_same_version_twice_uploads_once_and_starts_two_runs(fake_kfp, tiny_package, tmp_path, capsys):
    """It uploads the pipeline and the version once; the second submit of the same SHA only starts a run."""
    params = _params(tmp_path, "source: s3://datasets/helmet/\nepochs_frozen: 5\nlr0: 0.001\n")
    args = (
        "submit",
        "--package",
        str(tiny_package),
        "--pipeline-version",
        "abc1234",
        "--params",
        str(params),
    )

    code1, out1, _ = _cli(capsys, *args)
    code2, out2, _ = _cli(capsys, *args)

    assert (code1, code2) == (0, 0)
    first, second = json.loads(out1), json.loads(out2)
    assert first["version_created"] is True and second["version_created"] is False
    assert first["version_id"] == second["version_id"] and first["run_id"] != second["run_id"]
    assert len(fake_kfp.calls("POST", "/pipelines/upload")) == 1
    assert len(fake_kfp.calls("POST", "/pipelines/upload_version")) == 1
    assert len(fake_kfp.calls("POST", "/experiments")) == 1
    versions = [v for vs in fake_kfp.versions.values() for v in vs if v["display_name"] == "abc1234"]
    assert len(versions) == 1
    runs = fake_kfp.calls("POST", "/runs")
    assert len(runs) == 2
    for req in runs:
        assert req.body["pipeline_version_reference"] == {
            "pipeline_id": first["pipeline_id"],
            "pipeline_version_id": first["version_id"],
        }
        assert req.body["runtime_config"]["parameters"] == {
            "source": "s3://datasets/helmet/",
            "epochs_frozen": 5,
            "lr0": 0.001,
        }
        assert req.body["experiment_id"] == first["experiment_id"]
    assert first["run_url"].startswith(fake_kfp.url + "/#/runs/details/")


def test_submit_names_the_version_after_git_sha_from_the_environment(
    fake_kfp, tiny_package, capsys, monkeypatch
):
    """It uses $GIT_SHA when --pipeline-version is not given."""
    monkeypatch.setenv("GIT_SHA", "deadbee")
    code, out, _ = _cli(capsys, "submit", "--package", str(tiny_package))
    assert code == 0
    assert json.loads(out)["version_name"] == "deadbee"
    assert fake_kfp.calls("POST", "/pipelines/upload_version")[0].query["name"] == "deadbee"


def test_submit_skip_if_run_exists_starts_no_second_run(fake_kfp, tiny_package, capsys):
    """It starts no run when the experiment already ran this version (GitOps re-sync)."""
    args = ("submit", "--package", str(tiny_package), "--pipeline-version", "abc1234", "--skip-if-run-exists")
    _cli(capsys, *args)
    code, out, _ = _cli(capsys, *args)
    assert code == 0 and json.loads(out)["skipped_existing_run"] is True
    assert len(fake_kfp.calls("POST", "/runs")) == 1


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("minio_secret_key: hunter2\n", "looks like a secret"),
        ("db_password: x\n", "looks like a secret"),
        ("MINIO_ACCESS_KEY: x\n", "looks like a secret"),
        ("epochs: 3\n", "unknown pipeline parameter 'epochs'"),
        ("source: [a, b]\n", "must be a string, number or boolean"),
        ("- a\n- b\n", "must be a mapping"),
    ],
)
def test_submit_refuses_bad_parameters_before_any_request(
    fake_kfp, tiny_package, tmp_path, capsys, text, needle
):
    """It exits 2 with one line for secret-looking, unknown or nested parameters and sends nothing."""
    params = _params(tmp_path, text)
    code, out, err = _cli(
        capsys, "submit", "--package", str(tiny_package), "--pipeline-version", "v1", "--params", str(params)
    )
    assert code == 2 and out == ""
    lines = [line for line in err.splitlines() if line.startswith("yolo-kfp submit: error:")]
    assert len(lines) == 1 and needle in lines[0]
    assert "hunter2" not in err
    assert fake_kfp.requests == []


def test_submit_accepts_json_parameters_and_struct_node_selector(fake_kfp, tiny_package, tmp_path, capsys):
    """It reads JSON too and passes a mapping only to a struct parameter."""
    params = _params(tmp_path, json.dumps({"node_selector": {"gpu": "a100"}, "lr0": 0.02}), "params.json")
    code, _, _ = _cli(
        capsys, "submit", "--package", str(tiny_package), "--pipeline-version", "v1", "--params", str(params)
    )
    assert code == 0
    assert fake_kfp.calls("POST", "/runs")[0].body["runtime_config"]["parameters"] == {
        "node_selector": {"gpu": "a100"},
        "lr0": 0.02,
    }


def test_submit_missing_package_is_a_one_line_error(fake_kfp, tmp_path, capsys):
    """It names the missing file and the fix."""
    code, _, err = _cli(
        capsys, "submit", "--package", str(tmp_path / "nope.yaml"), "--pipeline-version", "v1"
    )
    assert code == 2 and "yolo-kfp compile" in err


def test_schedule_converts_five_field_cron_with_concurrency_one_and_no_catchup(
    fake_kfp, tiny_package, tmp_path, capsys
):
    """It sends KFP's six-field cron, max concurrency 1, no catch-up and the version reference."""
    params = _params(tmp_path, "epochs_frozen: 7\n")
    code, out, _ = _cli(
        capsys, "schedule", "--cron", "0 3 * * 1", "--package", str(tiny_package), "--pipeline-version", "abc1234",
        "--params", str(params),
    )  # fmt: skip
    assert code == 0
    result = json.loads(out)
    assert result["cron"] == "0 0 3 * * 1"
    (req,) = fake_kfp.calls("POST", "/recurringruns")
    body = req.body
    assert body["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * 1"
    assert int(body["max_concurrency"]) == 1
    assert body["no_catchup"] is True
    assert body["mode"] == "ENABLE"
    assert body["display_name"] == DEFAULT_SCHEDULE_NAME
    assert body["pipeline_version_reference"]["pipeline_version_id"] == result["version_id"]
    assert body["runtime_config"]["parameters"] == {"epochs_frozen": 7}


def test_schedule_again_replaces_the_recurring_run_of_the_same_name(fake_kfp, tiny_package, capsys):
    """It creates the new recurring run, then deletes the old one: one schedule remains."""
    base = ("schedule", "--package", str(tiny_package), "--pipeline-version", "abc1234")
    _, out1, _ = _cli(capsys, *base, "--cron", "0 3 * * 1")
    code, out2, _ = _cli(capsys, *base, "--cron", "30 4 * * *")
    assert code == 0
    first, second = json.loads(out1), json.loads(out2)
    assert second["replaced"] == [first["recurring_run_id"]]
    assert list(fake_kfp.recurring_runs) == [second["recurring_run_id"]]
    assert (
        fake_kfp.recurring_runs[second["recurring_run_id"]]["trigger"]["cron_schedule"]["cron"]
        == "0 30 4 * * *"
    )
    assert len(fake_kfp.calls("DELETE", f"/recurringruns/{first['recurring_run_id']}")) == 1
    assert len(fake_kfp.calls("POST", "/pipelines/upload_version")) == 1


@pytest.mark.parametrize("cron", ["0 3 * *", "0 0 3 * * 1 2026", "every monday", "0 3 * * 1;rm"])
def test_schedule_rejects_malformed_cron_before_any_request(fake_kfp, tiny_package, capsys, cron):
    """It refuses anything but five or six cron fields with one line."""
    code, _, err = _cli(
        capsys, "schedule", "--cron", cron, "--package", str(tiny_package), "--pipeline-version", "v1"
    )
    assert code == 2 and "cron" in err
    assert fake_kfp.requests == []


def test_to_kfp_cron_prepends_seconds_only_to_five_fields():
    """It converts five fields and passes six unchanged."""
    assert to_kfp_cron("0 3 * * 1") == "0 0 3 * * 1"
    assert to_kfp_cron("*/15 * * * *") == "0 */15 * * * *"
    assert to_kfp_cron("0 0 9 ? * 2-6") == "0 0 9 ? * 2-6"
    with pytest.raises(ConfigError):
        to_kfp_cron("@weekly")


def test_schedule_help_says_five_fields_are_converted(capsys):
    """It documents the five-to-six field conversion in --help."""
    with pytest.raises(SystemExit):
        main(["schedule", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "five fields" in out and "seconds first" in out and "0 0 3 * * 1" in out


def test_runs_shows_state_duration_and_published_model(fake_kfp, capsys):
    """It lists newest first with duration and what the publish task did."""
    published = fake_kfp.add_run(
        "nightly 1", "SUCCEEDED", "2026-01-05T03:00:00Z", "2026-01-05T04:12:30Z",
        [{"display_name": "train-model", "state": "SUCCEEDED"}, {"display_name": "publish-model", "state": "SUCCEEDED"}],
    )  # fmt: skip
    refused = fake_kfp.add_run(
        "nightly 2", "SUCCEEDED", "2026-01-06T03:00:00Z", "2026-01-06T03:40:05Z",
        [{"display_name": "validate-model", "state": "SUCCEEDED"}],
    )  # fmt: skip
    running = fake_kfp.add_run("nightly 3", "RUNNING", "2026-01-07T03:00:00Z", None, [])

    code, out, _ = _cli(capsys, "runs", "--json", "--limit", "5")
    assert code == 0
    rows = {r["run_id"]: r for r in json.loads(out)}
    assert [r["run_id"] for r in json.loads(out)] == [running, refused, published]
    assert rows[published]["duration_s"] == 4350.0 and rows[published]["model"] == "published"
    assert rows[refused]["model"] == "-" and rows[refused]["duration_s"] == 2405.0
    assert rows[running]["state"] == "RUNNING" and rows[running]["duration_s"] > 0

    code, out, _ = _cli(capsys, "runs", "--limit", "2")
    lines = out.strip().splitlines()
    assert lines[0].split()[:3] == ["RUN", "ID", "STATE"] and len(lines) == 3
    assert "40m05s" in lines[2]


def test_runs_unknown_experiment_is_a_one_line_error(fake_kfp, capsys):
    """It says the experiment does not exist instead of listing nothing."""
    code, out, err = _cli(capsys, "runs", "--experiment", "nope")
    assert code == 2 and out == ""
    assert "unknown experiment 'nope'" in err


def _run_cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("KFP_", "KF_PIPELINES"))}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *argv],
        cwd=REPO,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unreachable_host_fails_fast_with_one_line(tiny_package, tmp_path):
    """It exits 2 within seconds with one stderr line naming the host (no traceback, no 25 s of retries)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: connection refused
    start = time.monotonic()
    proc = _run_cli(
        "submit", "--host", f"http://127.0.0.1:{port}", "--package", str(tiny_package), "--pipeline-version", "v1",
        env={"HOME": str(tmp_path), "KF_PIPELINES_SA_TOKEN_PATH": str(tmp_path / "none")},
    )  # fmt: skip
    elapsed = time.monotonic() - start
    assert proc.returncode == 2, proc.stderr
    assert elapsed < 15
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("yolo-kfp submit: error: cannot reach the KFP API at http://127.0.0.1:")
    assert "Traceback" not in proc.stderr


def test_401_is_a_one_line_error_that_does_not_echo_the_token(fake_kfp, tiny_package, tmp_path):
    """It explains how to authenticate when the API answers 401, and never prints the token."""
    fake_kfp.token = "right-token"
    proc = _run_cli(
        "submit", "--host", fake_kfp.url, "--package", str(tiny_package), "--pipeline-version", "v1",
        env={"HOME": str(tmp_path), "KFP_TOKEN": "wrong-token"},
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "401 Unauthorized" in lines[0] and "KFP_TOKEN" in lines[0]
    assert "wrong-token" not in proc.stderr + proc.stdout


def test_token_comes_from_env_or_the_projected_service_account_file(
    fake_kfp, tiny_package, tmp_path, capsys, monkeypatch
):
    """It sends KFP_TOKEN, or else the token at KF_PIPELINES_SA_TOKEN_PATH, as a bearer token."""
    fake_kfp.token = "sa-token"
    token_file = tmp_path / "token"
    token_file.write_text("sa-token\n", encoding="utf-8")
    monkeypatch.setenv("KF_PIPELINES_SA_TOKEN_PATH", str(token_file))
    code, _, err = _cli(capsys, "submit", "--package", str(tiny_package), "--pipeline-version", "v1")
    assert code == 0, err
    assert all(r.headers.get("authorization") == "Bearer sa-token" for r in fake_kfp.requests)

    fake_kfp.token = "env-token"
    monkeypatch.setenv("KFP_TOKEN", "env-token")
    code, _, err = _cli(capsys, "runs")
    assert code == 0, err


def test_403_names_the_missing_role(fake_kfp, tiny_package, capsys):
    """It points at the submitter Role when the API forbids a write."""
    fake_kfp.forbid_writes = True
    code, _, err = _cli(capsys, "submit", "--package", str(tiny_package), "--pipeline-version", "v1")
    assert code == 2
    line = next(x for x in err.splitlines() if x.startswith("yolo-kfp submit: error:"))
    assert "403 Forbidden" in line and "not authorized to create" in line and "yolo-kfp-submitter" in line


def test_submit_default_package_is_the_committed_compiled_pipeline(fake_kfp, tmp_path, capsys):
    """It submits pipelines/compiled/yolo_transfer.yaml by default, with the real parameter names."""
    if not DEFAULT_PACKAGE.is_file():
        pytest.skip("pipelines/compiled/yolo_transfer.yaml not compiled yet")
    params = _params(tmp_path, "source: s3://datasets/helmet/\nepochs_frozen: 10\nmin_map50_95: 0.3\n")
    code, out, err = _cli(capsys, "submit", "--pipeline-version", "abc1234", "--params", str(params))
    assert code == 0, err
    (upload,) = fake_kfp.calls("POST", "/pipelines/upload")
    assert upload.query["name"] == "yolo-transfer"
    assert json.loads(out)["version_name"] == "abc1234"


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def test_version_name_is_the_short_sha_and_marks_an_edited_package(tmp_path, tiny_package):
    """It names the version after HEAD, and adds -dirty-<hash> when the package has uncommitted edits."""
    repo = tmp_path / "repo"
    repo.mkdir()
    package = repo / "yolo_transfer.yaml"
    package.write_bytes(tiny_package.read_bytes())
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "x")
    sha = _git(repo, "rev-parse", "--short=7", "HEAD")
    assert resolve_version_name(None, package) == sha
    package.write_text(package.read_text() + "\n# edited\n")
    assert resolve_version_name(None, package).startswith(f"{sha}-dirty-")
    assert resolve_version_name("v2", package) == "v2"
    with pytest.raises(ConfigError):
        resolve_version_name("bad name!", package)


def test_a_host_that_is_not_kfp_is_a_one_line_error(tmp_path, capsys):
    """It says the URL is not a KFP API when /apis/v2beta1/healthz is a 404 (e.g. a static web server)."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code, _, err = _cli(capsys, "runs", "--host", f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 2
    assert "is not a KFP API (404 on /apis/v2beta1/healthz)" in err


def test_submit_refuses_a_parameter_the_package_does_not_declare(fake_kfp, tiny_package, tmp_path, capsys):
    """It refuses a known pipeline parameter that the compiled package lacks, and says to recompile."""
    params = _params(tmp_path, "imgsz: 320\n")
    code, out, err = _cli(
        capsys, "submit", "--package", str(tiny_package), "--pipeline-version", "v1", "--params", str(params)
    )
    assert code == 2 and out == ""
    assert "'imgsz' is not declared by" in err and "yolo-kfp compile" in err
    assert fake_kfp.requests == []


def test_a_login_redirect_is_a_one_line_error(tmp_path, capsys):
    """It reports a redirect from the API (a login page in front of KFP) instead of following it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Login(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(302)
            self.send_header("Location", "/dex/auth?client_id=kubeflow")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Login)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code, _, err = _cli(capsys, "runs", "--host", f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert code == 2
    (line,) = [x for x in err.splitlines() if x.startswith("yolo-kfp runs: error:")]
    assert "redirected to a login page (302)" in line and "KFP_TOKEN" in line
