"""``yolo-kfp tensorboard``: the Kubeflow Tensorboard and PodDefault it prints, validated strictly against
the CRDs of Kubeflow v1.10.0 (tests/specs/kubeflow-v1.10.0, SOURCE.md there)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from _crd import crd_validator, errors

from components._shared.errors import ConfigError
from pipelines.cli import main
from pipelines.cli_tensorboard import S3_LABEL, local_logdir, render_tensorboard

SPECS = Path(__file__).resolve().parents[1] / "specs" / "kubeflow-v1.10.0"
TENSORBOARD_CRD = SPECS / "tensorboard.kubeflow.org_tensorboards.yaml"
PODDEFAULT_CRD = SPECS / "kubeflow.org_poddefaults.yaml"


def _printed(capsys: pytest.CaptureFixture[str], *argv: str) -> list[dict]:
    assert main(["tensorboard", *argv]) == 0
    return list(yaml.safe_load_all(capsys.readouterr().out))


def test_printed_tensorboard_is_valid_against_the_kubeflow_crd_strictly(capsys) -> None:
    """It prints a Tensorboard whose every field the v1.10.0 CRD knows, serving the run's prefix."""
    poddefault, board = _printed(capsys, "--run", "run-42", "--checkpoint-root", "s3://runs/checkpoints")
    assert board["kind"] == "Tensorboard" and board["spec"]["logspath"] == "s3://runs/checkpoints/run-42/"
    assert errors(crd_validator(TENSORBOARD_CRD, "v1alpha1"), board) == []
    assert board["metadata"]["labels"][S3_LABEL] == "true"


def test_printed_poddefault_is_valid_and_takes_credentials_from_the_secret(capsys) -> None:
    """It prints a PodDefault valid against its CRD that selects the Tensorboard's pod and reads yolo-kfp-minio."""
    poddefault, board = _printed(capsys, "--run", "run-42")
    assert errors(crd_validator(PODDEFAULT_CRD, "v1alpha1"), poddefault) == []
    assert poddefault["spec"]["selector"]["matchLabels"].items() <= board["metadata"]["labels"].items()
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in poddefault["spec"]["env"] if "valueFrom" in e}
    assert {r["name"] for r in refs.values()} == {"yolo-kfp-minio"}
    assert refs["AWS_SECRET_ACCESS_KEY"]["key"] == "MINIO_SECRET_KEY"
    assert not any("value" in e and "SECRET" in e["name"] for e in poddefault["spec"]["env"])


def test_the_strict_validator_refuses_a_misspelt_field() -> None:
    """It fails a Tensorboard with ``logsPath`` (the API server would drop it and the CR would be invalid)."""
    board = render_tensorboard("run-42", "s3://runs/checkpoints")[1]
    board["spec"] = {"logsPath": board["spec"]["logspath"]}
    assert errors(crd_validator(TENSORBOARD_CRD, "v1alpha1"), board)


def test_tensorboard_refuses_a_run_id_that_is_a_path(capsys) -> None:
    """It exits 2 with one line for ``--run ../other`` instead of serving another prefix of the bucket."""
    assert main(["tensorboard", "--run", "../other"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--run '../other'" in err[0] and "Traceback" not in err[0]


def test_tensorboard_points_a_local_root_at_tensorboard_logdir() -> None:
    """It refuses a local checkpoint root (no cluster reads it) and names the local command instead."""
    with pytest.raises(ConfigError, match=r"tensorboard --logdir /tmp/ck/run-1/"):
        render_tensorboard("run-1", "/tmp/ck")


def test_local_logdir_finds_the_newest_run_with_event_files(tmp_path: Path) -> None:
    """It returns the run folder whose stages hold event files, ignoring runs without any."""
    (tmp_path / "old" / "frozen").mkdir(parents=True)
    (tmp_path / "new" / "frozen" / "tensorboard").mkdir(parents=True)
    (tmp_path / "new" / "frozen" / "tensorboard" / "events.out.tfevents.1.yolo-kfp.frozen").write_bytes(b"")
    assert local_logdir(tmp_path) == tmp_path / "new"
    assert local_logdir(tmp_path / "absent") is None
