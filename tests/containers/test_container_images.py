"""Both images, built from docker/*.Dockerfile on a Debian base with no registry, keep their promises."""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
from pathlib import Path

import pytest
from container_kit import ENGINE, Images, docker

pytestmark = pytest.mark.container

PEM = re.compile(r"-----BEGIN CERTIFICATE-----\n(.+?)\n-----END CERTIFICATE-----", re.S)


def _host_ca() -> Path | None:
    """The CA bundle this host trusts (what docker/engine.sh passes as the build secret)."""
    for candidate in (os.environ.get("SSL_CERT_FILE"), os.environ.get("PIP_CERT"),
                      ssl.get_default_verify_paths().cafile):  # fmt: skip
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def test_the_train_image_holds_the_stated_torch_cuda_and_cudnn(images: Images) -> None:
    """It runs the train image's Python: torch 2.14.1 built for CUDA 13.0 with cuDNN 9, Python 3.11."""
    code = ("import platform, torch, torchvision; print(platform.python_version(), torch.__version__, "
            "torchvision.__version__, torch.version.cuda, torch.backends.cudnn.version())")  # fmt: skip
    out = docker("run", "--rm", "--network", "none", images.train, "python", "-c", code).stdout.split()
    assert out[0].startswith("3.11.") and out[1].startswith("2.14.1") and out[2].startswith("0.29.1"), out
    assert out[3] == "13.0" and out[4].startswith("9"), out


def test_the_train_build_fails_when_a_stated_version_differs(images: Images) -> None:
    """It rebuilds the train image stating cuDNN 8: the build's check step fails and names the version."""
    env = {**os.environ, "IMAGE_REGISTRY": images.registry, "IMAGE_TAG": "wrong-cudnn",
           "BUILD_OPTS": "--build-arg CUDNN_VERSION=8"}  # fmt: skip
    proc = subprocess.run([str(ENGINE), "images", "train"], capture_output=True, text=True, env=env,
                          timeout=1800, check=False)  # fmt: skip
    assert proc.returncode != 0
    assert "versions differ from docker/train.Dockerfile: cudnn is 9." in proc.stdout + proc.stderr
    assert "the Dockerfile states 8" in proc.stdout + proc.stderr


@pytest.mark.parametrize("name", ["data", "train"])
def test_the_images_hold_no_ca_bundle_secret_and_no_proxy_settings(images: Images, name: str) -> None:
    """It finds no proxy or CA variable in the image's config, nothing under /run/secrets, and none of
    the certificates only this host trusts (the build secret's) in any .pem or .crt file of the image."""
    image = getattr(images, name)
    config = json.loads(docker("image", "inspect", image).stdout)[0]["Config"]
    leaked = [
        e for e in config["Env"] if re.match(r"(?i)[a-z_]*(proxy|pip_cert|ssl_cert|ca_bundle)[a-z_]*=", e)
    ]
    assert not leaked, leaked
    history = docker("history", "--no-trunc", image).stdout
    assert "BEGIN CERTIFICATE" not in history
    assert (
        docker("run", "--rm", "--network", "none", image, "ls", "-A", "/run/secrets", check=False).stdout
        == ""
    )
    ca = _host_ca()
    added = _locally_added_certificates(ca, image) if ca else set()
    if not added:
        pytest.skip("this host trusts no CA beyond the public ones: the build had no private CA to leak")
    inside = docker("run", "--rm", "--network", "none", image, "sh", "-c",
                    "cat $(find / -xdev \\( -name '*.pem' -o -name '*.crt' \\) 2>/dev/null)").stdout  # fmt: skip
    assert not [c for c in added if c.splitlines()[1] in inside], "a CA only this host trusts is in the image"


def _locally_added_certificates(ca: Path, image: str) -> set[str]:
    """The certificates of this host's bundle that no public list holds: not Mozilla's (certifi here, and
    every certifi copy a wheel put in the image) nor Debian's in the base image the build started from.
    A TLS-intercepting proxy's CA is one of them."""
    import certifi

    base = subprocess.run([str(ENGINE), "base"], capture_output=True, text=True, check=True).stdout.strip()
    debian = docker(
        "run", "--rm", "--network", "none", base, "cat", "/etc/ssl/certs/ca-certificates.crt"
    ).stdout
    wheels = docker("run", "--rm", "--network", "none", image, "sh", "-c",
                    "cat $(find /opt/venv -path '*certifi/cacert.pem')").stdout  # fmt: skip
    public = {*PEM.findall(debian), *PEM.findall(wheels), *PEM.findall(Path(certifi.where()).read_text())}
    return set(PEM.findall(ca.read_text(errors="replace"))) - public


def test_a_data_stage_runs_as_an_arbitrary_uid_in_group_0(images: Images, shared_dir: Path) -> None:
    """It runs make-sample and convert in the data image as UID 1000650000, GID 0 (OpenShift's way),
    on a read-only root with only /tmp and the output volume writable."""
    run = ["run", "--rm", "--network", "none", "--user", "1000650000:0", "--read-only", "--tmpfs", "/tmp",
           "-v", f"{shared_dir}:/data", images.data, "yolo-kfp"]  # fmt: skip
    docker(*run, "make-sample", "--out", "/data/voc", "--images", "12", "--task", "B", "--imgsz", "64")
    docker(*run, "convert", "--source", "/data/voc", "--out", "/data/yolo")
    report = json.loads((shared_dir / "yolo" / "report.json").read_text(encoding="utf-8"))
    assert report["images"] >= 10 and (shared_dir / "yolo" / "classes.txt").is_file(), report
    assert (shared_dir / "yolo" / "classes.txt").stat().st_uid == 1000650000
