"""What a security reviewer runs comes back clean: zizmor on the workflows, checkov on every rendered
kustomization and on docker/, plus the hardening those scanners look for, asserted directly.

The scanners live in their own venv (.venv-scan, `make scan-install`, pins in requirements-scan.txt);
`make test` creates it, so CI always runs them. Without it, only the scanner runs are skipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCAN_BIN = REPO / ".venv-scan" / "bin"
KUSTOMIZATIONS = sorted(
    p.parent.relative_to(REPO).as_posix() for p in (REPO / "k8s").rglob("kustomization.yaml")
)
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod"}
FULL_SHA_USES = re.compile(r"^\s*(?:-\s+)?uses:\s+[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*\s*$")


def _scanner(name: str) -> str:
    exe = SCAN_BIN / name
    if not exe.exists():
        pytest.skip(f"{exe} missing: run `make scan-install` (make test always does)")
    return str(exe)


def _render_all(out_dir: Path | None = None) -> dict[str, list[dict]]:
    if not shutil.which("kubectl"):
        pytest.skip("kubectl not installed")
    rendered = {}
    for path in KUSTOMIZATIONS:
        proc = subprocess.run(
            ["kubectl", "kustomize", str(REPO / path)], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        if out_dir is not None:
            (out_dir / f"{path.replace('/', '_')}.yaml").write_text(proc.stdout)
        rendered[path] = [d for d in yaml.safe_load_all(proc.stdout) if d]
    return rendered


def _pod(doc: dict) -> tuple[dict, dict]:
    """The pod template's metadata and spec of a workload."""
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template = spec if doc["kind"] == "Pod" else spec["template"]
    return template.get("metadata", {}), template["spec"]


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    return _render_all()


# ---------------------------------------------------------------- scanners


def test_zizmor_finds_nothing_in_the_workflows():
    """It runs zizmor offline on .github/workflows and gets no finding at any severity."""
    proc = subprocess.run(
        [_scanner("zizmor"), "--offline", "--no-progress", str(REPO / ".github" / "workflows")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No findings to report" in proc.stdout, proc.stdout


def _checkov(framework: str, directory: Path) -> str:
    proc = subprocess.run(
        [_scanner("checkov"), "--framework", framework, "-d", str(directory)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,  # reads .checkov.yaml (offline, compact)
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "Failed checks: 0" in proc.stdout, proc.stdout[-6000:]
    return proc.stdout


def test_checkov_passes_every_rendered_kustomization(tmp_path: Path):
    """It renders all kustomizations (secrets/ ones included) and checkov reports 0 failed."""
    _scanner("checkov")
    _render_all(tmp_path)
    out = _checkov("kubernetes", tmp_path)
    assert re.search(r"Passed checks: [1-9]\d*", out), out


def test_checkov_passes_the_dockerfiles():
    """It runs checkov's Dockerfile checks on docker/ and gets 0 failed."""
    _checkov("dockerfile", REPO / "docker")


def test_scanners_are_pinned_to_exact_versions():
    """It pins every scanner with == in requirements-scan.txt, so a scanner upgrade is a reviewed change."""
    lines = [
        ln.strip()
        for ln in (REPO / "requirements-scan.txt").read_text().splitlines()
        if ln.strip() and not ln.startswith("#")
    ]
    assert {ln.split("==")[0] for ln in lines} == {"zizmor", "checkov"}
    assert all(re.fullmatch(r"[\w-]+==\d+(\.\d+)+", ln) for ln in lines), lines


# ---------------------------------------------------------------- workflows


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_pins_actions_by_commit_and_holds_no_credentials(workflow: Path):
    """It pins every action to a 40-hex commit (version in a comment), checks out without persisted
    credentials and grants no permission at the top level."""
    text = workflow.read_text()
    uses = [ln for ln in text.splitlines() if re.match(r"^\s*(-\s+)?uses:", ln)]
    assert uses and all(FULL_SHA_USES.match(ln) for ln in uses), [
        ln for ln in uses if not FULL_SHA_USES.match(ln)
    ]
    doc = yaml.safe_load(text)
    assert doc["permissions"] == {}
    for name, job in doc["jobs"].items():
        assert "permissions" in job, f"job {name} must state its permissions"
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name


# ---------------------------------------------------------------- what the scanners look for


def test_every_pod_runs_hardened(rendered: dict[str, list[dict]]):
    """It runs each pod the project starts as a high non-root UID with a read-only root filesystem, no
    privilege escalation, no capability, RuntimeDefault seccomp, no API token, limits and a pinned image."""
    seen = 0
    for path, docs in rendered.items():
        for doc in (d for d in docs if d["kind"] in POD_KINDS):
            seen += 1
            where = f"{path}: {doc['kind']}/{doc['metadata']['name']}"
            _, pod = _pod(doc)
            ctx = pod["securityContext"]
            assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] >= 10000, where
            assert ctx["seccompProfile"]["type"] == "RuntimeDefault", where
            assert pod["automountServiceAccountToken"] is False, where
            for c in pod["containers"]:
                sc = c["securityContext"]
                assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True, where
                assert sc["capabilities"]["drop"] == ["ALL"], where
                assert set(c["resources"]["requests"]) >= {"cpu", "memory"}, where
                assert set(c["resources"]["limits"]) >= {"cpu", "memory"}, where
                assert c["imagePullPolicy"] == "Always", where
                assert ":" in c["image"] and not c["image"].endswith(":latest"), where
                assert not any("secretKeyRef" in e.get("valueFrom", {}) for e in c.get("env", [])), where
    assert seen >= 4


def test_third_party_images_run_by_digest(rendered: dict[str, list[dict]]):
    """It runs MinIO and mc by tag and digest, both set once in k8s/base/kustomization.yaml."""
    images = {
        c["image"]
        for doc in rendered["k8s/base"]
        if doc["kind"] in POD_KINDS
        for c in _pod(doc)[1]["containers"]
    }
    assert images and all(
        re.fullmatch(r"quay\.io/minio/\w+:RELEASE[\w.-]+@sha256:[0-9a-f]{64}", i) for i in images
    )


def _selects(policy: dict, namespace: str, labels: dict) -> bool:
    match = policy["spec"]["podSelector"].get("matchLabels", {})
    return policy["metadata"].get("namespace") == namespace and match.items() <= labels.items()


def test_every_pod_has_a_network_policy(rendered: dict[str, list[dict]]):
    """It selects every pod the project starts (MinIO, bucket Job, CronJob, PostSync Job) with a NetworkPolicy."""
    for path, docs in rendered.items():
        policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
        for doc in (d for d in docs if d["kind"] in POD_KINDS):
            meta, _ = _pod(doc)
            namespace = doc["metadata"]["namespace"]
            assert any(_selects(p, namespace, meta.get("labels", {})) for p in policies), (
                f"{path}: {doc['kind']}/{doc['metadata']['name']} has no NetworkPolicy"
            )


def test_every_checkov_skip_carries_a_reason():
    """It writes each inline checkov skip as ID=reason (manifests) or ID: reason (Dockerfiles), and the docs
    list every skipped ID."""
    docs = (REPO / "docs" / "kubeflow.md").read_text()
    skips = []
    for f in [*(REPO / "k8s").rglob("*.yaml"), *(REPO / "docker").glob("*.Dockerfile")]:
        text = f.read_text()
        skips += re.findall(r"checkov\.io/skip\d+:\s*>-?\s*\n\s*(CKV\w+)=(\S.{20,})", text)
        skips += re.findall(r"checkov:skip=(CKV\w+):\s*(\S.{20,})", text)
    assert skips
    for check_id, _reason in skips:
        assert check_id in docs, f"{check_id} is skipped but not listed in docs/kubeflow.md"
