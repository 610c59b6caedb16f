"""Every kustomization renders with `kubectl kustomize` and validates with `kubernetes-validate --strict`.

The KServe InferenceService of the serving overlay is a custom resource: it is validated here against
the KServe v0.20.0 CRD's openAPIV3Schema (../shared/specs), strictly (an unknown field fails).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _crd import strict  # tests/_crd.py: unknown fields refused

from components.publish.triton import TRITON_DIR

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
KUSTOMIZATIONS = sorted(p.parent.relative_to(REPO).as_posix() for p in K8S.rglob("kustomization.yaml"))
PLACEHOLDER = "CHANGE_ME"
CREDENTIAL_KEYS = {"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"}
KSERVE_CRD = REPO.parent / "shared" / "specs" / "kserve-v0.20.0" / "serving.kserve.io_inferenceservices.yaml"
CRD_GROUPS = ("argoproj.io", "serving.kserve.io")  # kubernetes-validate only warns about these kinds


def _render(path: str) -> list[dict]:
    if not shutil.which("kubectl"):
        pytest.skip("kubectl not installed")
    proc = subprocess.run(
        ["kubectl", "kustomize", str(REPO / path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return [d for d in yaml.safe_load_all(proc.stdout) if d]


def _find(docs: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def test_every_expected_kustomization_exists():
    """It has the base, its secret templates and the kubeflow, scheduled and gitops overlays."""
    assert set(KUSTOMIZATIONS) == {
        "k8s/base",
        "k8s/base/secrets",
        "k8s/overlays/kubeflow",
        "k8s/overlays/kubeflow/secrets",
        "k8s/overlays/scheduled",
        "k8s/overlays/gitops",
        "k8s/overlays/gitops/argocd",
        "k8s/overlays/kubeflow-seaweedfs",
        "k8s/overlays/kubeflow-seaweedfs/secrets",
        "k8s/overlays/external-s3",
        "k8s/overlays/external-s3/secrets",
        "k8s/overlays/serving",
        "k8s/overlays/serving/secrets",
    }


@pytest.mark.parametrize("path", KUSTOMIZATIONS)
def test_kustomization_renders_and_validates_strictly(path: str, tmp_path: Path):
    """It renders and passes strict schema validation; CRDs (Argo CD, KServe) may only warn."""
    docs = _render(path)
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(yaml.safe_dump_all(docs))
    validate = Path(sys.executable).parent / "kubernetes-validate"
    exe = str(validate) if validate.exists() else shutil.which("kubernetes-validate")
    if not exe:
        pytest.skip("kubernetes-validate not installed")
    proc = subprocess.run(
        [exe, "--strict", "--quiet", str(rendered)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for line in proc.stdout.splitlines():
        assert line.startswith("WARN") and any(g in line for g in CRD_GROUPS), line


@pytest.mark.parametrize("path", ["k8s/base/secrets", "k8s/overlays/kubeflow/secrets"])
def test_secret_templates_hold_no_real_credential(path: str):
    """It keeps every credential a CHANGE_ME placeholder; only endpoint, TLS flag and region are set."""
    secrets = _find(_render(path), "Secret")
    assert {s["metadata"]["name"] for s in secrets} == {"yolo-kfp-minio", "yolo-kfp-minio-root"}
    for secret in secrets:
        assert "data" not in secret
        for key, value in secret["stringData"].items():
            if key in CREDENTIAL_KEYS:
                assert value == PLACEHOLDER, f"{secret['metadata']['name']}.{key}"
            else:
                assert key in {"MINIO_ENDPOINT", "MINIO_SECURE", "MINIO_REGION"}
    pipeline = _find(secrets, "Secret", "yolo-kfp-minio")[0]["stringData"]
    assert set(pipeline) == {
        "MINIO_ENDPOINT",
        "MINIO_ACCESS_KEY",
        "MINIO_SECRET_KEY",
        "MINIO_SECURE",
        "MINIO_REGION",
    }


def test_no_rendered_manifest_carries_a_secret():
    """It applies no Secret with the manifests, so a re-apply or sync never overwrites real credentials."""
    for path in KUSTOMIZATIONS:
        if not path.endswith("secrets"):
            assert not _find(_render(path), "Secret"), path


def test_kubeflow_overlay_drops_our_minio_and_points_at_kubeflows():
    """It removes our MinIO objects and aims the Secret template at minio-service.kubeflow:9000."""
    docs = _render("k8s/overlays/kubeflow")
    for kind in ("Deployment", "Service", "PersistentVolumeClaim"):
        assert not _find(docs, kind), kind
    assert not _find(docs, "NetworkPolicy", "minio-allow-pipeline")
    assert _find(docs, "Job", "minio-create-buckets")
    secret = _find(_render("k8s/overlays/kubeflow/secrets"), "Secret", "yolo-kfp-minio")[0]
    assert secret["stringData"]["MINIO_ENDPOINT"] == "minio-service.kubeflow:9000"


def test_base_runs_minio_with_buckets_job_quota_and_submitter_rbac():
    """It deploys MinIO from the root Secret, creates the three buckets and caps GPUs."""
    docs = _render("k8s/base")
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"yolo-kfp"}
    pod = _find(docs, "Deployment", "minio")[0]["spec"]["template"]["spec"]
    secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
    assert secrets == {"yolo-kfp-minio-root"}
    assert not any("valueFrom" in e for e in pod["containers"][0]["env"]), "credentials as files, not env"
    job = _find(docs, "Job", "minio-create-buckets")[0]["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "BUCKETS", "value": "datasets models runs"} in job["env"]
    assert _find(docs, "ResourceQuota")[0]["spec"]["hard"]["requests.nvidia.com/gpu"]
    role = _find(docs, "Role", "yolo-kfp-submitter")[0]
    assert {g for r in role["rules"] for g in r["apiGroups"]} == {"pipelines.kubeflow.org"}
    assert all("*" not in r["verbs"] and "*" not in r["resources"] for r in role["rules"])
    assert _find(docs, "ServiceAccount", "yolo-kfp-submitter")[0]["automountServiceAccountToken"] is False


def test_trainjob_rbac_lets_the_pipeline_runner_create_follow_and_delete_trainjobs_only():
    """It grants exactly the calls of components/train/trainjob.py: TrainJobs, their pods and logs; no more."""
    docs = _render("k8s/base")
    (role,) = _find(docs, "Role", "yolo-kfp-trainjob-runner")
    granted = {
        (g, r): set(rule["verbs"])
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    assert granted == {
        ("trainer.kubeflow.org", "trainjobs"): {"create", "get", "list", "watch", "delete"},
        ("", "pods"): {"get", "list", "watch"},
        ("", "pods/log"): {"get"},
    }
    (binding,) = _find(docs, "RoleBinding", "yolo-kfp-trainjob-runner")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert {(s["kind"], s["name"], s["namespace"]) for s in binding["subjects"]} == {
        ("ServiceAccount", "pipeline-runner", "yolo-kfp"),
        ("ServiceAccount", "default-editor", "yolo-kfp"),
    }


def test_networkpolicy_lets_only_pipeline_pods_and_the_bucket_job_reach_minio():
    """It selects the MinIO pods and admits KFP v2 task pods and the bucket Job on port 9000 only."""
    docs = _render("k8s/base")
    (policy,) = _find(docs, "NetworkPolicy", "minio-allow-pipeline")
    minio_labels = _find(docs, "Deployment", "minio")[0]["spec"]["template"]["metadata"]["labels"]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= minio_labels.items()
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 9000}]
    peers = rule["from"]
    assert peers[0]["podSelector"]["matchLabels"] == {"pipelines.kubeflow.org/v2_component": "true"}
    assert "namespaceSelector" in peers[0]
    job_labels = _find(docs, "Job", "minio-create-buckets")[0]["spec"]["template"]["metadata"]["labels"]
    assert peers[1]["podSelector"]["matchLabels"].items() <= job_labels.items()


def _submit_container(pod_spec: dict) -> dict:
    (container,) = pod_spec["containers"]
    assert container["command"] == ["yolo-kfp", "submit"]
    assert pod_spec["serviceAccountName"] == "yolo-kfp-submitter"
    assert pod_spec["automountServiceAccountToken"] is False
    (token,) = [v for v in pod_spec["volumes"] if v["name"] == "kfp-token"]
    assert token["projected"]["sources"][0]["serviceAccountToken"]["audience"] == "pipelines.kubeflow.org"
    return container


def test_scheduled_cronjob_submits_with_forbid_and_params_from_a_configmap():
    """It runs `yolo-kfp submit` on a schedule, never concurrently, with the params file mounted."""
    docs = _render("k8s/overlays/scheduled")
    (cron,) = _find(docs, "CronJob")
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert len(cron["spec"]["schedule"].split()) == 5
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = _submit_container(pod)
    args = container["args"]
    assert args[args.index("--params") + 1] == "/etc/yolo-kfp/params.yaml"
    (params_volume,) = [v for v in pod["volumes"] if v["name"] == "params"]
    (configmap,) = _find(docs, "ConfigMap", params_volume["configMap"]["name"])
    assert "params.yaml" in configmap["data"]
    params = yaml.safe_load(configmap["data"]["params.yaml"])
    assert params and not any(
        w in key.lower() for key in params for w in ("secret", "password", "access_key", "token")
    )


def test_gitops_postsync_job_submits_the_synced_git_sha():
    """It is an Argo CD PostSync hook running `yolo-kfp submit --pipeline-version <sha>` with the image's tag."""
    docs = _render("k8s/overlays/gitops")
    (job,) = _find(docs, "Job", "yolo-kfp-submit")
    annotations = job["metadata"]["annotations"]
    assert annotations["argocd.argoproj.io/hook"] == "PostSync"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "BeforeHookCreation"
    container = _submit_container(job["spec"]["template"]["spec"])
    args = container["args"]
    assert args[args.index("--pipeline-version") + 1] == "$(GIT_SHA)"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["GIT_SHA"] == container["image"].rsplit(":", 1)[1]
    buckets = _find(docs, "Job", "minio-create-buckets")[0]
    assert buckets["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "Sync"


def test_argocd_application_syncs_the_gitops_overlay():
    """It points Argo CD at k8s/overlays/gitops with automated sync."""
    (app,) = _find(_render("k8s/overlays/gitops/argocd"), "Application")
    assert app["metadata"]["namespace"] == "argocd"
    assert app["spec"]["source"]["path"] == "k8s/overlays/gitops"
    assert app["spec"]["destination"]["namespace"] == "yolo-kfp"
    assert app["spec"]["syncPolicy"]["automated"]["prune"] is True


def test_scheduled_params_file_is_accepted_by_submit():
    """It holds only known, non-secret pipeline parameters (what the CronJob's submit will check)."""
    from pipelines.client.submit import DEFAULT_PACKAGE, load_run_parameters

    if not DEFAULT_PACKAGE.is_file():
        pytest.skip("pipelines/compiled/yolo_transfer.yaml not compiled yet")
    params = load_run_parameters(K8S / "overlays" / "scheduled" / "params.yaml", DEFAULT_PACKAGE)
    assert params["source"].startswith("s3://")


# ---------------------------------------------------------------- object store per Kubeflow release


def test_seaweedfs_overlay_points_at_kfps_seaweedfs_s3_port():
    """It drops our MinIO, keeps the bucket Job, aims at seaweedfs.kubeflow:8333 and opens that port to us."""
    docs = _render("k8s/overlays/kubeflow-seaweedfs")
    assert not _find(docs, "Deployment") and not _find(docs, "PersistentVolumeClaim")
    assert _find(docs, "Job", "minio-create-buckets")
    (policy,) = _find(docs, "NetworkPolicy", "seaweedfs-allow-yolo-kfp")
    assert policy["metadata"]["namespace"] == "kubeflow"
    assert policy["spec"]["podSelector"]["matchLabels"] == {"app": "seaweedfs"}
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"protocol": "TCP", "port": 8333}]
    assert rule["from"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "yolo-kfp"}
    secret = _find(_render("k8s/overlays/kubeflow-seaweedfs/secrets"), "Secret", "yolo-kfp-minio")[0]
    assert secret["stringData"]["MINIO_ENDPOINT"] == "seaweedfs.kubeflow:8333"


def test_external_s3_overlay_runs_no_store_and_creates_no_bucket():
    """It leaves the store to its owner: no MinIO, no bucket Job, only the pipeline's Secret template (TLS on)."""
    docs = _render("k8s/overlays/external-s3")
    for kind in ("Deployment", "Service", "PersistentVolumeClaim", "NetworkPolicy", "Job", "ConfigMap"):
        assert not _find(docs, kind), kind
    assert _find(docs, "ServiceAccount", "yolo-kfp-submitter") and _find(docs, "ResourceQuota")
    (secret,) = _find(_render("k8s/overlays/external-s3/secrets"), "Secret")
    assert secret["metadata"]["name"] == "yolo-kfp-minio"
    data = secret["stringData"]
    assert data["MINIO_SECURE"] == "true" and data["MINIO_ENDPOINT"].endswith("amazonaws.com")
    assert data["MINIO_ACCESS_KEY"] == data["MINIO_SECRET_KEY"] == PLACEHOLDER


# ---------------------------------------------------------------- serving


@pytest.fixture(scope="module")
def isvc_validator():
    """A jsonschema validator of KServe v0.20.0's InferenceService v1beta1, unknown fields refused."""
    jsonschema = pytest.importorskip("jsonschema")
    if not KSERVE_CRD.is_file():
        pytest.skip(f"{KSERVE_CRD} not present (../shared/specs)")
    crd = yaml.safe_load(KSERVE_CRD.read_text(encoding="utf-8"))
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1beta1"]
    schema = strict(version["schema"]["openAPIV3Schema"])
    return jsonschema.Draft7Validator(schema)


def _isvc() -> dict:
    (isvc,) = _find(_render("k8s/overlays/serving"), "InferenceService")
    return isvc


def test_serving_inferenceservice_is_valid_against_the_kserve_crd_strictly(isvc_validator):
    """It passes the KServe v0.20.0 schema with every unlisted field refused."""
    isvc = _isvc()
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in isvc_validator.iter_errors(isvc)]
    assert not errors, errors


@pytest.mark.parametrize(
    ("path", "wrong"),
    [(("spec", "predictor", "model"), "protocolVerison"), (("spec", "predictor"), "serviceAcountName")],
)
def test_a_misspelt_inferenceservice_field_fails_validation(
    isvc_validator, path: tuple[str, ...], wrong: str
):
    """It rejects an unknown (misspelt) field: the strict check would catch a typo before a cluster does."""
    isvc = _isvc()
    node = isvc
    for key in path:
        node = node[key]
    node[wrong] = node.pop(next(k for k in node if k.lower()[:8] == wrong.lower()[:8]))
    messages = [e.message for e in isvc_validator.iter_errors(isvc)]
    assert any(wrong in m and "Additional properties" in m for m in messages), messages


def test_serving_serves_the_production_triton_repository_over_v2():
    """It serves model format onnx on Triton with protocol v2 from <publish_dest>/triton, as our SA."""
    isvc = _isvc()
    predictor = isvc["spec"]["predictor"]
    model = predictor["model"]
    assert model["modelFormat"] == {"name": "onnx"}
    assert model["protocolVersion"] == "v2" and model["runtime"] == "kserve-tritonserver"
    params = yaml.safe_load((K8S / "overlays" / "scheduled" / "params.yaml").read_text())
    assert model["storageUri"] == f"{params['publish_dest'].rstrip('/')}/{TRITON_DIR}"
    docs = _render("k8s/overlays/serving")
    (sa,) = _find(docs, "ServiceAccount", predictor["serviceAccountName"])
    assert sa["secrets"] == [{"name": "yolo-kfp-serving-s3"}]
    assert not _find(docs, "Secret")
    (policy,) = _find(docs, "NetworkPolicy")
    labels = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert labels == {"serving.kserve.io/inferenceservice": isvc["metadata"]["name"]}


def test_the_rollout_patch_targets_the_served_inferenceservice_and_validates(isvc_validator):
    """It names the overlay's InferenceService and namespace, and the patched resource (a new predictor pod
    template: KServe starts pods that load the new production version) still passes the CRD strictly."""
    from components._shared.serving import SERVING_ISVC, SERVING_NAMESPACE, rollout_command, rollout_patch

    isvc = _isvc()
    assert (isvc["metadata"]["name"], isvc["metadata"]["namespace"]) == (SERVING_ISVC, SERVING_NAMESPACE)
    patch = rollout_patch("20250101T000000Z-abc")
    isvc["spec"]["predictor"].setdefault("annotations", {}).update(patch["spec"]["predictor"]["annotations"])
    assert not [e.message for e in isvc_validator.iter_errors(isvc)]
    assert f"-n {SERVING_NAMESPACE} patch inferenceservice {SERVING_ISVC}" in rollout_command("v")


def test_serving_secret_template_has_kserve_s3_annotations_and_no_credential():
    """It annotates the endpoint the KServe way and keeps both keys CHANGE_ME."""
    (secret,) = _find(_render("k8s/overlays/serving/secrets"), "Secret", "yolo-kfp-serving-s3")
    annotations = secret["metadata"]["annotations"]
    assert annotations["serving.kserve.io/s3-endpoint"] == "minio.yolo-kfp.svc.cluster.local:9000"
    assert annotations["serving.kserve.io/s3-usehttps"] == "0"
    assert {"serving.kserve.io/s3-region", "serving.kserve.io/s3-useanoncredential"} <= set(annotations)
    assert secret["stringData"] == {"AWS_ACCESS_KEY_ID": PLACEHOLDER, "AWS_SECRET_ACCESS_KEY": PLACEHOLDER}
