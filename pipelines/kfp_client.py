"""Talk to the Kubeflow Pipelines API: connect, upload a pipeline version, start, schedule and list runs.

One code path for ``yolo-kfp submit``/``schedule``/``runs``, the scheduled CronJob and the Argo CD
PostSync Job. Everything goes through ``kfp.Client`` (kfp 2.17.0, KFP v2beta1 REST API):

- ``connect`` builds the client: host from ``--host``/``KFP_HOST`` (else kfp's own in-cluster DNS or
  kubeconfig proxy), a bearer token from ``--existing-token``/``KFP_TOKEN`` or the projected
  ServiceAccount token at ``KF_PIPELINES_SA_TOKEN_PATH`` (audience ``pipelines.kubeflow.org``). It
  probes ``/apis/v2beta1/healthz`` once with a timeout, so an unreachable host fails in seconds.
- Every API failure (unreachable host, 401/403, unknown experiment) becomes one ``SubmitError`` line.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import re
import subprocess
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import urllib3
import yaml

from components._shared.errors import ConfigError, YoloKfpError
from pipelines.config import SECRET_WORDS

PIPELINE_NAME = "yolo-transfer"
# $YOLO_KFP_PACKAGE: the data image sets it to the pipeline compiled for the image's own tag.
DEFAULT_PACKAGE = Path(
    os.environ.get("YOLO_KFP_PACKAGE") or Path(__file__).resolve().parent / "compiled" / "yolo_transfer.yaml"
)
DEFAULT_EXPERIMENT = "yolo-transfer"
DEFAULT_SCHEDULE_NAME = "yolo-transfer-retrain"
SA_TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"  # kfp.client.KF_PIPELINES_SA_TOKEN_PATH
HEALTH_TIMEOUT = (5.0, 15.0)  # (connect, read) seconds for the one health probe
_FILTER_EQ = "EQUALS"
_UNSET_TIMES = ("1970-01-01",)  # KFP reports unset timestamps as the epoch

log = logging.getLogger(__name__)


class SubmitError(YoloKfpError):
    """The KFP API could not be reached, refused the request, or answered something unusable."""


def _make_client_class() -> type:
    """``kfp.Client`` that fails fast: one health probe with a timeout instead of 5 tries 5 s apart."""
    import kfp

    class FastFailClient(kfp.Client):
        def _load_config(self, *args: Any, **kwargs: Any) -> Any:
            config = super()._load_config(*args, **kwargs)
            # Two quick connect retries; never follow redirects (a login page is an auth problem).
            config.retries = urllib3.Retry(total=2, connect=2, read=0, redirect=False, backoff_factor=0.2)
            return config

        def get_kfp_healthz(self, sleep_duration: int = 5) -> Any:
            if getattr(self, "_health", None) is None:  # the constructor may have probed already
                self._health = self._healthz_api.healthz_service_get_healthz(_request_timeout=HEALTH_TIMEOUT)
            return self._health

    return FastFailClient


@dataclass(frozen=True)
class Connection:
    """Where and as whom to talk to KFP (the token never appears in ``repr`` or logs)."""

    host: str | None
    token: str | None
    kfp_namespace: str = "kubeflow"

    def __repr__(self) -> str:
        return f"Connection(host={self.host!r}, token={'<set>' if self.token else None}, kfp_namespace={self.kfp_namespace!r})"


def resolve_connection(host: str | None, token: str | None, kfp_namespace: str = "kubeflow") -> Connection:
    """Fill host and token from the environment: flag > ``KFP_HOST``/``KFP_TOKEN`` > SA token file.

    The SA token file is ``$KF_PIPELINES_SA_TOKEN_PATH`` or kfp's default path; it is read only when it
    exists (in a pod with the projected token volume).
    """
    host = host or os.environ.get("KFP_HOST") or None
    token = token or os.environ.get("KFP_TOKEN") or None
    if not token:
        path = Path(os.environ.get("KF_PIPELINES_SA_TOKEN_PATH") or SA_TOKEN_PATH)
        if path.is_file():
            token = path.read_text(encoding="utf-8").strip() or None
            log.info("using the ServiceAccount token at %s", path)
    return Connection(host=host.rstrip("/") if host else None, token=token, kfp_namespace=kfp_namespace)


def connect(conn: Connection) -> Any:
    """Return a ``kfp.Client`` for ``conn`` after one successful health probe.

    Raises:
        SubmitError: host unreachable, credentials refused, or not a KFP API.
    """
    from kfp_server_api.exceptions import ApiException

    where = conn.host or "in-cluster/kubeconfig default"
    # urllib3 warns on every connect retry; the one error line below says it all.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    with api_errors(where), warnings.catch_warnings(), _kfp_stdout():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            client = _make_client_class()(
                host=conn.host, existing_token=conn.token, namespace=conn.kfp_namespace
            )
            health = client.get_kfp_healthz()
        except ApiException as err:
            if err.status != 404:
                raise
            raise SubmitError(
                f"{where} is not a KFP API (404 on /apis/v2beta1/healthz): pass the KFP API or UI URL "
                "(full Kubeflow: http://<gateway>/pipeline)"
            ) from err
    if conn.kfp_namespace != "kubeflow":
        # kfp.Client also takes its install-namespace argument as the default user namespace; ours is
        # passed explicitly (--namespace), so undo that to keep single-user calls namespace-free.
        client._context_setting["namespace"] = ""
    log.info(
        "connected to KFP at %s (multi-user: %s)",
        client._existing_config.host,
        getattr(health, "multi_user", None),
    )
    return client


@contextlib.contextmanager
def api_errors(where: str) -> Iterator[None]:
    """Turn kfp/kfp_server_api/urllib3 failures into one-line ``SubmitError``s naming ``where``."""
    from kfp_server_api.exceptions import ApiException

    try:
        yield
    except ApiException as err:
        raise SubmitError(_describe_api_error(err, where)) from err
    except urllib3.exceptions.HTTPError as err:
        reason = getattr(err, "reason", None) or err
        why = str(reason).rsplit(": ", 1)[-1].strip() or reason.__class__.__name__
        raise SubmitError(
            f"cannot reach the KFP API at {where} ({why}); check --host/KFP_HOST "
            "(e.g. kubectl -n kubeflow port-forward svc/ml-pipeline-ui 8080:80, then --host http://localhost:8080)"
        ) from err
    except ValueError as err:  # kfp raises ValueError for "multiple pipelines/experiments with the name"
        raise SubmitError(f"KFP at {where}: {err}") from err


def _describe_api_error(err: Any, where: str) -> str:
    status = getattr(err, "status", 0) or 0
    detail = _error_detail(getattr(err, "body", None)) or getattr(err, "reason", "") or ""
    if status == 0:
        return f"cannot reach the KFP API at {where}: {detail or 'connection failed'}"
    if status == 401:
        return (
            f"KFP API at {where} refused the credentials (401 Unauthorized): set KFP_TOKEN or --existing-token, "
            "or mount a ServiceAccount token with audience pipelines.kubeflow.org at KF_PIPELINES_SA_TOKEN_PATH"
        )
    if status == 403:
        return (
            f"KFP API at {where} forbids this (403 Forbidden: {detail}): the identity needs the "
            "yolo-kfp-submitter Role (k8s/base/submitter-rbac.yaml) in the target --namespace"
        )
    if status in (301, 302, 303, 307, 308):
        return (
            f"KFP API at {where} redirected to a login page ({status}): authenticate with KFP_TOKEN/--existing-token "
            "or use the in-cluster service http://ml-pipeline.kubeflow:8888"
        )
    return f"KFP API at {where} answered {status} {getattr(err, 'reason', '')}: {detail}".rstrip(": ")


def _error_detail(body: Any) -> str:
    if not body:
        return ""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body)
    except (TypeError, ValueError):
        return " ".join(str(body).split())[:200]
    if isinstance(data, dict):
        return " ".join(str(data.get("message") or data.get("error") or data).split())[:200]
    return " ".join(str(data).split())[:200]


@contextlib.contextmanager
def _kfp_stdout() -> Iterator[None]:
    """kfp.Client prints links on stdout; keep stdout for our JSON summary and log them instead."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            yield
    finally:
        for line in buf.getvalue().splitlines():
            if line.strip():
                log.info("kfp: %s", line.strip())


# ---- inputs: version name, parameters, package ------------------------------------------------


def resolve_version_name(explicit: str | None, package: Path = DEFAULT_PACKAGE) -> str:
    """Version name: ``explicit`` > ``$GIT_SHA`` > ``$GITHUB_SHA`` (7 chars) > ``git rev-parse --short=7 HEAD``.

    A git-derived name gets ``-dirty-<sha256 of the package>`` when the package has uncommitted changes,
    so an edited pipeline is never mistaken for the committed version of the same SHA.

    Raises:
        ConfigError: no name given and none can be derived from the environment or git.
    """
    if explicit and explicit.strip():
        return _check_version_name(explicit.strip())
    if os.environ.get("GIT_SHA", "").strip():
        return _check_version_name(os.environ["GIT_SHA"].strip())
    if os.environ.get("GITHUB_SHA", "").strip():
        return _check_version_name(os.environ["GITHUB_SHA"].strip()[:7])
    repo = Path(package).resolve().parent
    try:
        sha = _git(repo, "rev-parse", "--short=7", "HEAD")
        dirty = _git(repo, "status", "--porcelain", "--", str(Path(package).resolve()))
    except (OSError, subprocess.CalledProcessError) as err:
        raise ConfigError(
            "cannot name the pipeline version: pass --version NAME or set GIT_SHA (no git checkout here)"
        ) from err
    if dirty:
        digest = hashlib.sha256(Path(package).read_bytes()).hexdigest()[:8]
        return f"{sha}-dirty-{digest}"
    return sha


def _git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


def _check_version_name(name: str) -> str:
    if len(name) > 128 or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise ConfigError(
            f"version name {name!r} must be letters, digits, '.', '_' or '-' (at most 128 characters)"
        )
    return name


def pipeline_parameters(package: Path) -> dict[str, Any]:
    """The pipeline's input parameters (name -> spec) from a compiled KFP IR YAML.

    Raises:
        ConfigError: the file is missing or not a compiled KFP pipeline.
    """
    package = Path(package)
    if not package.is_file():
        raise ConfigError(
            f"{package}: compiled pipeline not found; run `yolo-kfp compile` or pass --package FILE"
        )
    try:
        doc = next(yaml.safe_load_all(package.read_text(encoding="utf-8")), None)
    except yaml.YAMLError as err:
        raise ConfigError(f"{package}: not valid YAML ({err.__class__.__name__})") from err
    if not isinstance(doc, dict) or "pipelineInfo" not in doc or "root" not in doc:
        raise ConfigError(
            f"{package}: not a compiled KFP pipeline (no pipelineInfo/root); run `yolo-kfp compile`"
        )
    return dict(doc["root"].get("inputDefinitions", {}).get("parameters", {}))


def load_run_parameters(path: Path | None, package: Path) -> dict[str, Any]:
    """Read a YAML/JSON parameters file: only the keys it sets, each a known pipeline parameter.

    Values are flat primitives (str, int, float, bool); a mapping is allowed only for a struct
    parameter (``node_selector``). Secret-looking names are refused: secrets come only from the
    Kubernetes Secret ``yolo-kfp-minio``.

    Raises:
        ConfigError: unreadable file, not a mapping, secret-looking or unknown key, nested value.
    """
    if path is None:
        return {}
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read parameters file ({err.__class__.__name__})") from err
    data = data or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: parameters file must be a mapping of name: value")
    known = pipeline_parameters(package)
    params: dict[str, Any] = {}
    for key, value in data.items():
        key = str(key)
        if any(word in key.lower() for word in (*SECRET_WORDS, "passwd", "credential")):
            raise ConfigError(
                f"{path}: parameter {key!r} looks like a secret; secrets come only from the Kubernetes Secret yolo-kfp-minio"
            )
        if key not in known:
            raise ConfigError(
                f"{path}: unknown pipeline parameter {key!r} (known: {', '.join(sorted(known))})"
            )
        is_struct = known[key].get("parameterType") == "STRUCT"
        if value is None or (isinstance(value, dict) and not is_struct) or isinstance(value, list):
            raise ConfigError(f"{path}: parameter {key!r} must be a string, number or boolean, got {value!r}")
        params[key] = value
    return params


# ---- pipeline, version, experiment -------------------------------------------------------------


@dataclass(frozen=True)
class PipelineVersionRef:
    """An uploaded pipeline version and whether this call created it."""

    pipeline_id: str
    version_id: str
    version_name: str
    created: bool


def _eq_filter(key: str, value: str) -> str:
    return json.dumps({"predicates": [{"operation": _FILTER_EQ, "key": key, "stringValue": value}]})


def find_pipeline_id(client: Any, name: str, namespace: str | None) -> str | None:
    """ID of the pipeline named ``name`` (namespaced when ``namespace`` is set), or ``None``."""
    resp = client.list_pipelines(filter=_eq_filter("display_name", name), namespace=namespace, page_size=100)
    matches = [p for p in resp.pipelines or [] if name in (p.display_name, p.name)]
    if len(matches) > 1:
        raise SubmitError(f"{len(matches)} pipelines are named {name!r}; delete the extra ones in the KFP UI")
    return matches[0].pipeline_id if matches else None


def find_version_id(client: Any, pipeline_id: str, version_name: str) -> str | None:
    """ID of the version named ``version_name`` of ``pipeline_id``, or ``None`` (checks every page)."""
    token = ""
    while True:
        resp = client.list_pipeline_versions(
            pipeline_id, page_token=token, page_size=100, filter=_eq_filter("display_name", version_name)
        )
        for v in resp.pipeline_versions or []:
            if version_name in (v.display_name, v.name):
                return v.pipeline_version_id
        token = resp.next_page_token or ""
        if not token:
            return None


def ensure_pipeline_version(
    client: Any,
    package: Path,
    version_name: str,
    namespace: str | None = None,
    pipeline_name: str = PIPELINE_NAME,
) -> PipelineVersionRef:
    """Upload ``package`` as version ``version_name`` of ``pipeline_name`` unless that version exists.

    Idempotent: the same version name never creates a second version. The first upload of a new
    pipeline also creates KFP's default version (named like the pipeline).
    """
    pipeline_parameters(package)  # fail early on a missing or foreign file
    with _kfp_stdout():
        pipeline_id = find_pipeline_id(client, pipeline_name, namespace)
        if pipeline_id is None:
            log.info("creating pipeline %s", pipeline_name)
            pipeline_id = client.upload_pipeline(
                str(package), pipeline_name=pipeline_name, namespace=namespace,
                description="YOLOv5 transfer learning (yolo-kfp)",
            ).pipeline_id  # fmt: skip
        version_id = find_version_id(client, pipeline_id, version_name)
        if version_id is not None:
            log.info("pipeline version %s exists (%s): not uploading again", version_name, version_id)
            return PipelineVersionRef(pipeline_id, version_id, version_name, created=False)
        log.info("uploading %s as version %s", package, version_name)
        version = client.upload_pipeline_version(str(package), version_name, pipeline_id=pipeline_id)
    return PipelineVersionRef(pipeline_id, version.pipeline_version_id, version_name, created=True)


def ensure_experiment(client: Any, name: str, namespace: str | None, create: bool = True) -> str:
    """ID of the experiment ``name`` (created when missing and ``create``).

    Raises:
        SubmitError: the experiment does not exist and ``create`` is false.
    """
    resp = client.list_experiments(
        filter=_eq_filter("display_name", name), namespace=namespace, page_size=100
    )
    matches = [e for e in resp.experiments or [] if e.display_name == name]
    if len(matches) > 1:
        raise SubmitError(
            f"{len(matches)} experiments are named {name!r}; archive the extra ones in the KFP UI"
        )
    if matches:
        return matches[0].experiment_id
    if not create:
        where = f" in namespace {namespace}" if namespace else ""
        raise SubmitError(
            f"unknown experiment {name!r}{where}; check --experiment (yolo-kfp submit creates it)"
        )
    with _kfp_stdout():
        return client.create_experiment(name, namespace=namespace).experiment_id


# ---- submit -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitResult:
    """What ``submit`` did: the version (created or reused), the experiment and the run it started."""

    pipeline_id: str
    version_id: str
    version_name: str
    version_created: bool
    experiment_id: str
    run_id: str | None
    run_name: str
    run_url: str | None
    skipped_existing_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the CLI's JSON summary."""
        return asdict(self)


def submit(
    client: Any,
    *,
    package: Path = DEFAULT_PACKAGE,
    version_name: str,
    experiment: str = DEFAULT_EXPERIMENT,
    params: Mapping[str, Any] | None = None,
    run_name: str | None = None,
    namespace: str | None = None,
    skip_if_run_exists: bool = False,
    host: str | None = None,
) -> SubmitResult:
    """Upload ``package`` as ``version_name`` (if new) and start a run of it in ``experiment``.

    Args:
        client: a connected ``kfp.Client`` (see ``connect``).
        package: compiled pipeline YAML.
        version_name: pipeline version name (the git SHA by default, see ``resolve_version_name``).
        experiment: experiment display name; created when missing.
        params: pipeline parameters (already validated, see ``load_run_parameters``).
        run_name: run display name; default ``yolo-transfer <version> <UTC time>``.
        namespace: Kubeflow profile namespace (multi-user); ``None`` for single-user KFP.
        skip_if_run_exists: start no run when the experiment already has one of this version
            (GitOps re-syncs of the same commit do not retrain).
        host: UI base URL for the run link.
    """
    where = host or "KFP"
    with api_errors(where):
        ref = ensure_pipeline_version(client, package, version_name, namespace)
        experiment_id = ensure_experiment(client, experiment, namespace)
        name = run_name or f"{PIPELINE_NAME} {version_name} {datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
        if skip_if_run_exists and _has_run_of_version(client, experiment_id, ref.version_id):
            log.info(
                "experiment %s already has a run of version %s: not starting another",
                experiment,
                version_name,
            )
            return SubmitResult(
                ref.pipeline_id,
                ref.version_id,
                version_name,
                ref.created,
                experiment_id,
                None,
                name,
                None,
                True,
            )
        with _kfp_stdout():
            run = client.run_pipeline(
                experiment_id=experiment_id, job_name=name, params=dict(params or {}),
                pipeline_id=ref.pipeline_id, version_id=ref.version_id,
            )  # fmt: skip
    url = f"{host}/#/runs/details/{run.run_id}" if host else None
    log.info("started run %s (%s) of version %s in experiment %s", run.run_id, name, version_name, experiment)
    return SubmitResult(
        ref.pipeline_id, ref.version_id, version_name, ref.created, experiment_id, run.run_id, name, url
    )


def _has_run_of_version(client: Any, experiment_id: str, version_id: str) -> bool:
    resp = client.list_runs(experiment_id=experiment_id, page_size=100, sort_by="created_at desc")
    for run in resp.runs or []:
        ref = run.pipeline_version_reference
        if (ref and ref.pipeline_version_id == version_id) or run.pipeline_version_id == version_id:
            return True
    return False


# ---- schedule -----------------------------------------------------------------------------------


def to_kfp_cron(expr: str) -> str:
    """KFP's cron has six fields, seconds first: prepend ``0`` to the usual five-field form.

    ``"0 3 * * 1"`` (Mondays 03:00) becomes ``"0 0 3 * * 1"``; six fields pass unchanged.

    Raises:
        ConfigError: not five or six fields, or characters cron does not use.
    """
    fields = expr.split()
    if len(fields) not in (5, 6):
        raise ConfigError(
            f"cron {expr!r} has {len(fields)} fields: give five (min hour day month weekday, e.g. '0 3 * * 1') "
            "or six with seconds first"
        )
    for f in fields:
        if not re.fullmatch(r"[0-9A-Za-z*/,?LW#-]+", f):
            raise ConfigError(f"cron {expr!r}: field {f!r} is not a cron field")
    return " ".join(["0", *fields] if len(fields) == 5 else fields)


@dataclass(frozen=True)
class ScheduleResult:
    """The recurring run created and the ones of the same name it replaced."""

    recurring_run_id: str
    name: str
    cron: str
    version_name: str
    version_id: str
    experiment_id: str
    replaced: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the CLI's JSON summary."""
        d = asdict(self)
        d["replaced"] = list(self.replaced)
        return d


def schedule(
    client: Any,
    *,
    cron: str,
    version_name: str,
    name: str = DEFAULT_SCHEDULE_NAME,
    package: Path = DEFAULT_PACKAGE,
    experiment: str = DEFAULT_EXPERIMENT,
    params: Mapping[str, Any] | None = None,
    namespace: str | None = None,
    host: str | None = None,
) -> ScheduleResult:
    """Create (or replace) the recurring run ``name`` of version ``version_name``.

    KFP has no update call for recurring runs: the new one is created first (max concurrency 1,
    no catch-up), then every older recurring run with the same name in the experiment is deleted,
    so a failed create never leaves the pipeline unscheduled.
    """
    kfp_cron = to_kfp_cron(cron)
    with api_errors(host or "KFP"):
        ref = ensure_pipeline_version(client, package, version_name, namespace)
        experiment_id = ensure_experiment(client, experiment, namespace)
        old = _recurring_runs_named(client, experiment_id, name)
        created = client.create_recurring_run(
            experiment_id=experiment_id, job_name=name, cron_expression=kfp_cron,
            max_concurrency=1, no_catchup=True, params=dict(params or {}),
            pipeline_id=ref.pipeline_id, version_id=ref.version_id, enabled=True,
            description=f"yolo-kfp schedule: {cron} (KFP cron {kfp_cron}), version {version_name}",
        )  # fmt: skip
        for rid in old:
            client.delete_recurring_run(rid)
            log.info("deleted the previous recurring run %s (%s)", rid, name)
    log.info(
        "recurring run %s (%s): '%s' of version %s", created.recurring_run_id, name, kfp_cron, version_name
    )
    return ScheduleResult(
        created.recurring_run_id, name, kfp_cron, version_name, ref.version_id, experiment_id, tuple(old)
    )


def _recurring_runs_named(client: Any, experiment_id: str, name: str) -> list[str]:
    ids: list[str] = []
    token = ""
    while True:
        resp = client.list_recurring_runs(
            experiment_id=experiment_id,
            page_token=token,
            page_size=100,
            filter=_eq_filter("display_name", name),
        )
        ids += [r.recurring_run_id for r in resp.recurring_runs or [] if r.display_name == name]
        token = resp.next_page_token or ""
        if not token:
            return ids


# ---- runs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    """One line of ``yolo-kfp runs``."""

    run_id: str
    name: str
    state: str
    created_at: str
    duration_s: float | None
    model: str

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for ``--json``."""
        return asdict(self)


def list_recent_runs(
    client: Any, *, limit: int = 10, experiment: str | None = None, namespace: str | None = None
) -> list[RunSummary]:
    """The last ``limit`` runs (newest first) with state, duration and published model.

    Raises:
        SubmitError: ``experiment`` names no experiment.
    """
    with api_errors("KFP"):
        experiment_id = ensure_experiment(client, experiment, namespace, create=False) if experiment else None
        resp = client.list_runs(
            experiment_id=experiment_id, namespace=namespace, page_size=limit, sort_by="created_at desc"
        )
        runs = list(resp.runs or [])[:limit]
        runs = [r if r.run_details is not None else client.get_run(r.run_id) for r in runs]
    return [_summarize(r) for r in runs]


def _summarize(run: Any) -> RunSummary:
    created = _as_datetime(run.created_at)
    finished = _as_datetime(run.finished_at)
    end = finished or (datetime.now(UTC) if created else None)
    duration = (end - created).total_seconds() if created and end else None
    return RunSummary(
        run_id=run.run_id or "",
        name=run.display_name or "",
        state=str(run.state or "UNKNOWN"),
        created_at=created.strftime("%Y-%m-%d %H:%M") if created else "-",
        duration_s=round(duration, 1) if duration is not None else None,
        model=published_model(run),
    )


def _as_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value.startswith(_UNSET_TIMES):
            return None
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.year <= 1970:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def published_model(run: Any) -> str:
    """What the run published, from the run details the KFP REST API returns.

    KFP's v2beta1 run API exposes task states and artifact ids, not output parameters (those live
    in ML Metadata), so the published version string is not available here. We report the publish
    task's outcome: ``published`` (task succeeded), ``not published`` (skipped/failed publish task),
    or ``-`` (no publish task yet: gate refused, run still going, or details unavailable). The
    version itself is on the run page in the UI and in ``s3://models/<name>/production.json``.
    """
    details = getattr(run, "run_details", None)
    for task in getattr(details, "task_details", None) or []:
        if "publish" in (task.display_name or "").lower():
            state = str(task.state or "")
            if state == "SUCCEEDED":
                return "published"
            if state in ("SKIPPED", "FAILED", "CANCELED"):
                return "not published"
            return "-"
    return "-"


def format_runs_table(runs: list[RunSummary]) -> str:
    """Fixed-width table: run id, state, started, duration, model, name."""
    header = ("RUN ID", "STATE", "CREATED (UTC)", "DURATION", "MODEL", "NAME")
    rows = [
        (r.run_id, r.state, r.created_at, _fmt_duration(r.duration_s), r.model, r.name)
        for r in runs
    ]  # fmt: skip
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header) - 1)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]
             for row in [header, *rows]]  # fmt: skip
    return "\n".join(lines)


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
