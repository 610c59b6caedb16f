"""The CronJob's and the GitOps Job's `yolo-kfp submit`, and `yolo-kfp schedule`, run from the data image.

Each runs the command, arguments and literal environment of its manifest in k8s/overlays (so the test
follows the manifests), with the manifest's securityContext where it matters: a UID in group 0 and a
read-only root filesystem with /tmp writable. KFP is the delivery tests' fake API on loopback.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from container_kit import REPO, Images, docker

pytestmark = pytest.mark.container

TOKEN = "projected-sa-t0ken"  # the fake API refuses requests without it


def _container(manifest: Path) -> dict:
    """The first container of the manifest's Job or CronJob."""
    doc = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    return spec["template"]["spec"]["containers"][0]


def _run_manifest(manifest: Path, images: Images, url: str, folder: Path, env: dict[str, str]) -> str:
    """Run the manifest's command in the data image as Kubernetes would; returns its output."""
    container = _container(manifest)
    literal = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
    literal |= {"KFP_HOST": url, "KFP_NAMESPACE": "", **env}
    args = [re.sub(r"\$\((\w+)\)", lambda m: literal[m.group(1)], a) for a in container.get("args", [])]
    (folder / "token").write_text(TOKEN, encoding="utf-8")
    (folder / "token").chmod(0o644)
    token_dir = Path(literal["KF_PIPELINES_SA_TOKEN_PATH"]).parent
    run = ["run", "--rm", "--network", "host", "--user", "10001:0", "--read-only", "--tmpfs", "/tmp",
           "-v", f"{folder}:/etc/yolo-kfp:ro", "-v", f"{folder}:{token_dir}:ro"]  # fmt: skip
    for key, value in literal.items():
        run += ["-e", f"{key}={value}"]
    proc = docker(
        *run, "--entrypoint", container["command"][0], images.data, *container["command"][1:], *args
    )
    return proc.stdout + proc.stderr


def _uploaded_images(fake_kfp) -> set[str]:
    """Every image the uploaded pipeline versions run."""
    found: set[str] = set()
    for versions in fake_kfp.versions.values():
        for version in versions:
            found |= set(re.findall(r"'image': '([^']+)'", str(version["pipeline_spec"])))
    return found


def test_the_cronjob_submit_runs_from_the_data_image(images: Images, fake_kfp, shared_dir: Path) -> None:
    """It runs the scheduled overlay's `yolo-kfp submit --params ...` with its params.yaml and the
    projected token: one pipeline version named after the image tag, for this build's images, one run."""
    overlay = REPO / "k8s" / "overlays" / "scheduled"
    (shared_dir / "params.yaml").write_text((overlay / "params.yaml").read_text(encoding="utf-8"))
    fake_kfp.token = TOKEN
    _run_manifest(overlay / "cronjob.yaml", images, fake_kfp.url, shared_dir, {})
    assert [r["display_name"] for r in fake_kfp.runs.values()] and len(fake_kfp.runs) == 1
    names = [v["name"] for vs in fake_kfp.versions.values() for v in vs]
    assert images.tag in names, names
    assert _uploaded_images(fake_kfp) == {images.data, images.train}
    params = next(iter(fake_kfp.runs.values()))["runtime_config"]["parameters"]
    assert params["publish_dest"] == "s3://models/yolo-transfer" and params["min_map50_95"] == 0.2


def test_the_gitops_job_submits_its_version_once(images: Images, fake_kfp, shared_dir: Path) -> None:
    """It runs the GitOps PostSync Job twice with GIT_SHA = the image tag: one version, one run."""
    job = REPO / "k8s" / "overlays" / "gitops" / "submit-job.yaml"
    fake_kfp.token = TOKEN
    for _ in range(2):
        _run_manifest(job, images, fake_kfp.url, shared_dir, {"GIT_SHA": images.tag})
    assert len(fake_kfp.runs) == 1
    assert [v["name"] for vs in fake_kfp.versions.values() for v in vs].count(images.tag) == 1
    assert _uploaded_images(fake_kfp) == {images.data, images.train}


def test_schedule_from_the_data_image_creates_one_recurring_run(images: Images, fake_kfp) -> None:
    """It runs `yolo-kfp schedule` in the data image on a read-only root: one weekly recurring run of
    this build's pipeline version, converted to KFP's six-field cron."""
    docker("run", "--rm", "--network", "host", "--user", "10001:0", "--read-only", "--tmpfs", "/tmp",
           "-e", "HOME=/tmp", "-e", f"KFP_HOST={fake_kfp.url}", images.data,
           "yolo-kfp", "schedule", "--cron", "0 3 * * 1", "--experiment", "yolo-transfer-scheduled")  # fmt: skip
    (recurring,) = fake_kfp.recurring_runs.values()
    assert recurring["trigger"]["cron_schedule"]["cron"] == "0 0 3 * * 1"
    assert _uploaded_images(fake_kfp) == {images.data, images.train}
