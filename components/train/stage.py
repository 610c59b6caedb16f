"""What ``component.py`` calls: fetch the weights, and run one training stage (in the pod or as a TrainJob).

It adds what only a pipeline run needs (0-epoch pass-through, checkpoint sync, TrainJob); see README.md.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from components._shared.artifacts import ARCH_FILE, BEST_PT, weights_in
from components._shared.dataset import follow_manifest, load_dataset
from components._shared.errors import ConfigError
from components._shared.fsio import (
    link_or_copy,
    no_room_as_storage_error,
    write_json_atomic,
    write_text_atomic,
)
from components._shared.report import escape, html_page
from components._shared.weights import resolve_weights
from components._yolo.pickles import check_pickle
from components.train.core import (
    TrainConfig,
    TrainResult,
    check_train_args,
    dataset_identity,
    dataset_mismatch,
    train_model,
)

log = logging.getLogger(__name__)


def fetch_weights(spec: str, out_dir: Path) -> dict[str, Any]:
    """Resolve ``spec`` (path, ``s3://`` URI or architecture YAML) into ``out_dir``; returns its metadata."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    resolved = resolve_weights(spec, out_dir / ".fetched")
    if resolved.is_checkpoint and resolved.path is not None:
        check_pickle(resolved.path)  # a crafted checkpoint is refused here, before any stage (no torch here)
        target = out_dir / (resolved.path.name if resolved.path.suffix == ".pt" else "weights.pt")
        if resolved.path.resolve() != target.resolve():
            link_or_copy(resolved.path, target)
    elif resolved.path is not None:
        shutil.copyfile(resolved.path, out_dir / resolved.path.name)
    else:
        write_text_atomic(out_dir / ARCH_FILE, f"{resolved.arch}\n")
    shutil.rmtree(out_dir / ".fetched", ignore_errors=True)
    log.info("weights %s -> %s (%s)", spec, out_dir, resolved.kind)
    return {"framework": "pytorch", "source": spec, "kind": resolved.kind}


def run_training_stage(
    dataset_dir: Path,
    init_weights: Path,
    out_dir: Path,
    cfg: TrainConfig,
    checkpoint_root: str = "",
    run_id: str = "",
) -> TrainResult:
    """Train one stage of the pipeline (``cfg.epochs == 0``: pass ``init_weights`` through unchanged).

    With ``checkpoint_root`` and ``run_id`` the stage is mirrored to ``<root>/<run_id>/<stage>/`` every epoch
    and a retried task resumes from it (README.md, "Resume and checkpoints").
    """
    out_dir = Path(out_dir)
    spec = weights_in(Path(init_weights))
    if cfg.epochs == 0:
        check_train_args(cfg.train_args)  # a typo fails here too, not only in the stage that trains
        with no_room_as_storage_error(out_dir, "the weights were not passed through"):
            return _pass_through(Path(init_weights), spec, out_dir, cfg)
    sync = resume_from = None
    if checkpoint_root and run_id:
        from components.train.checkpoints import CheckpointSync

        identity = dataset_identity(load_dataset(Path(dataset_dir)))
        sync = CheckpointSync(f"{checkpoint_root.rstrip('/')}/{run_id}/{cfg.stage_name}/", dataset=identity)
        with tempfile.TemporaryDirectory(prefix="ckpt-") as tmp:
            restored = Path(tmp) / "last.pt"
            resume_from = restored if sync.restore(restored) else None
            if resume_from is not None and (problem := dataset_mismatch(sync.restored_dataset, identity)):
                raise ConfigError(
                    f"the checkpoint at {sync.uri} was trained on another dataset: {problem}; delete it "
                    "(or use another run id) to start fresh"
                )
            return train_model(
                dataset_dir, spec, out_dir, cfg, on_checkpoint=sync, resume_from=resume_from,
                on_logs=sync.upload_logs,
            )  # fmt: skip
    return train_model(dataset_dir, spec, out_dir, cfg)


def _pass_through(init_weights: Path, spec: str, out_dir: Path, cfg: TrainConfig) -> TrainResult:
    """A skipped stage (strategy ``full`` or ``frozen``): copy the weights, say so in the reports."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for item in _weight_files(init_weights):
        link_or_copy(item, out_dir / (BEST_PT if item.suffix == ".pt" else item.name))
    note = (
        f"stage '{cfg.stage_name}' skipped: 0 epochs planned (strategy), weights passed through from {spec}"
    )
    write_text_atomic(
        out_dir / "report.html", html_page(f"Training report: {cfg.stage_name}", f"<p>{escape(note)}</p>")
    )
    architecture = _architecture(out_dir)
    metrics = {"stage_name": cfg.stage_name, "skipped": True, "epochs": 0, "reason": note,
               "config": cfg.to_dict(), "architecture": architecture}  # fmt: skip
    write_json_atomic(out_dir / "metrics.json", metrics)
    log.info(note)
    return TrainResult(out_dir, cfg.stage_name, architecture, freeze=cfg.freeze, config=cfg.to_dict())


def _weight_files(init_weights: Path) -> list[Path]:
    """The weights or architecture files of a model artifact (a folder or one file)."""
    items = init_weights.iterdir() if init_weights.is_dir() else [init_weights]
    return [p for p in items if p.is_file() and (p.suffix in (".pt", ".yaml", ".yml") or p.name == ARCH_FILE)]


def _architecture(weights_dir: Path) -> str:
    """The architecture of the weights a skipped stage passes through."""
    from components._yolo.model import UNKNOWN_ARCH, architecture_name, checkpoint_architecture

    if (weights_dir / BEST_PT).is_file():
        return checkpoint_architecture(weights_dir / BEST_PT)
    arch = weights_dir / ARCH_FILE
    if arch.is_file():
        return architecture_name(arch.read_text(encoding="utf-8").strip())
    yamls = sorted(weights_dir.glob("*.y*ml"))
    return architecture_name(yamls[0].name) if yamls else UNKNOWN_ARCH


# ---------------------------------------------------------------- several nodes: a Kubeflow Trainer TrainJob

JOBS_DIR = "trainjobs"  # <workspace>/trainjobs/<trainjob name>/{init,dataset,out}


def run_distributed_stage(
    dataset_dir: Path,
    init_weights: Path,
    out_dir: Path,
    cfg: TrainConfig,
    *,
    nodes: int,
    workspace_path: str,
    run_id: str,
    image: str,
    task_config: Any = None,
    gpus_per_node: int = 0,
    accelerator: str = "nvidia.com/gpu",
    client: Any = None,
    poll_s: float = 10.0,
    timeout_s: float | None = None,
) -> TrainResult:
    """Train one stage on ``nodes`` (>= 2) nodes with a Kubeflow Trainer TrainJob; as ``run_training_stage``.

    Args:
        workspace_path: the run workspace as this task sees it (``dsl.WORKSPACE_PATH_PLACEHOLDER``).
        task_config: KFP's ``TaskConfig`` of this task (resources, env, volumes, scheduling) or None.
        gpus_per_node: ``accelerator`` GPUs of each node; 0: as many as the task's own resources ask for.
        client: a ``KubeClient``; None: the cluster this pod runs in.

    Raises:
        ConfigError: fewer than 2 nodes, or no workspace volume.
        TrainJobError, TrainJobCancelled: the TrainJob failed or the task got SIGTERM (it is deleted).
    """
    from components.train.trainjob import (
        KubeClient,
        TrainJobSpec,
        render_trainjob,
        run_trainjob,
        train_argv,
        trainjob_name,
    )

    if cfg.epochs == 0:
        return run_training_stage(dataset_dir, init_weights, out_dir, cfg)
    if nodes < 2:
        raise ConfigError(
            f"nodes={nodes}: a TrainJob is for 2 nodes or more; nodes=1 trains in the task's pod"
        )
    workspace = _check_workspace(workspace_path)
    if not image:
        raise ConfigError(
            "trainjob_image is empty: the TrainJob nodes need the train image (the pipeline passes it)"
        )
    check_train_args(cfg.train_args)
    client = client or KubeClient.in_cluster()
    name = trainjob_name(run_id or "local", cfg.stage_name)
    job_dir = workspace / JOBS_DIR / name
    # the Dataset artifact is a manifest pointing into the workspace: hand the nodes the real folder
    data, weights = _stage_inputs(follow_manifest(Path(dataset_dir)), Path(init_weights), workspace, job_dir)
    spec = TrainJobSpec(
        name=name,
        train_args=train_argv(cfg, data, weights, job_dir / "out"),
        image=image,
        nodes=nodes,
        namespace=client.namespace,
        gpus_per_node=gpus_per_node,
        accelerator=accelerator,
        **_task_settings(task_config, workspace, client),
        labels={"yolo-kfp/run-id": run_id, "yolo-kfp/stage": cfg.stage_name},
    )
    manifest = render_trainjob(spec)
    write_json_atomic(job_dir / "trainjob.json", manifest)  # what ran, next to its outputs
    run_trainjob(client, manifest, poll_s=poll_s, timeout_s=timeout_s)
    return _collect(job_dir / "out", Path(out_dir))


def _check_workspace(workspace_path: str) -> Path:
    if not workspace_path or not Path(workspace_path).is_dir():
        raise ConfigError(
            f"workspace_path {workspace_path!r}: nodes > 1 needs the run workspace (pass "
            "dsl.WORKSPACE_PATH_PLACEHOLDER and give the pipeline a dsl.WorkspaceConfig)"
        )
    return Path(workspace_path)


def _stage_inputs(dataset_dir: Path, init_weights: Path, workspace: Path, job_dir: Path) -> tuple[Path, str]:
    """The dataset and weights as the nodes see them: in the workspace (copied there when not yet)."""
    data = dataset_dir
    if workspace.resolve() not in dataset_dir.resolve().parents:
        data = job_dir / "dataset"
        if not data.exists():
            shutil.copytree(dataset_dir, data.with_name(".dataset.tmp"), dirs_exist_ok=True)
            os.replace(data.with_name(".dataset.tmp"), data)
    init = job_dir / "init"
    init.mkdir(parents=True, exist_ok=True)
    for item in _weight_files(init_weights):
        shutil.copyfile(item, init / item.name)
    return data, weights_in(init)


def _task_settings(task_config: Any, workspace: Path, client: Any) -> dict[str, Any]:
    """TrainJobSpec fields from KFP's TaskConfig, and the workspace volume when TaskConfig lacks it."""
    from components.train.trainjob import mounted_over, workspace_of_pod

    get = lambda key: getattr(task_config, key, None) or None  # noqa: E731 - TaskConfig fields may be None
    mounts: Sequence[Mapping[str, Any]] = get("volume_mounts") or ()
    covered = any(mounted_over(workspace, m.get("mountPath", "")) for m in mounts)
    settings: dict[str, Any] = {
        "resources": get("resources"),
        "env": tuple(get("env") or ()),
        "volumes": tuple(get("volumes") or ()),
        "volume_mounts": tuple(mounts),
        "tolerations": tuple(get("tolerations")) if get("tolerations") else None,
        "node_selector": dict(get("node_selector") or {}),
        "affinity": dict(get("affinity") or {}),
    }
    if not settings["resources"]:
        log.warning(
            "TaskConfig carries no resources (a component loaded from YAML loses its passthroughs): "
            "every TrainJob node gets the defaults of TrainJobSpec (4 CPUs, 16Gi, no GPU)"
        )
    if not covered:
        settings["workspace"] = workspace_of_pod(client, os.environ.get("HOSTNAME", ""), workspace)
    return settings


def _collect(job_out: Path, out_dir: Path) -> TrainResult:
    """Copy rank 0's outputs from the workspace into the task's output folder; read its metrics.json."""
    from components.train.core import OUTPUT_FILES

    if not (job_out / "metrics.json").is_file():
        raise ConfigError(f"{job_out}/metrics.json missing: the TrainJob completed without rank 0's outputs")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in OUTPUT_FILES:
        if (job_out / name).is_file() and not name.startswith("."):
            shutil.copyfile(job_out / name, out_dir / name)
    return TrainResult.read(out_dir)
