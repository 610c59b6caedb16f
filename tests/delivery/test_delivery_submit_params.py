"""``yolo-kfp submit/schedule -p KEY=VALUE`` beside ``--params FILE``, against the fake KFP API (conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.cli import main


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--log-level", "WARNING", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_submit_p_sets_parameters_read_as_yaml_and_wins_over_the_file(
    fake_kfp, tiny_package, tmp_path, capsys
):
    """It sends -p values typed as YAML scalars, over the file's, and only the names either sets."""
    params = tmp_path / "params.yaml"
    params.write_text("source: s3://datasets/helmet/\nepochs_frozen: 5\n", encoding="utf-8")
    code, out, err = _cli(
        capsys, "submit", "--package", str(tiny_package), "--pipeline-version", "v1", "--params", str(params),
        "-p", "epochs_frozen=7", "-p", "lr0=0.001", "-p", "node_selector={gpu: a100}",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["run_id"]
    assert fake_kfp.calls("POST", "/runs")[0].body["runtime_config"]["parameters"] == {
        "source": "s3://datasets/helmet/",
        "epochs_frozen": 7,
        "lr0": 0.001,
        "node_selector": {"gpu": "a100"},
    }


def test_submit_p_without_a_file(fake_kfp, tiny_package, capsys):
    """It takes parameters from -p alone."""
    code, _, err = _cli(
        capsys, "submit", "--package", str(tiny_package), "--pipeline-version", "v1", "-p", "lr0=0.02"
    )
    assert code == 0, err
    assert fake_kfp.calls("POST", "/runs")[0].body["runtime_config"]["parameters"] == {"lr0": 0.02}


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        ("minio_secret_key=hunter2", "looks like a secret"),
        ("epochs=3", "unknown pipeline parameter 'epochs'"),
        ("epochs_frozen=five", "-p: parameter 'epochs_frozen' must be int"),
        ("source=[a, b]", "must be a string, number or boolean"),
        ("gpus=2", "-p gpus: not declared by"),
        ("lr0", "expected KEY=VALUE"),
    ],
)
def test_submit_p_is_checked_like_the_file_before_any_request(fake_kfp, tiny_package, capsys, item, needle):
    """It exits 2 with one line for a secret-looking, unknown, mistyped, nested or undeclared -p, sending nothing."""
    code, out, err = _cli(
        capsys, "submit", "--package", str(tiny_package), "--pipeline-version", "v1", "-p", item
    )
    assert code == 2 and out == ""
    lines = [line for line in err.splitlines() if line.startswith("yolo-kfp submit: error:")]
    assert len(lines) == 1 and needle in lines[0], err
    assert "hunter2" not in err
    assert fake_kfp.requests == []


def test_schedule_takes_p_too(fake_kfp, tiny_package, capsys):
    """It passes -p parameters to the recurring run."""
    code, _, err = _cli(
        capsys, "schedule", "--cron", "0 3 * * 1", "--package", str(tiny_package), "--pipeline-version", "v1",
        "-p", "epochs_frozen=3",
    )  # fmt: skip
    assert code == 0, err
    (created,) = fake_kfp.calls("POST", "/recurringruns")
    assert created.body["runtime_config"]["parameters"] == {"epochs_frozen": 3}


def test_run_local_takes_p(tmp_path: Path) -> None:
    """It reads -p into run-local's parameters through load_params (the checks of a parameters file)."""
    from components._shared.cliutil import parse_key_values
    from pipelines.cli import parse_args
    from pipelines.local_run import local_params

    args = parse_args(["run-local", "-p", "epochs_frozen=2", "-p", "classes=a,b", "--lr0", "0.05"])
    overrides = parse_key_values(args.param)
    params = local_params(None, tmp_path, {**overrides, "lr0": args.lr0})
    assert (params.epochs_frozen, params.classes, params.lr0) == (2, "a,b", 0.05)
