"""Multi-node training on Kubeflow Trainer v2: render a ``TrainJob`` (pure), run it, follow it, clean it up.

How a multi-node stage runs: ``components/train/README.md``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import signal
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components._shared.errors import ConfigError, YoloKfpError

if TYPE_CHECKING:
    from components.train.core import TrainConfig

log = logging.getLogger(__name__)

API_VERSION = "trainer.kubeflow.org/v1alpha1"
TRAINJOBS = "/apis/trainer.kubeflow.org/v1alpha1/namespaces/{namespace}/trainjobs"
RUNTIME = "torch-distributed"  # the ClusterTrainingRuntime Kubeflow Trainer installs for PyTorch
NODE = "node"  # the runtime's replicated job and its trainer container
MANAGER = "yolo-kfp"  # owner of our entry in spec.runtimePatches
GPU = "nvidia.com/gpu"
MINIO_SECRET = "yolo-kfp-minio"
MINIO_KEYS = ("MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "MINIO_SECURE", "MINIO_REGION")
WORKSPACE_VOLUME = "kfp-workspace"
LAUNCH = ("torchrun", "--no-python", "yolo-kfp", "train")  # torchrun reads the PET_* variables itself
LABEL_JOB = "yolo-kfp/trainjob"  # on the TrainJob and its pods: how the task finds them
LABEL_RUN = "yolo-kfp/run-id"
LABEL_STAGE = "yolo-kfp/stage"
LOG_READ_TIMEOUT = 3600.0  # seconds a followed log may stay silent
# Seconds a TrainJob may wait for its pods to start (pulling the multi-GB train image included) before
# it is deleted with the reason they are pending: a quota or a missing accelerator never resolves itself.
PENDING_TIMEOUT_S = 1200.0
_STARTED = ("Running", "Succeeded", "Failed")
SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")  # the CRD's rule for metadata.name (RFC 1035, <= 63)
_MAX_NAME = 40  # JobSet adds "-node-<i>-<j>-<suffix>" to pod names, which must stay <= 63
_NOT_GPU = ("cpu", "memory", "ephemeral-storage")


class TrainJobError(YoloKfpError):
    """The TrainJob failed, vanished, timed out, or the Kubernetes API refused a call."""


class TrainJobCancelled(YoloKfpError):
    """The task got SIGTERM (run cancelled or pod evicted) while its TrainJob ran."""


class KubeApiError(TrainJobError):
    """A Kubernetes API call answered with an error status (``status`` holds the HTTP code)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Workspace:
    """The run workspace PVC as every TrainJob node mounts it (same path as in the task's pod)."""

    claim_name: str
    mount_path: str = "/kfp-workspace"
    volume_name: str = WORKSPACE_VOLUME


@dataclass(frozen=True)
class TrainJobSpec:
    """Everything a TrainJob of the train stage is made of (pod fields: the trainer nodes').

    Attributes:
        name: TrainJob name (``trainjob_name``): lower-case RFC 1035 label, at most 40 characters.
        train_args: the arguments after ``yolo-kfp train`` (``train_argv``).
        gpus_per_node: accelerators per node; also the processes per node (1 on CPU-only nodes).
        resources: the task's whole block (TaskConfig): wins over ``cpu``/``memory``; ``gpus_per_node`` wins.
        minio_secret: the object store Secret whose keys become optional env vars ("" for none).
        tolerations: None: tolerate ``accelerator`` taints when there are GPUs.
        shm_size: size of the in-memory ``/dev/shm`` (data-loader workers and NCCL); "" for none.
    """

    name: str
    train_args: tuple[str, ...]
    image: str
    nodes: int
    gpus_per_node: int = 0
    accelerator: str = GPU
    cpu: str = "4"
    memory: str = "16Gi"
    resources: Mapping[str, Any] | None = None
    namespace: str | None = None
    workspace: Workspace | None = None
    volumes: tuple[Mapping[str, Any], ...] = ()
    volume_mounts: tuple[Mapping[str, Any], ...] = ()
    env: tuple[Mapping[str, Any], ...] = ()
    minio_secret: str = MINIO_SECRET
    tolerations: tuple[Mapping[str, Any], ...] | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    affinity: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    shm_size: str = "8Gi"
    runtime: str = RUNTIME


def train_argv(cfg: TrainConfig, dataset: Path | str, weights: str, out: Path | str) -> tuple[str, ...]:
    """The arguments of ``yolo-kfp train`` on every node: ``cfg`` as one JSON, the paths as the nodes see them."""
    return ("--config", cfg.to_json(), "--dataset", str(dataset), "--weights", weights, "--out", str(out))


def trainjob_name(run_id: str, stage: str) -> str:
    """``yolo-<stage>-<sha1(run_id)[:10]>``, <= 40 characters: a retried task finds the job it started."""
    digest = hashlib.sha1(run_id.encode("utf-8")).hexdigest()[:10]
    slug = re.sub(r"[^a-z0-9-]+", "-", stage.lower()).strip("-") or "train"
    return f"yolo-{slug[: _MAX_NAME - 16].strip('-')}-{digest}"


def label_value(value: str) -> str:
    """``value`` as a valid label value (at most 63 of ``[A-Za-z0-9_.-]``, alphanumeric at both ends)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", value)[:63].strip("-_.")


def gpus_in(resources: Mapping[str, Any], accelerator: str | None = None) -> int:
    """The accelerators a ``resources`` block asks for (``accelerator``, else any non-CPU/memory resource)."""
    counts = []
    for part in ("limits", "requests"):
        for key, value in (resources.get(part) or {}).items():
            if key == accelerator or (
                accelerator is None and key not in _NOT_GPU and not key.startswith("hugepages-")
            ):
                with contextlib.suppress(TypeError, ValueError):
                    counts.append(int(str(value)))
    return max(counts, default=0)


def _check(spec: TrainJobSpec) -> None:
    if not _NAME.fullmatch(spec.name) or len(spec.name) > _MAX_NAME:
        raise ConfigError(
            f"TrainJob name {spec.name!r}: use lower-case letters, digits and '-', starting with a letter, "
            f"at most {_MAX_NAME} characters (trainjob_name builds one)"
        )
    if spec.nodes < 1:
        raise ConfigError(f"nodes={spec.nodes}: a TrainJob needs at least 1 node")
    if spec.gpus_per_node < 0:
        raise ConfigError(f"gpus_per_node={spec.gpus_per_node}: use 0 (CPU) or more")
    if not spec.image:
        raise ConfigError("TrainJob image is empty: pass the train image (components._shared.images)")


def _resources(spec: TrainJobSpec) -> tuple[dict[str, Any], int]:
    """``resourcesPerNode`` and the processes per node."""
    if spec.resources:
        block = {k: dict(v) for k, v in spec.resources.items() if k in ("limits", "requests") and v}
        if spec.gpus_per_node:  # the launcher's own block asks for none (plan.core.launcher_gpus)
            for part in block.values():
                part.pop(spec.accelerator, None)
            block.setdefault("limits", {})[spec.accelerator] = spec.gpus_per_node
        gpus = gpus_in(block, None)
        return block, max(gpus, 1)
    requests: dict[str, Any] = {"cpu": spec.cpu, "memory": spec.memory}
    limits: dict[str, Any] = {"memory": spec.memory}
    if spec.gpus_per_node:
        limits[spec.accelerator] = spec.gpus_per_node
    return {"requests": requests, "limits": limits}, max(spec.gpus_per_node, 1)


def _env(spec: TrainJobSpec) -> list[dict[str, Any]]:
    env = [dict(e) for e in spec.env]
    names = {e["name"] for e in env}
    env += [
        {"name": k, "valueFrom": {"secretKeyRef": {"name": spec.minio_secret, "key": k, "optional": True}}}
        for k in (MINIO_KEYS if spec.minio_secret else ())
        if k not in names
    ]
    if "PYTHONUNBUFFERED" not in names:
        env.append({"name": "PYTHONUNBUFFERED", "value": "1"})  # rank 0's log reaches the task as it happens
    return env


def _volumes(spec: TrainJobSpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pod volumes and trainer volume mounts: the task's, the workspace, /dev/shm; one per name and path."""
    volumes = [dict(v) for v in spec.volumes]
    mounts = [dict(m) for m in spec.volume_mounts]
    if spec.workspace:
        ws = spec.workspace
        volumes.append({"name": ws.volume_name, "persistentVolumeClaim": {"claimName": ws.claim_name}})
        mounts.append({"name": ws.volume_name, "mountPath": ws.mount_path})
    if spec.shm_size:
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": spec.shm_size}})
        mounts.append({"name": "dshm", "mountPath": "/dev/shm"})
    return _unique(volumes, "name"), _unique(_unique(mounts, "mountPath"), "name")


def _unique(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    seen: set[Any] = set()
    out = []
    for item in items:
        if item.get(key) not in seen:
            seen.add(item.get(key))
            out.append(item)
    return out


def _pod_patch(spec: TrainJobSpec, labels: Mapping[str, str]) -> dict[str, Any]:
    """The runtime patch of the ``node`` pods: labels, volumes, mounts, scheduling."""
    volumes, mounts = _volumes(spec)
    pod: dict[str, Any] = {}
    if volumes:
        pod["volumes"] = volumes
    if mounts:
        pod["containers"] = [{"name": NODE, "volumeMounts": mounts}]
    tolerations = spec.tolerations
    if tolerations is None and (spec.gpus_per_node or spec.resources):
        tolerations = ({"key": spec.accelerator, "operator": "Exists", "effect": "NoSchedule"},)
    if tolerations:
        pod["tolerations"] = [dict(t) for t in tolerations]
    if spec.node_selector:
        pod["nodeSelector"] = dict(spec.node_selector)
    if spec.affinity:
        pod["affinity"] = dict(spec.affinity)
    # Istio's sidecar would keep finished pods running and intercept the rendezvous port.
    meta = {"labels": dict(labels), "annotations": {"sidecar.istio.io/inject": "false"}}
    job = {"name": NODE, "template": {"spec": {"template": {"metadata": meta, "spec": pod}}}}
    return {"manager": MANAGER, "trainingRuntimeSpec": {"template": {"spec": {"replicatedJobs": [job]}}}}


def render_trainjob(spec: TrainJobSpec) -> dict[str, Any]:
    """The ``TrainJob`` manifest of ``spec`` (Kubeflow Trainer v2.3.0 CRD); ConfigError if invalid."""
    _check(spec)
    resources, procs = _resources(spec)
    labels = {
        "app.kubernetes.io/part-of": "yolo-kfp",
        "app.kubernetes.io/component": "train",
        LABEL_JOB: spec.name,
        **{k: label_value(v) for k, v in spec.labels.items()},
    }
    metadata: dict[str, Any] = {"name": spec.name, "labels": labels}
    if spec.namespace:
        metadata["namespace"] = spec.namespace
    trainer = {
        "image": spec.image,
        "command": list(LAUNCH),
        "args": list(spec.train_args),
        "numNodes": spec.nodes,
        "numProcPerNode": procs,
        "resourcesPerNode": resources,
        "env": _env(spec),
    }
    return {
        "apiVersion": API_VERSION,
        "kind": "TrainJob",
        "metadata": metadata,
        "spec": {
            "runtimeRef": {
                "apiGroup": "trainer.kubeflow.org",
                "kind": "ClusterTrainingRuntime",
                "name": spec.runtime,
            },
            "trainer": trainer,
            "runtimePatches": [_pod_patch(spec, labels)],
        },
    }


# ---------------------------------------------------------------- the Kubernetes API


class KubeClient:
    """The few Kubernetes API calls a training task makes (TrainJobs, their pods and logs), over HTTPS.

    Args:
        server: API base URL (``https://10.0.0.1:443``; ``http://127.0.0.1:PORT`` for a fake).
        token_file: bearer token file, read at every call (projected tokens rotate); None: no token.
        timeout: seconds per call (log streams: per read).
    """

    def __init__(
        self,
        server: str,
        namespace: str,
        *,
        token_file: Path | None = None,
        ca_file: Path | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.server = server.rstrip("/")
        self.namespace = namespace
        self.token_file = token_file
        self.timeout = timeout
        self._ssl = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    @classmethod
    def in_cluster(cls, sa_dir: Path = SA_DIR) -> KubeClient:
        """The client of the pod this runs in (its service account); ConfigError outside such a pod."""
        host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
        if not host or not port or not (sa_dir / "token").is_file():
            raise ConfigError(
                "nodes > 1 creates a Kubeflow Trainer TrainJob and must run in a Kubernetes pod with a "
                f"service-account token ({sa_dir}); run with nodes=1 elsewhere"
            )
        host = f"[{host}]" if ":" in host else host
        namespace = (sa_dir / "namespace").read_text(encoding="utf-8").strip()
        return cls(
            f"https://{host}:{port}", namespace, token_file=sa_dir / "token", ca_file=sa_dir / "ca.crt"
        )

    def _open(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        timeout: float = 0,
    ) -> Any:
        url = self.server + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        data = json.dumps(body).encode("utf-8") if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token_file:
            req.add_header("Authorization", f"Bearer {Path(self.token_file).read_text().strip()}")
        ctx = self._ssl if url.startswith("https:") else None
        try:
            return urllib.request.urlopen(req, timeout=timeout or self.timeout, context=ctx)  # noqa: S310 - our API URL
        except urllib.error.HTTPError as err:
            raise _api_error(method, path, err) from None
        except (urllib.error.URLError, OSError) as err:
            raise TrainJobError(f"Kubernetes API {method} {path}: unreachable ({err})") from err

    def _json(self, method: str, path: str, body: Any = None, query: Mapping[str, str] | None = None) -> Any:
        with self._open(method, path, body, query) as resp:
            return json.loads(resp.read() or b"{}")

    def _jobs(self) -> str:
        return TRAINJOBS.format(namespace=self.namespace)

    def create_trainjob(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        """POST the TrainJob (in this client's namespace); 409 if one of that name exists."""
        body = {**manifest, "metadata": {**manifest["metadata"], "namespace": self.namespace}}
        return self._json("POST", self._jobs(), body)

    def get_trainjob(self, name: str) -> dict[str, Any] | None:
        """The TrainJob, or None when it does not exist."""
        try:
            return self._json("GET", f"{self._jobs()}/{name}")
        except KubeApiError as err:
            if err.status == 404:
                return None
            raise

    def delete_trainjob(self, name: str) -> bool:
        """Delete the TrainJob and (in the background) its JobSet and pods; False if it was not there."""
        try:
            self._json("DELETE", f"{self._jobs()}/{name}", {"propagationPolicy": "Background"})
        except KubeApiError as err:
            if err.status == 404:
                return False
            raise
        return True

    def get_pod(self, name: str) -> dict[str, Any]:
        """One pod of this namespace."""
        return self._json("GET", f"/api/v1/namespaces/{self.namespace}/pods/{name}")

    def list_pods(self, selector: str) -> list[dict[str, Any]]:
        """Pods of this namespace matching the label ``selector``."""
        path = f"/api/v1/namespaces/{self.namespace}/pods"
        return list(self._json("GET", path, query={"labelSelector": selector}).get("items") or [])

    def pod_log(
        self, pod: str, container: str = NODE, *, follow: bool = False, tail: int | None = None
    ) -> Iterator[str]:
        """The lines of a pod's log; ``follow`` keeps reading until the container ends."""
        query = {"container": container, "follow": "true" if follow else "false"}
        if tail is not None:
            query["tailLines"] = str(tail)
        path = f"/api/v1/namespaces/{self.namespace}/pods/{pod}/log"
        # a followed log may be silent for long (a validation pass): wait up to an hour per read
        with self._open("GET", path, query=query, timeout=LOG_READ_TIMEOUT if follow else 0) as resp:
            for raw in resp:
                yield raw.decode("utf-8", "replace").rstrip("\r\n")


def _api_error(method: str, path: str, err: urllib.error.HTTPError) -> KubeApiError:
    try:
        detail = json.loads(err.read() or b"{}").get("message") or err.reason
    except (ValueError, AttributeError):
        detail = err.reason
    hint = " (apply k8s/base/trainjob-rbac.yaml to the run namespace)" if err.code == 403 else ""
    if err.code == 404 and "trainjobs" in path and method == "POST":
        hint = " (is Kubeflow Trainer v2 installed? its TrainJob CRD is missing)"
    msg = " ".join(f"Kubernetes API {method} {path}: {err.code} {detail}{hint}".split())
    return KubeApiError(msg, err.code)


def mounted_over(path: Path, mount: str) -> bool:
    """Whether a volume mounted at ``mount`` holds ``path``."""
    return bool(mount) and (Path(path) == Path(mount) or Path(mount) in Path(path).parents)


def workspace_of_pod(client: KubeClient, pod_name: str, path: Path) -> Workspace:
    """The PVC mounted at (or above) ``path`` in this task's pod ``pod_name``; ConfigError if none."""
    if pod_name:
        spec = client.get_pod(pod_name).get("spec") or {}
        claims = {
            v["name"]: v["persistentVolumeClaim"]["claimName"]
            for v in spec.get("volumes") or []
            if v.get("persistentVolumeClaim")
        }
        for container in spec.get("containers") or []:
            for mount in container.get("volumeMounts") or []:
                where = mount.get("mountPath", "")
                if mount.get("name") in claims and mounted_over(path, where):
                    return Workspace(claims[mount["name"]], str(Path(where)), mount["name"])
    raise ConfigError(
        f"no PersistentVolumeClaim is mounted over the workspace {path} in pod {pod_name or '(unknown)'}: "
        "the TrainJob nodes could not share it (give the pipeline a dsl.WorkspaceConfig)"
    )


# ---------------------------------------------------------------- the lifecycle


def _condition(job: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind and cond.get("status") == "True":
            return cond
    return None


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While inside, SIGTERM (KFP cancelling the run, an eviction) raises ``TrainJobCancelled`` here."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: Any) -> None:
        raise TrainJobCancelled("the task got SIGTERM (run cancelled or pod evicted)")

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _RankZeroLog(threading.Thread):
    """Follows rank 0's log into the task's log once its pod has started (daemon: never blocks the exit)."""

    def __init__(self, client: KubeClient, pod: str) -> None:
        super().__init__(name=f"log-{pod}", daemon=True)
        self.client, self.pod = client, pod

    def run(self) -> None:
        with contextlib.suppress(YoloKfpError, OSError, ValueError):
            for line in self.client.pod_log(self.pod, follow=True):
                log.info("[%s] %s", self.pod, line)


def _rank_zero(pods: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    started = [p for p in pods if (p.get("status") or {}).get("phase") in _STARTED]
    return min(started, key=lambda p: p["metadata"]["name"], default=None)  # <job>-node-0-0-<suffix> first


def _log_failed_pods(client: KubeClient, pods: Sequence[Mapping[str, Any]], tail: int = 20) -> None:
    for pod in pods:
        if (pod.get("status") or {}).get("phase") == "Failed":
            name = pod["metadata"]["name"]
            with contextlib.suppress(YoloKfpError, OSError):
                for line in client.pod_log(name, tail=tail):
                    log.error("[%s] %s", name, line)


def why_pending(pods: Sequence[Mapping[str, Any]]) -> str:
    """Why no pod of a TrainJob started: the scheduler's message, or what keeps pods from existing."""
    if not pods:
        return (
            "no pod was created (a ResourceQuota that its GPUs, CPU or memory exceed? "
            "kubectl describe quota; kubectl get events)"
        )
    reasons = []
    for pod in pods:
        status = pod.get("status") or {}
        for cond in status.get("conditions") or []:
            if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
                reasons.append(
                    f"{cond.get('reason', 'Unschedulable')}: {' '.join(str(cond.get('message', '')).split())}"
                )
        for cs in status.get("containerStatuses") or []:
            waiting = (cs.get("state") or {}).get("waiting") or {}
            if waiting.get("reason"):
                reasons.append(f"{waiting['reason']}: {' '.join(str(waiting.get('message', '')).split())}")
    unique = list(dict.fromkeys(r.strip(": ") for r in reasons))
    return "; ".join(unique) if unique else "pods Pending with no scheduler message yet"


def follow_trainjob(
    client: KubeClient,
    name: str,
    *,
    poll_s: float = 10.0,
    timeout_s: float | None = None,
    pending_s: float | None = PENDING_TIMEOUT_S,
) -> dict[str, Any]:
    """Poll the TrainJob until it completes (returned), logging new conditions, pod phases and rank 0's log.

    Raises:
        TrainJobError: it failed, vanished, ran past ``timeout_s``, or no pod started within ``pending_s``.
    """
    start, seen, phases, started = time.monotonic(), set(), "", False
    streamer: _RankZeroLog | None = None
    while True:
        job = client.get_trainjob(name)
        if job is None:
            raise TrainJobError(
                f"TrainJob {client.namespace}/{name} disappeared while it ran (deleted by hand?)"
            )
        for cond in (job.get("status") or {}).get("conditions") or []:
            key = (cond.get("type"), cond.get("status"), cond.get("reason"))
            if key not in seen:
                seen.add(key)
                log.info("TrainJob %s: %s=%s %s %s", name, *key, cond.get("message", ""))
        pods = client.list_pods(f"{LABEL_JOB}={name}")
        now = ", ".join(
            sorted(f"{p['metadata']['name']}={(p.get('status') or {}).get('phase')}" for p in pods)
        )
        if now != phases:
            phases = now
            log.info("TrainJob %s pods: %s", name, now or "none yet")
        if streamer is None and (pod := _rank_zero(pods)) is not None:
            streamer = _RankZeroLog(client, pod["metadata"]["name"])
            streamer.start()
        if _condition(job, "Complete"):
            if streamer:
                streamer.join(timeout=poll_s)
            return job
        failed = _condition(job, "Failed")
        if failed:
            _log_failed_pods(client, pods)
            raise TrainJobError(
                f"TrainJob {client.namespace}/{name} failed: {failed.get('reason', '')}: "
                f"{' '.join(str(failed.get('message', '')).split())} "
                f"(rank 0's log is above; kubectl -n {client.namespace} describe trainjob {name})"
            )
        started = started or any((p.get("status") or {}).get("phase") in _STARTED for p in pods)
        waited = time.monotonic() - start
        if not started and pending_s is not None and waited > pending_s:
            raise TrainJobError(
                f"TrainJob {client.namespace}/{name}: no pod started within {pending_s:.0f} s, deleting it: "
                f"{why_pending(pods)}"
            )
        if timeout_s is not None and waited > timeout_s:
            raise TrainJobError(f"TrainJob {client.namespace}/{name} did not finish within {timeout_s:.0f} s")
        time.sleep(poll_s)


def run_trainjob(
    client: KubeClient,
    manifest: Mapping[str, Any],
    *,
    poll_s: float = 10.0,
    timeout_s: float | None = None,
    pending_s: float | None = PENDING_TIMEOUT_S,
) -> dict[str, Any]:
    """Create the TrainJob (or adopt a previous attempt's), follow it, return it; a completed one is kept.

    Raises:
        TrainJobError, TrainJobCancelled: refused, failed, vanished, timed out or SIGTERM (then deleted).
    """
    name = manifest["metadata"]["name"]
    trainer = manifest["spec"]["trainer"]
    with sigterm_raises():
        try:
            try:
                client.create_trainjob(manifest)
                log.info(
                    "TrainJob %s/%s created: %d node(s) x %d process(es), runtime %s",
                    client.namespace, name, trainer["numNodes"], trainer["numProcPerNode"],
                    manifest["spec"]["runtimeRef"]["name"],
                )  # fmt: skip
            except KubeApiError as err:
                if err.status != 409:
                    raise
                log.info("TrainJob %s/%s exists (a retried task): following it", client.namespace, name)
            return follow_trainjob(client, name, poll_s=poll_s, timeout_s=timeout_s, pending_s=pending_s)
        except BaseException:
            with contextlib.suppress(YoloKfpError, OSError):
                if client.delete_trainjob(name):
                    log.warning("TrainJob %s/%s deleted", client.namespace, name)
            raise
