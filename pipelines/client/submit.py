"""Submit the pipeline: package for the images, version name, upload if new, run (docs/kubeflow.md)."""

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
from pipelines.compile import COMPILED, check_package_images, compile_pipeline, read_package
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
    """The compiled pipeline to upload, the images asked for (or None) and whether it was compiled here."""

    path: Path
    images: images.ImageSet | None
    compiled: bool = False


def prepare_package(package: Path | None, registry: str | None, tag: str | None, workdir: Path) -> Package:
    """The package: ``package``/``$YOLO_KFP_PACKAGE``, else compiled for the images asked for, else the committed YAML.

    ConfigError for ``latest``, other images or a missing or foreign package; CompileError when compiling failed.
    """
    env_package = os.environ.get("YOLO_KFP_PACKAGE", "").strip()
    given = Path(package) if package else (Path(env_package) if env_package else None)
    wanted = images.resolve(registry, tag) if images.requested(registry, tag) else None
    if given is not None:
        check_package_images(given, wanted)
        return Package(given, wanted)
    if wanted is not None:
        out = compile_pipeline(Path(workdir) / "yolo_transfer.yaml", registry=wanted.registry, tag=wanted.tag)
        return Package(out, wanted, compiled=True)
    check_package_images(COMPILED, None)
    return Package(COMPILED, None)


def resolve_version_name(
    explicit: str | None, package: Path = DEFAULT_PACKAGE, image_tag: str | None = None
) -> str:
    """Version name: the image tag, else ``explicit`` > ``$GIT_SHA`` > ``$GITHUB_SHA`` > ``git rev-parse --short=7``.

    A git name of an uncommitted package gets ``-dirty-<sha256>``; ConfigError when none can be derived.
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
    """The pipeline's input parameters (name -> spec) of a compiled KFP IR YAML; ConfigError when missing or foreign."""
    return dict(read_package(package)["root"].get("inputDefinitions", {}).get("parameters", {}))


def load_run_parameters(path: Path | None, package: Path) -> dict[str, Any]:
    """Only the parameters the file ``path`` sets, each declared by ``package`` and flat (ConfigError)."""
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
    """Upload ``package`` as version ``version_name`` unless it exists; VersionConflict when with another spec."""
    read_package(package)  # fail early on a missing or foreign file
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
    """Whether the server's spec of a version is the package's (None: the server sent none)."""
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
    """Whole floats as ints: a protobuf Struct keeps every number as a double."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def ensure_experiment(client: kfp.Client, name: str, namespace: str | None, create: bool = True) -> str:
    """ID of the experiment ``name``, created when missing and ``create`` (else KfpApiError)."""
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
    """Upload ``package`` as ``version_name`` (if new) and start a run of it in ``experiment`` (created when missing).

    ``params`` must be checked already (``load_run_parameters``); KfpApiError when the API refused a call.
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
