"""Compile for the images that will run it; submit/schedule know the backend and the images they send.

Against the loopback fake KFP API of conftest.py (its healthz reports ``tag_name`` like KFP's own).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from components._shared import images, versions
from components._shared.errors import ConfigError
from pipelines.cli import main
from pipelines.client import backend
from pipelines.compile import COMPILED, compile_pipeline, package_images

REPO = Path(__file__).resolve().parents[2]
REGISTRY = "registry.example.com/vision"
DEFAULT_DATA = f"{images.DEFAULT_REGISTRY}/yolo-kfp-data"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--log-level", "WARNING", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _error_line(err: str, command: str) -> str:
    (line,) = [x for x in err.splitlines() if x.startswith(f"yolo-kfp {command}: error:")]
    return line


def _writes(fake_kfp) -> list:
    return [r for r in fake_kfp.requests if r.method != "GET"]


# --- compile -------------------------------------------------------------------------------------


def test_compile_names_the_requested_registry_and_tag_on_every_task(tmp_path, capsys):
    """It compiles for --image-registry/--image-tag, whatever this process imported before."""
    assert images.CPU.endswith(f":{images.DEFAULT_TAG}")  # the components here were defined for the default
    out = tmp_path / "p.yaml"
    code, printed, err = _cli(
        capsys, "compile", "--image-registry", REGISTRY, "--image-tag", "abc1234", "--out", str(out)
    )
    assert code == 0, err
    assert printed.strip() == str(out)
    found = set(package_images(out).values())
    assert found == {f"{REGISTRY}/yolo-kfp-data:abc1234", f"{REGISTRY}/yolo-kfp-train:abc1234"}


def test_compile_falls_back_to_image_registry_and_image_tag(tmp_path, monkeypatch):
    """It reads IMAGE_REGISTRY/IMAGE_TAG when no flag is given."""
    monkeypatch.setenv("IMAGE_REGISTRY", REGISTRY + "/")
    monkeypatch.setenv("IMAGE_TAG", "v2.0.1")
    out = compile_pipeline(tmp_path / "p.yaml")
    assert {images.image_tag(i) for i in package_images(out).values()} == {"v2.0.1"}
    assert all(i.startswith(REGISTRY + "/yolo-kfp-") for i in package_images(out).values())


@pytest.mark.parametrize(
    "argv", [("--image-tag", "latest"), ("--image-tag", "LATEST"), ("--image-tag", "a b")]
)
def test_compile_refuses_latest_or_a_bad_tag_with_one_line(tmp_path, capsys, argv):
    """It refuses ':latest' (and anything that is not a Docker tag) before compiling."""
    code, _, err = _cli(capsys, "compile", *argv, "--out", str(tmp_path / "p.yaml"))
    assert code == 2
    assert "image tag" in _error_line(err, "compile")
    assert not (tmp_path / "p.yaml").exists()


def test_compile_refuses_latest_from_the_environment(tmp_path, monkeypatch):
    """It refuses IMAGE_TAG=latest as it refuses the flag."""
    monkeypatch.setenv("IMAGE_TAG", "latest")
    with pytest.raises(ConfigError, match="latest"):
        compile_pipeline(tmp_path / "p.yaml")


def test_the_committed_file_is_only_for_the_default_images(monkeypatch):
    """It refuses to overwrite the committed YAML with other images (that goes to --out)."""
    monkeypatch.setenv("IMAGE_TAG", "abc1234")
    with pytest.raises(ConfigError, match="pass --out FILE"):
        compile_pipeline(COMPILED)


def test_the_default_tag_is_the_project_version():
    """It uses pyproject.toml's version as the default tag, never latest."""
    import tomllib

    version = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert images.DEFAULT_TAG == images.project_version() == version
    assert images.DEFAULT_TAG != "latest"


def test_the_committed_pipeline_names_the_default_images_and_no_latest():
    """It runs every task on ghcr.io/yolo-kfp/yolo-kfp-{data,train}:<project version> (make compile)."""
    found = set(package_images(COMPILED).values())
    assert found == set(images.ImageSet(images.DEFAULT_REGISTRY, images.DEFAULT_TAG).all().values()), (
        "stale: run `make compile`"
    )
    assert ":latest" not in COMPILED.read_text(encoding="utf-8")


# --- the backend ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["submit", "schedule"])
def test_an_old_backend_is_refused_with_one_line_before_any_write(fake_kfp, package_for, capsys, command):
    """It names the version found and the version needed, and uploads nothing."""
    fake_kfp.tag_name = "2.3.0"
    package = package_for(f"{DEFAULT_DATA}:abc1234")
    extra = ("--cron", "0 3 * * 1") if command == "schedule" else ()
    code, out, err = _cli(capsys, command, *extra, "--package", str(package), "--image-tag", "abc1234")
    assert code == 2 and out == ""
    line = _error_line(err, command)
    assert "is 2.3.0" in line and f"needs >= {versions.BACKEND_MIN}" in line
    assert _writes(fake_kfp) == []


@pytest.mark.parametrize("tag_name", [versions.BACKEND_MIN, "2.16.1", "v3.0.0"])
def test_a_backend_at_or_above_the_minimum_passes(fake_kfp, package_for, capsys, tag_name):
    """It submits to a backend that has every required feature."""
    fake_kfp.tag_name = tag_name
    package = package_for(f"{DEFAULT_DATA}:abc1234")
    code, out, err = _cli(capsys, "submit", "--package", str(package), "--image-tag", "abc1234")
    assert code == 0, err
    assert json.loads(out)["version_name"] == "abc1234"


@pytest.mark.parametrize("tag_name", [None, "unknown", "master"])
def test_an_unknown_backend_release_is_a_warning(fake_kfp, package_for, capsys, caplog, tag_name):
    """It warns and goes on when healthz does not say which release it is."""
    fake_kfp.tag_name = tag_name
    package = package_for(f"{DEFAULT_DATA}:abc1234")
    with caplog.at_level(logging.WARNING, logger="pipelines.client.backend"):
        code, _, err = _cli(capsys, "submit", "--package", str(package), "--image-tag", "abc1234")
    assert code == 0, err
    assert any("does not report its release" in r.getMessage() for r in caplog.records)


def test_a_feature_that_only_degrades_is_a_warning(monkeypatch, caplog):
    """It warns (no error) for a required=False feature newer than the backend."""
    soon = versions.BackendFeature("a convenience", "9.0.0", "does without it", required=False)
    monkeypatch.setattr(backend, "BACKEND_FEATURES", (*versions.BACKEND_FEATURES, soon))
    newest = max((f.since for f in versions.BACKEND_FEATURES), key=versions._key)  # has every real feature
    with caplog.at_level(logging.WARNING, logger="pipelines.client.backend"):
        result = backend.check_backend({"tag_name": newest}, "test")
    assert result == backend.BackendCheck(newest, ("a convenience",))
    assert any("< 9.0.0: a convenience does without it" in r.getMessage() for r in caplog.records)


def test_the_minimum_is_the_newest_required_feature():
    """It derives BACKEND_MIN from the table: the newest release a required feature needs."""
    required = [f.since for f in versions.BACKEND_FEATURES if f.required]
    assert all(versions.version_at_least(versions.BACKEND_MIN, s) for s in required)
    assert versions.BACKEND_MIN in required
    with pytest.raises(backend.BackendTooOld):
        backend.check_backend({"tag_name": "2.14.9"})


# --- the images submit and schedule send ---------------------------------------------------------


def test_submit_refuses_a_package_whose_images_are_not_the_requested_ones(fake_kfp, package_for, capsys):
    """It names the package's images and the requested ones, and sends nothing."""
    package = package_for(f"{DEFAULT_DATA}:0ld0ld0")
    code, out, err = _cli(capsys, "submit", "--package", str(package), "--image-tag", "abc1234")
    assert code == 2 and out == ""
    line = _error_line(err, "submit")
    assert f"{DEFAULT_DATA}:0ld0ld0" in line and "yolo-kfp-{data,train}:abc1234" in line
    assert fake_kfp.requests == []


def test_schedule_refuses_a_package_for_another_registry(fake_kfp, package_for, capsys, monkeypatch):
    """It compares the registry too (from IMAGE_REGISTRY here)."""
    monkeypatch.setenv("IMAGE_REGISTRY", REGISTRY)
    package = package_for(f"{DEFAULT_DATA}:abc1234")
    code, _, err = _cli(
        capsys, "schedule", "--cron", "0 3 * * 1", "--package", str(package), "--image-tag", "abc1234"
    )
    assert code == 2 and REGISTRY in _error_line(err, "schedule")
    assert fake_kfp.requests == []


@pytest.mark.parametrize(
    ("image", "argv"),
    [
        (f"{DEFAULT_DATA}:abc1234", ("--image-tag", "latest")),  # asked for latest
        (f"{DEFAULT_DATA}:latest", ()),  # a package on latest
        (DEFAULT_DATA, ()),  # no tag: the runtime pulls latest
    ],
)
def test_submit_refuses_latest_explicit_or_defaulted(fake_kfp, package_for, capsys, image, argv):
    """It refuses ':latest' asked for, or in the package, with one line and no request."""
    code, _, err = _cli(
        capsys, "submit", "--package", str(package_for(image)), "--pipeline-version", "v1", *argv
    )
    assert code == 2 and "latest" in _error_line(err, "submit")
    assert fake_kfp.requests == []


def test_submit_names_the_version_after_the_image_tag(fake_kfp, package_for, capsys, monkeypatch):
    """It takes the version name from IMAGE_TAG, and refuses a --pipeline-version that differs from it."""
    monkeypatch.setenv("IMAGE_TAG", "abc1234")
    monkeypatch.setenv("GIT_SHA", "fffffff")
    package = str(package_for(f"{DEFAULT_DATA}:abc1234"))
    code, out, err = _cli(capsys, "submit", "--package", package)
    assert code == 0, err
    assert json.loads(out)["version_name"] == "abc1234"
    assert fake_kfp.calls("POST", "/pipelines/upload_version")[0].query["name"] == "abc1234"

    code, _, err = _cli(capsys, "submit", "--package", package, "--pipeline-version", "other")
    assert code == 2 and "differs from the image tag 'abc1234'" in _error_line(err, "submit")


def test_submit_compiles_for_the_requested_images_when_no_package_is_given(fake_kfp, capsys):
    """It compiles the real pipeline for --image-registry/--image-tag and uploads that as the tag's version."""
    code, out, err = _cli(capsys, "submit", "--image-registry", REGISTRY, "--image-tag", "abc1234")
    assert code == 0, err
    assert json.loads(out)["version_name"] == "abc1234"
    (upload,) = fake_kfp.calls("POST", "/pipelines/upload")  # the first upload of the pipeline
    version = fake_kfp.versions[json.loads(out)["pipeline_id"]][-1]
    spec = version["pipeline_spec"]["pipeline_spec"]
    found = {ex["container"]["image"] for ex in spec["deploymentSpec"]["executors"].values()}
    assert found == {f"{REGISTRY}/yolo-kfp-data:abc1234", f"{REGISTRY}/yolo-kfp-train:abc1234"}
    assert b":latest" not in upload.body


def test_an_existing_version_is_reused_when_identical_and_refused_when_not(fake_kfp, package_for, capsys):
    """It reuses version abc1234 for the same spec, and refuses another spec under that name."""
    same = str(package_for(f"{DEFAULT_DATA}:abc1234"))
    other = str(package_for(f"{DEFAULT_DATA}:abc1234", lr0=0.5))
    assert Path(same).read_text() != Path(other).read_text()
    assert _cli(capsys, "submit", "--package", same, "--image-tag", "abc1234")[0] == 0
    code, out, _ = _cli(capsys, "submit", "--package", same, "--image-tag", "abc1234")
    assert code == 0 and json.loads(out)["version_created"] is False

    code, out, err = _cli(capsys, "submit", "--package", other, "--image-tag", "abc1234")
    assert code == 2 and out == ""
    line = _error_line(err, "submit")
    assert "'abc1234'" in line and "already exists with another pipeline spec" in line and "new tag" in line
    assert len(fake_kfp.calls("POST", "/pipelines/upload_version")) == 1
    assert len(fake_kfp.calls("POST", "/runs")) == 2


def test_image_tag_reads_the_tag_a_runtime_would_pull():
    """It treats a reference without a tag as latest and ignores a registry port."""
    assert images.image_tag("localhost:5000/yolo-kfp-data") == "latest"
    assert images.image_tag("localhost:5000/yolo-kfp-data:abc") == "abc"
    assert images.image_tag("ghcr.io/x/y:1.0@sha256:" + "0" * 64) == "1.0"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", images.DEFAULT_TAG)
