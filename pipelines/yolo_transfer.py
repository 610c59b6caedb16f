"""The yolo-transfer pipeline: wiring only (work: ``components/<stage>/core.py``; workspace: docs/kubeflow.md)."""

from kfp import dsl, kubernetes

from components._shared import images
from components.convert.component import convert_voc
from components.export.component import export_onnx
from components.ingest.component import ingest_dataset
from components.plan.component import plan_training
from components.publish.component import publish_model
from components.split.component import split_dataset
from components.stats.component import dataset_stats
from components.summary.component import summarize_run
from components.train.component import fetch_weights, train_model
from components.validate.component import validate_model
from pipelines import config
from pipelines.config import PIPELINE_NAME, WORKSPACE, PipelineParams, Resources

MINIO_SECRET = "yolo-kfp-minio"
MINIO_ENV = {
    k: k for k in ("MINIO_ENDPOINT", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY", "MINIO_SECURE", "MINIO_REGION")
}
_D = PipelineParams()
_WS = dsl.WORKSPACE_PATH_PLACEHOLDER  # resolved by KFP to the workspace's mount path in each pod


def _data_task(
    task: dsl.PipelineTask, name: str, res: Resources, storage: bool = False, cache: bool = True
) -> dsl.PipelineTask:
    task.set_display_name(name).set_caching_options(cache)
    task.set_cpu_request(res.cpu_request).set_cpu_limit(res.cpu_limit)
    task.set_memory_request(res.memory_request).set_memory_limit(res.memory_limit)
    if storage:
        kubernetes.use_secret_as_env(task, MINIO_SECRET, MINIO_ENV, optional=True)
    return task


def _gpu_task(
    task: dsl.PipelineTask, name: str, res: Resources, gpus, accelerator, node_selector
) -> dsl.PipelineTask:
    task.set_display_name(name).set_caching_options(False)
    task.set_cpu_request(res.cpu_request).set_cpu_limit(res.cpu_limit)
    task.set_memory_request(res.memory_request).set_memory_limit(res.memory_limit)
    task.set_accelerator_type(accelerator).set_accelerator_limit(gpus)
    kubernetes.add_toleration(task, key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")
    kubernetes.add_node_selector_json(task, node_selector)
    # PyTorch dataloader workers share batches through /dev/shm; the container default (64 MiB) kills them.
    kubernetes.empty_dir_mount(
        task, volume_name="dshm", mount_path="/dev/shm", medium="Memory", size_limit=res.shm
    )
    kubernetes.use_secret_as_env(task, MINIO_SECRET, MINIO_ENV, optional=True)
    retry = config.RETRY
    task.set_retry(num_retries=retry.num_retries, backoff_duration=f"{retry.backoff_s}s",
                   backoff_factor=retry.factor, backoff_max_duration=f"{retry.max_duration_s()}s")  # fmt: skip
    return task


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="YOLOv5 transfer learning: VOC -> YOLO, frozen backbone then fine-tune, gated ONNX publishing.",
    pipeline_config=dsl.PipelineConfig(
        workspace=dsl.WorkspaceConfig(
            size=WORKSPACE.size,
            kubernetes=dsl.KubernetesWorkspaceConfig(pvcSpecPatch=WORKSPACE.pvc_spec_patch()),
        ),
        ttl_seconds_after_failure=config.FAILED_RUN_TTL_S,
    ),
)
def yolo_transfer(
    source: str = _D.source,
    classes: str = _D.classes,
    include_difficult: bool = _D.include_difficult,
    weights: str = _D.weights,
    model_size: str = _D.model_size,
    strategy: str = _D.strategy,
    imgsz: int = _D.imgsz,
    batch: int = _D.batch,
    freeze: str = _D.freeze,
    epochs_frozen: int = _D.epochs_frozen,
    epochs_finetune: int = _D.epochs_finetune,
    lr0: float = _D.lr0,
    lr_finetune: float = _D.lr_finetune,
    warmup_epochs: float = _D.warmup_epochs,
    warmup_finetune: float = _D.warmup_finetune,
    val: float = _D.val,
    test: float = _D.test,
    group: str = _D.group,
    seed: int = _D.seed,
    gpus: int = _D.gpus,
    nodes: int = _D.nodes,
    accelerator: str = _D.accelerator,
    node_selector: dict = _D.node_selector,
    train_args: dict = _D.train_args,
    min_map50_95: float = _D.min_map50_95,
    champion_tolerance: float = _D.champion_tolerance,
    class_tolerance: float = _D.class_tolerance,
    allow_class_change: bool = _D.allow_class_change,
    publish_dest: str = _D.publish_dest,
    checkpoint_root: str = _D.checkpoint_root,
):
    """YOLOv5 transfer learning from Pascal VOC data to a gated, published ONNX model.

    Secrets (MinIO credentials) come from the Kubernetes Secret ``yolo-kfp-minio``, never from parameters.

    Args:
        source: VOC data: an s3:// prefix or archive (tar, tar.gz, zip), or a path inside the pod.
        classes: class names in training order, comma-separated; empty: every class found, sorted.
        include_difficult: also train on objects marked difficult in the VOC XML.
        weights: pretrained checkpoint (s3:// URI or path) of any Ultralytics detection model (YOLOv5u,
            YOLOv8, YOLO11); {size} is replaced by the chosen model size, and only sizes whose file exists
            there are chosen (checked by the plan task before training).
        model_size: n, s, m, l or x; auto: the dataset-size table's size, or the nearest size whose weights
            exist.
        strategy: two-stage (frozen backbone, then everything), full, frozen; auto: from the dataset size.
        imgsz: training and validation image size in pixels (multiple of 32).
        batch: batch size per training step; -1: Ultralytics picks one for the GPU memory.
        freeze: layers frozen in the first stage (10 = the whole backbone); auto: from the dataset size.
        epochs_frozen: epochs with the backbone frozen; -1: auto (from the training plan).
        epochs_finetune: epochs training every layer; -1: auto (from the training plan).
        lr0: learning rate of the first stage.
        lr_finetune: learning rate of the fine-tune stage; -1: the same as lr0 (what won in docs/transfer.md).
        warmup_epochs: warm-up epochs of the first stage.
        warmup_finetune: warm-up epochs of the fine-tune stage (0: start at full rate).
        val: share of the images held out for validation (picks the best epoch).
        test: share of the images held out for the gate (never used to pick a checkpoint); 0: none, and
            datasets under 20 images get none (the gate then judges on val and says so).
        group: regex whose first group keeps related images in one split (e.g. frames of one video).
        seed: seed of the split and of training (same seed, same result).
        gpus: GPUs per training task; 0 trains on the CPU.
        nodes: nodes per training task; 1: one pod (today); >1: a Kubeflow Trainer TrainJob
            (torch-distributed) across that many nodes, each with `gpus` GPUs.
        accelerator: Kubernetes resource name of the GPU (nvidia.com/gpu).
        node_selector: node labels the GPU tasks must run on, e.g. {"gpu": "a100"}; empty: any node.
        train_args: further Ultralytics training arguments, e.g. {"mosaic": 0.5, "optimizer": "AdamW"}:
            Ultralytics' own keys only; keys the pipeline sets (epochs, imgsz, batch, freeze, lr0, device,
            seed, ...) are refused with the parameter to use instead. Data-loader workers default to the
            task's CPUs minus one (at most 8). Empty: none.
        min_map50_95: the gate: the ONNX model must reach this mAP50-95 on the test split to be published.
        champion_tolerance: the gate: how far below the production model (measured on the same test split
            in this run) the new model may be; 0: at least as good.
        class_tolerance: the gate: the largest AP50-95 drop allowed for any class against production.
        allow_class_change: publish and promote over a production model with other classes (not comparable).
        publish_dest: where models are published and promoted (s3://bucket/name); production.json lives here.
        checkpoint_root: where training checkpoints go every epoch so a preempted pod resumes (s3://...).
    """
    r = config
    summary = summarize_run(checkpoint_root=checkpoint_root, run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER)
    _data_task(summary, "12 run summary (always)", r.DATA, storage=True).set_caching_options(False)
    with dsl.ExitHandler(summary, name="run"):
        # ingest, convert and split write the data into this run's workspace: never cached
        src = _data_task(
            ingest_dataset(source=source, workspace=_WS),
            "1 ingest dataset",
            r.DATA,
            storage=True,
            cache=False,
        )
        conv = _data_task(
            convert_voc(voc_tree=src.outputs["voc_tree"], classes=classes, include_difficult=include_difficult,
                        fingerprint=src.outputs["fingerprint"], workspace=_WS),
            "2 convert VOC to YOLO", r.DATA, cache=False,
        )  # fmt: skip
        split = _data_task(
            split_dataset(yolo_labels=conv.outputs["yolo_labels"], val=val, test=test, seed=seed, group=group,
                          workspace=_WS),
            "3 split train/val/test", r.DATA, cache=False,
        )  # fmt: skip
        # every task reading the dataset gets the workspace path: KFP mounts the workspace only there
        data = split.outputs["yolo_dataset"]
        _data_task(dataset_stats(yolo_dataset=data, imgsz=imgsz, workspace=_WS), "4a dataset statistics", r.DATA,
                   cache=False)  # fmt: skip
        plan = _data_task(
            plan_training(
                yolo_dataset=data, weights=weights, model_size=model_size, strategy=strategy, freeze=freeze,
                epochs_frozen=epochs_frozen, epochs_finetune=epochs_finetune, lr0=lr0, lr_finetune=lr_finetune,
                gpus=gpus, accelerator=accelerator,  # also keeps KFP 2.17 passing both into the exit handler
                nodes=nodes, workspace=_WS, imgsz=imgsz, train_args=train_args,  # checked before any GPU time
            ),
            "4b training plan", r.DATA, storage=True, cache=False,
        ).outputs  # fmt: skip
        # cached on the weights' content, not only their URI (new weights under the same URI are fetched)
        pre = _data_task(
            fetch_weights(weights=plan["weights"], weights_digest=plan["weights_digest"]),
            "5 fetch pretrained weights", r.DATA, storage=True,
        )  # fmt: skip
        common = dict(yolo_dataset=data, imgsz=imgsz, batch=batch, seed=seed, checkpoint_root=checkpoint_root,
                      run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER, train_args=train_args, nodes=nodes,
                      workspace_path=_WS, trainjob_image=images.GPU, gpus_per_node=gpus,
                      accelerator=accelerator)  # fmt: skip
        # the training task's own GPUs: none when it launches a multi-node TrainJob (plan's launcher_gpus)
        task_gpus = plan["launcher_gpus"]
        frozen = _gpu_task(
            train_model(init_weights=pre.outputs["pretrained"], stage="frozen", freeze=plan["freeze"],
                        epochs=plan["epochs_frozen"], lr0=plan["lr_frozen"], warmup_epochs=warmup_epochs, **common),
            "6 train: frozen backbone", r.TRAIN, task_gpus, accelerator, node_selector,
        )  # fmt: skip
        fine = _gpu_task(
            train_model(init_weights=frozen.outputs["weights"], stage="finetune", freeze=0,
                        epochs=plan["epochs_finetune"], lr0=plan["lr_finetune"], warmup_epochs=warmup_finetune, **common),
            "7 train: fine-tune all layers", r.TRAIN, task_gpus, accelerator, node_selector,
        )  # fmt: skip
        gate = dict(min_map50_95=min_map50_95, champion_tolerance=champion_tolerance, class_tolerance=class_tolerance,
                    allow_class_change=allow_class_change)  # fmt: skip
        val_pt = _gpu_task(
            validate_model(model=fine.outputs["weights"], yolo_dataset=data, split="auto", imgsz=imgsz,
                           champion_dest="", checkpoint_root="", run_id="", workspace=_WS, **gate),
            "8 validate PyTorch model", r.TRAIN, gpus, accelerator, node_selector,
        )  # fmt: skip
        onnx = _data_task(
            export_onnx(weights=fine.outputs["weights"], yolo_dataset=data, imgsz=imgsz, workspace=_WS),
            "9 export ONNX + simplify", r.EXPORT,
        )  # fmt: skip
        onnx.set_caching_options(False)
        val_onnx = _data_task(
            validate_model(model=onnx.outputs["onnx_model"], yolo_dataset=data, split="auto", imgsz=imgsz,
                           champion_dest=publish_dest, checkpoint_root=checkpoint_root,
                           run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER, workspace=_WS, **gate),
            "10 validate ONNX + gate (vs production)", r.EXPORT, storage=True,
        )  # fmt: skip
        val_onnx.set_caching_options(False).after(val_pt)
        with dsl.If(val_onnx.outputs["Output"] == True, name="gate-passed"):  # noqa: E712
            _data_task(
                publish_model(onnx_model=onnx.outputs["onnx_model"], weights=fine.outputs["weights"],
                              validation=val_onnx.outputs["validation"], dest=publish_dest,
                              fingerprint=src.outputs["fingerprint"], promote=True,
                              allow_class_change=allow_class_change, checkpoint_root=checkpoint_root,
                              run_id=dsl.PIPELINE_JOB_ID_PLACEHOLDER, workspace=_WS),
                "11 publish + promote model", r.DATA, storage=True,
            ).set_caching_options(False)  # fmt: skip
