"""Connect to the KFP API: host and token, a bounded health probe and calls, one-line errors."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import urllib3

from components._shared.errors import ConfigError, YoloKfpError
from components._shared.redact import has_userinfo, redact
from components._shared.storage.limits import env_seconds

if TYPE_CHECKING:
    import kfp

SA_TOKEN_PATH = "/var/run/secrets/kubeflow/pipelines/token"  # kfp.client.KF_PIPELINES_SA_TOKEN_PATH
HEALTH_PATH = "/apis/v2beta1/healthz"
HEALTH_TIMEOUT_S = 10.0  # the one health probe: connect, and then each read
# total time of one API call (connect, send, the whole answer), kfp's own retries included
CALL_LIMIT_S = 30.0
ENV_CALL_LIMIT = "YOLO_KFP_KFP_CALL_LIMIT"
IN_CLUSTER_HOST = "http://ml-pipeline.{namespace}.svc.cluster.local:8888"
KUBECONFIG_DEFAULT = "in-cluster/kubeconfig default"
HOST_EXAMPLE = "e.g. --host http://localhost:8080 or http://ml-pipeline.kubeflow:8888"
PORT_FORWARD_HINT = (
    "check --host/KFP_HOST (e.g. kubectl -n kubeflow port-forward svc/ml-pipeline-ui 8080:80, "
    "then --host http://localhost:8080)"
)

log = logging.getLogger(__name__)


T = TypeVar("T")


class KfpApiError(YoloKfpError):
    """The KFP API could not be reached, refused the request, or answered something unusable."""


class KfpTimeout(KfpApiError):
    """A call to the KFP API did not finish within its total-time limit."""


def call_limit_s() -> float:
    """The total-time limit of one KFP API call: ``$YOLO_KFP_KFP_CALL_LIMIT`` seconds, else ``CALL_LIMIT_S``."""
    return env_seconds(os.environ, ENV_CALL_LIMIT, CALL_LIMIT_S)


def within_limit(call: Callable[[], T], *, limit_s: float, where: str, what: str) -> T:
    """``call()``'s result, or ``KfpTimeout`` once ``limit_s`` seconds have passed in total.

    The call runs in a daemon thread, so the wait is bounded whatever the socket does (then it is abandoned).
    """
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as err:  # noqa: BLE001 - handed to the waiting thread, raised there
            outcome["error"] = err

    worker = threading.Thread(target=run, name=f"kfp-{what}", daemon=True)
    worker.start()
    worker.join(limit_s)
    if worker.is_alive():
        raise KfpTimeout(
            f"KFP API at {where}: {what} did not finish within {limit_s:g}s (a total-time limit: the host "
            f"is too slow or trickling its answer); check the host, or allow longer with {ENV_CALL_LIMIT}=SECONDS"
        )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class BoundedClient:
    """A ``kfp.Client`` wrapper (public attributes only) whose every call ends within ``api_limit_s``."""

    def __init__(self, kfp_client: kfp.Client, api_where: str, api_limit_s: float) -> None:
        self.kfp_client, self.api_where, self.api_limit_s = kfp_client, api_where, api_limit_s

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.kfp_client, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def bounded(*args: Any, **kwargs: Any) -> Any:
            call = functools.partial(attr, *args, **kwargs)
            return within_limit(call, limit_s=self.api_limit_s, where=self.api_where, what=name)

        return bounded


@dataclass(frozen=True)
class Connection:
    """Where and as whom to talk to KFP (the token never appears in ``repr`` or logs)."""

    host: str | None
    token: str | None
    kfp_namespace: str = "kubeflow"

    def __repr__(self) -> str:
        token = "<set>" if self.token else None
        return f"Connection(host={self.host!r}, token={token}, kfp_namespace={self.kfp_namespace!r})"


def resolve_connection(host: str | None, token: str | None, kfp_namespace: str = "kubeflow") -> Connection:
    """Fill host and token: flag > ``KFP_HOST``/``KFP_TOKEN`` > SA token file; a bare host gets ``https://``."""
    host = host or os.environ.get("KFP_HOST") or None
    token = token or os.environ.get("KFP_TOKEN") or None
    if not token:
        path = Path(os.environ.get("KF_PIPELINES_SA_TOKEN_PATH") or SA_TOKEN_PATH)
        if path.is_file():
            token = path.read_text(encoding="utf-8").strip() or None
            log.info("using the ServiceAccount token at %s", path)
    if host and not host.startswith(("http://", "https://")):
        host = f"https://{host}"
    return Connection(
        host=check_host(host).rstrip("/") if host else None, token=token, kfp_namespace=kfp_namespace
    )


def check_host(host: str) -> str:
    """``host`` when it is an ``http(s)://`` URL with a host name, a valid port and no credentials (ConfigError)."""
    if has_userinfo(host):
        raise ConfigError(
            f"--host/KFP_HOST {redact(host)!r} carries credentials: pass the host alone and the token "
            "in KFP_TOKEN (or --existing-token)"
        )
    try:
        parts = urllib.parse.urlsplit(host)
        parts.port  # noqa: B018 - parsing the port is the check (ValueError when out of range)
    except ValueError as err:
        raise ConfigError(f"--host/KFP_HOST {host!r} is not a URL ({err}); {HOST_EXAMPLE}") from None
    if not parts.hostname or any(c.isspace() or ord(c) < 32 for c in host):
        raise ConfigError(f"--host/KFP_HOST {host!r} is not a URL (no host name, or a space); {HOST_EXAMPLE}")
    return host


def connect(conn: Connection) -> kfp.Client:
    """A ``kfp.Client`` for ``conn`` once the API has answered a health probe; KfpApiError otherwise."""
    return connect_with_health(conn)[0]


def connect_with_health(conn: Connection) -> tuple[kfp.Client, dict[str, Any]]:
    """``connect``, also returning the health answer (``tag_name`` = the backend's release, when known)."""
    import kfp

    host = conn.host or _in_cluster_host(conn.kfp_namespace)
    where = host or KUBECONFIG_DEFAULT
    limit_s = call_limit_s()
    health = probe_health(host, conn.token, where, limit_s=limit_s) if host else None
    # urllib3 warns on every connect retry; the one error line from api_errors says it all.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    with api_errors(where), warnings.catch_warnings(), kfp_output_to_log():
        warnings.simplefilter("ignore", FutureWarning)  # "only works with KFP v2.0.0-beta.2 and later"
        if host:
            # kfp.Client's namespace argument places the default host and is also taken as the default
            # user namespace; with a host it is not needed, and --namespace is passed per call.
            make = functools.partial(kfp.Client, host=host, existing_token=conn.token)
        else:
            # Outside a pod without a host only kfp knows the kubeconfig proxy; it probes health itself
            # (up to 5 tries on HTTP errors) and takes a --kfp-namespace other than kubeflow as the
            # default user namespace too.
            make = functools.partial(kfp.Client, existing_token=conn.token, namespace=conn.kfp_namespace)
        # kfp.Client probes health while it is built: that wait is bounded like every later call.
        client = BoundedClient(
            within_limit(make, limit_s=limit_s, where=where, what="connect"), where, limit_s
        )
        if not host:
            health = client.get_kfp_healthz().to_dict()
    health = dict(health or {})
    log.info(
        "connected to KFP %s at %s (multi-user: %s)",
        health.get("tag_name", "?"),
        where,
        health.get("multi_user"),
    )
    return client, health  # type: ignore[return-value]  # a BoundedClient answers as a kfp.Client


def _in_cluster_host(kfp_namespace: str) -> str | None:
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return IN_CLUSTER_HOST.format(namespace=kfp_namespace)
    return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect from the API is a login page: report it instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def probe_health(
    host: str, token: str | None, where: str, *, limit_s: float = CALL_LIMIT_S
) -> dict[str, Any]:
    """GET ``<host>/apis/v2beta1/healthz`` once (no proxy, no redirects) within ``limit_s``; else one KfpApiError."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(host.rstrip("/") + HEALTH_PATH, headers=headers)
    # kfp's own HTTP client ignores HTTP(S)_PROXY, so the probe does too.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())

    def fetch() -> bytes:
        with opener.open(request, timeout=HEALTH_TIMEOUT_S) as response:
            return bytes(response.read())

    try:
        body = within_limit(fetch, limit_s=limit_s, where=where, what="health probe")
    except urllib.error.HTTPError as err:
        if err.code == 404:
            raise KfpApiError(
                f"{where} is not a KFP API (404 on {HEALTH_PATH}): pass the KFP API or UI URL "
                "(full Kubeflow: http://<gateway>/pipeline)"
            ) from err
        raise KfpApiError(describe_api_error(err.code, err.reason, err.read(), where)) from err
    except OSError as err:  # URLError, refused, reset, DNS, TLS, timeout
        raise KfpApiError(_unreachable(where, getattr(err, "reason", None) or err)) from err
    try:
        data = json.loads(body or b"{}")
    except ValueError as err:
        raise KfpApiError(
            f"{where} answered {HEALTH_PATH} with something that is not JSON: {PORT_FORWARD_HINT}"
        ) from err
    return data if isinstance(data, dict) else {}


@contextlib.contextmanager
def api_errors(where: str) -> Iterator[None]:
    """Turn kfp/kfp_server_api/urllib3 failures into one-line ``KfpApiError``s naming ``where``."""
    from kfp_server_api.exceptions import ApiException

    try:
        yield
    except ApiException as err:
        status = getattr(err, "status", 0) or 0
        raise KfpApiError(describe_api_error(status, err.reason, getattr(err, "body", None), where)) from err
    except (urllib3.exceptions.HTTPError, TimeoutError) as err:  # TimeoutError: kfp's health retries
        raise KfpApiError(_unreachable(where, getattr(err, "reason", None) or err)) from err
    except ValueError as err:  # kfp raises ValueError for "multiple pipelines/experiments with the name"
        raise KfpApiError(f"KFP at {where}: {err}") from err


def _unreachable(where: str, reason: object) -> str:
    why = str(reason).rsplit(": ", 1)[-1].strip() or reason.__class__.__name__
    return f"cannot reach the KFP API at {where} ({why}); {PORT_FORWARD_HINT}"


def describe_api_error(status: int, reason: Any, body: Any, where: str) -> str:
    """One line for an HTTP error from the KFP API: what happened and what to do about it."""
    detail = _error_detail(body) or reason or ""
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
    return f"KFP API at {where} answered {status} {reason or ''}: {detail}".rstrip(": ")


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
def kfp_output_to_log() -> Iterator[None]:
    """kfp.Client prints links on stdout; keep stdout for our JSON summary and log them instead."""
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            yield
    finally:
        for line in buf.getvalue().splitlines():
            if line.strip():
                log.info("kfp: %s", line.strip())
