"""Submit the pipeline: pick the package for the images, name the version, upload if new, start a run.

The package: ``--package``/``$YOLO_KFP_PACKAGE`` when given (its images must be the ones asked for), else
the pipeline compiled on the fly for ``--image-registry``/``--image-tag`` (``$IMAGE_REGISTRY``,
``$IMAGE_TAG``), else the committed YAML. No image may be ``:latest``. The version is named after the
image tag.

Idempotent: a version name that exists is not uploaded again when its pipeline spec is the same, so a
second submit of the same tag only starts a run; a different spec under an existing name is refused
(KFP versions are immutable: use a new tag). The experiment is created when missing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from components._shared import images
from components._shared.errors import ConfigError
from pipelines.client.connect import KfpApiError, api_errors, kfp_output_to_log
from pipelines.compile import COMPILED, check_package_images, compile_pipeline
from pipelines.config import PIPELINE_NAME, check_not_secret, load_params, read_params_file

if TYPE_CHECKING:
    import kfp

# $YOLO_KFP_PACKAGE: the data image sets it to the pipeline compiled for the image's own tag.
DEFAULT_PACKAGE = Path(os.environ.get("YOLO_KFP_PACKAGE") or COMPILED)
DEFAULT_EXPERIMENT = "yolo-transfer"

log = logging.getLogger(__name__)


class VersionConflict(ConfigError):
    """A pipeline version of that name exists with another pipeline spec (KFP versions are immutable)."""


@dataclass(frozen=True)
class Package:
    """The compiled pipeline to upload and the images it runs.

    Attributes:
        path: the compiled pipeline YAML.
        images: the images asked for (every task runs one of them); ``None`` when none were asked for.
        compiled: whether it was compiled for this submit (a temporary file).
    """

    path: Path
    images: images.ImageSet | None
    compiled: bool = False


def prepare_package(package: Path | None, registry: str | None, tag: str | None, workdir: Path) -> Package:
    """The package to upload for the images asked for (flags, else ``$IMAGE_REGISTRY``/``$IMAGE_TAG``).

    - ``package`` (or ``$YOLO_KFP_PACKAGE``) given: used as is; with images asked for, each of its tasks
      must run one of them.
    - none given, images asked for: the pipeline is compiled for them into ``workdir``.
    - neither: the committed ``pipelines/compiled/yolo_transfer.yaml``.

    Raises:
        ConfigError: ``latest``, a package whose images differ from the ones asked for, a missing or
            foreign package.
        CompileError: compiling failed.
    """
    env_package = os.environ.get("YOLO_KFP_PACKAGE", "").strip()
    given = Path(package) if package else (Path(env_package) if env_package else None)
    wanted = images.resolve(registry, tag) if images.requested(registry, tag) else None
    if given is not None:
        pipeline_parameters(given)  # missing or foreign file: the usual message first
        check_package_images(given, wanted)
        return Package(given, wanted)
    if wanted is not None:
        out = compile_pipeline(Path(workdir) / "yolo_transfer.yaml", registry=wanted.registry, tag=wanted.tag)
        return Package(out, wanted, compiled=True)
    pipeline_parameters(COMPILED)
    check_package_images(COMPILED, None)
    return Package(COMPILED, None)


def resolve_version_name(
    explicit: str | None, package: Path = DEFAULT_PACKAGE, image_tag: str | None = None
) -> str:
    """Version name: the image tag asked for, else ``explicit`` > ``$GIT_SHA`` > ``$GITHUB_SHA`` (7 chars)
    > ``git rev-parse --short=7 HEAD``.

    With ``image_tag`` the version is named after it, and an ``explicit`` name must be the same. A
    git-derived name gets ``-dirty-<sha256 of the package>`` when the package has uncommitted changes, so
    an edited pipeline is never mistaken for the committed version of the same SHA.

    Raises:
        ConfigError: ``explicit`` differs from ``image_tag``, or no name given and none can be derived.
    """
    if image_tag:
        if explicit and explicit.strip() and explicit.strip() != image_tag:
            raise ConfigError(
                f"--pipeline-version {explicit.strip()!r} differs from the image tag {image_tag!r}: the pipeline "
                "version is named after the images it runs; drop --pipeline-version or pass the same tag"
            )
        return _check_version_name(image_tag)
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
            "cannot name the pipeline version: pass --pipeline-version NAME or set GIT_SHA (no git checkout here)"
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
    """The parameters a run is started with: the ones ``path`` sets, each declared by ``package``.

    ``pipelines.config`` reads the file and checks it (``read_params_file``, ``check_not_secret``,
    ``load_params``: a mapping of known, non-secret names with values of the parameter's type;
    secrets come only from the Kubernetes Secret yolo-kfp-minio). What is specific to a run: only the
    names the file sets are sent (the package's defaults stand for the rest), each must be declared by
    the compiled package, and each value is a flat primitive (a mapping only for a struct parameter
    such as ``node_selector``).

    Raises:
        ConfigError: what ``load_params`` refuses, a nested value, a name the package does not declare.
    """
    if path is None:
        return {}
    data = read_params_file(path)
    declared = pipeline_parameters(package)
    for key, value in data.items():
        check_not_secret(str(key), f"{path}: parameter")  # before any message that shows the value
        is_struct = declared.get(key, {}).get("parameterType") == "STRUCT"
        if value is None or (isinstance(value, dict) and not is_struct) or isinstance(value, list):
            raise ConfigError(f"{path}: parameter {key!r} must be a string, number or boolean, got {value!r}")
    resolved = load_params(path).to_dict()
    for key in data:
        if key not in declared:
            raise ConfigError(
                f"{path}: parameter {key!r} is not declared by {package} "
                f"(declared: {', '.join(sorted(declared))}); recompile with `yolo-kfp compile`"
            )
    return {key: resolved[key] for key in data}


@dataclass(frozen=True)
class PipelineVersionRef:
    """An uploaded pipeline version and whether this call created it."""

    pipeline_id: str
    version_id: str
    version_name: str
    created: bool


def eq_filter(key: str, value: str) -> str:
    """KFP v2beta1 list filter: ``key`` equals ``value``."""
    return json.dumps({"predicates": [{"operation": "EQUALS", "key": key, "stringValue": value}]})


def find_pipeline_id(client: kfp.Client, name: str, namespace: str | None) -> str | None:
    """ID of the pipeline named ``name`` (namespaced when ``namespace`` is set), or ``None``."""
    resp = client.list_pipelines(filter=eq_filter("display_name", name), namespace=namespace, page_size=100)
    matches = [p for p in resp.pipelines or [] if name in (p.display_name, p.name)]
    if len(matches) > 1:
        raise KfpApiError(f"{len(matches)} pipelines are named {name!r}; delete the extra ones in the KFP UI")
    return matches[0].pipeline_id if matches else None


def find_version_id(client: kfp.Client, pipeline_id: str, version_name: str) -> str | None:
    """ID of the version named ``version_name`` of ``pipeline_id``, or ``None`` (checks every page)."""
    token = ""
    while True:
        resp = client.list_pipeline_versions(
            pipeline_id, page_token=token, page_size=100, filter=eq_filter("display_name", version_name)
        )
        for v in resp.pipeline_versions or []:
            if version_name in (v.display_name, v.name):
                return v.pipeline_version_id
        token = resp.next_page_token or ""
        if not token:
            return None


def ensure_pipeline_version(
    client: kfp.Client,
    package: Path,
    version_name: str,
    namespace: str | None = None,
    pipeline_name: str = PIPELINE_NAME,
) -> PipelineVersionRef:
    """Upload ``package`` as version ``version_name`` of ``pipeline_name`` unless that version exists.

    Idempotent: the same version name never creates a second version. An existing version is reused
    when its pipeline spec is the package's (or the server does not return it: a warning), and refused
    otherwise. The first upload of a new pipeline also creates KFP's default version (named like the
    pipeline).

    Raises:
        VersionConflict: the version exists with another pipeline spec.
    """
    pipeline_parameters(package)  # fail early on a missing or foreign file
    with kfp_output_to_log():
        pipeline_id = find_pipeline_id(client, pipeline_name, namespace)
        if pipeline_id is None:
            log.info("creating pipeline %s", pipeline_name)
            pipeline_id = client.upload_pipeline(
                str(package), pipeline_name=pipeline_name, namespace=namespace,
                description="YOLOv5 transfer learning (yolo-kfp)",
            ).pipeline_id  # fmt: skip
        version_id = find_version_id(client, pipeline_id, version_name)
        if version_id is not None:
            existing = client.get_pipeline_version(pipeline_id, version_id).pipeline_spec
            same = same_pipeline_spec(package, existing)
            if same is False:
                raise VersionConflict(
                    f"pipeline version {version_name!r} of {pipeline_name} already exists with another pipeline "
                    "spec, and KFP versions are immutable: build and push the images with a new tag "
                    "(e.g. the new git SHA) and submit with --image-tag NEW_TAG"
                )
            if same is None:
                log.warning(
                    "KFP returned no pipeline spec for version %s: reusing it unchecked", version_name
                )
            log.info(
                "pipeline version %s exists (%s), same spec: not uploading again", version_name, version_id
            )
            return PipelineVersionRef(pipeline_id, version_id, version_name, created=False)
        log.info("uploading %s as version %s", package, version_name)
        version = client.upload_pipeline_version(str(package), version_name, pipeline_id=pipeline_id)
    return PipelineVersionRef(pipeline_id, version.pipeline_version_id, version_name, created=True)


def same_pipeline_spec(package: Path, server_spec: Any) -> bool | None:
    """Whether the server's spec of a version (``pipeline_spec`` of the API) is the package's.

    KFP returns the pipeline spec alone, or ``{"pipeline_spec": ..., "platform_spec": ...}`` when the
    YAML has a platform document; numbers come back as JSON numbers. ``None``: the server sent no spec.
    """
    if not isinstance(server_spec, dict) or not server_spec:
        return None
    docs = [d for d in yaml.safe_load_all(Path(package).read_text(encoding="utf-8")) if d]
    local = {"pipeline_spec": docs[0], "platform_spec": docs[1] if len(docs) > 1 else None}
    if isinstance(server_spec.get("pipeline_spec"), dict):
        remote = {
            "pipeline_spec": server_spec["pipeline_spec"],
            "platform_spec": server_spec.get("platform_spec"),
        }
    else:
        remote = {"pipeline_spec": server_spec, "platform_spec": None}
    return _canonical(local) == _canonical(remote)


def _canonical(value: Any) -> Any:
    """JSON-comparable form: whole floats as ints (a protobuf Struct keeps every number as a double)."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def ensure_experiment(client: kfp.Client, name: str, namespace: str | None, create: bool = True) -> str:
    """ID of the experiment ``name`` (created when missing and ``create``).

    Raises:
        KfpApiError: the experiment does not exist and ``create`` is false.
    """
    resp = client.list_experiments(filter=eq_filter("display_name", name), namespace=namespace, page_size=100)
    matches = [e for e in resp.experiments or [] if e.display_name == name]
    if len(matches) > 1:
        raise KfpApiError(
            f"{len(matches)} experiments are named {name!r}; archive the extra ones in the KFP UI"
        )
    if matches:
        return matches[0].experiment_id
    if not create:
        where = f" in namespace {namespace}" if namespace else ""
        raise KfpApiError(
            f"unknown experiment {name!r}{where}; check --experiment (yolo-kfp submit creates it)"
        )
    with kfp_output_to_log():
        return client.create_experiment(name, namespace=namespace).experiment_id


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
    client: kfp.Client,
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
        client: a connected ``kfp.Client`` (see ``pipelines.client.connect.connect``).
        package: compiled pipeline YAML.
        version_name: pipeline version name (the git SHA by default, see ``resolve_version_name``).
        experiment: experiment display name; created when missing.
        params: pipeline parameters (already checked, see ``load_run_parameters``).
        run_name: run display name; default ``yolo-transfer <version> <UTC time>``.
        namespace: Kubeflow profile namespace (multi-user); ``None`` for single-user KFP.
        skip_if_run_exists: start no run when the experiment already has one of this version
            (GitOps re-syncs of the same commit do not retrain).
        host: UI base URL for the run link.

    Raises:
        KfpApiError: the API refused a call or answered something unusable.
    """
    with api_errors(host or "KFP"):
        ref = ensure_pipeline_version(client, package, version_name, namespace)
        experiment_id = ensure_experiment(client, experiment, namespace)
        name = run_name or f"{PIPELINE_NAME} {version_name} {datetime.now(UTC):%Y-%m-%d %H:%M:%S}"
        result = SubmitResult(
            ref.pipeline_id, ref.version_id, version_name, ref.created, experiment_id, None, name, None
        )
        if skip_if_run_exists and _has_run_of_version(client, experiment_id, ref.version_id):
            log.info(
                "experiment %s already has a run of version %s: not starting another",
                experiment,
                version_name,
            )
            return SubmitResult(**{**result.to_dict(), "skipped_existing_run": True})
        with kfp_output_to_log():
            run = client.run_pipeline(
                experiment_id=experiment_id, job_name=name, params=dict(params or {}),
                pipeline_id=ref.pipeline_id, version_id=ref.version_id,
            )  # fmt: skip
    url = f"{host}/#/runs/details/{run.run_id}" if host else None
    log.info("started run %s (%s) of version %s in experiment %s", run.run_id, name, version_name, experiment)
    return SubmitResult(**{**result.to_dict(), "run_id": run.run_id, "run_url": url})


def _has_run_of_version(client: kfp.Client, experiment_id: str, version_id: str) -> bool:
    resp = client.list_runs(experiment_id=experiment_id, page_size=100, sort_by="created_at desc")
    for run in resp.runs or []:
        ref = run.pipeline_version_reference
        if (ref and ref.pipeline_version_id == version_id) or run.pipeline_version_id == version_id:
            return True
    return False
