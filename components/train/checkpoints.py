"""Checkpoints that survive a preempted GPU pod: ``last.pt`` mirrored to ``s3://bucket/runs/<run-id>/<stage>/``.

The train stage calls ``restore`` before training (resume when a checkpoint exists) and passes
``upload`` as its per-epoch ``on_checkpoint(path, epoch)`` callback. Layout under the URI:

    last.pt            the trainer's checkpoint (with its resume state), uploaded first
    checkpoint.json    {"epoch", "sha256", "size", "uploaded_at", "dataset"}: written after last.pt;
                       ``dataset`` (names and fingerprint of what was trained on) lets a restore
                       refuse a checkpoint of another dataset
    tensorboard/       the stage's TensorBoard event files (``upload_logs``, every epoch): what
                       ``yolo-kfp tensorboard --run`` serves while the run trains
    diagnosis.json     the training doctor's findings so far (``[{rule, epoch, evidence, remedy}]``),
                       read by the run summary

A pod killed between the two uploads leaves a newer ``last.pt`` than ``checkpoint.json`` describes;
``restore`` still uses ``last.pt`` (each object is written atomically) and reports the epoch only when
the checksum matches. A ``checkpoint.json`` that is there but corrupt (not JSON, not an object, a
missing ``epoch``/``sha256``, an ``epoch`` that is not a whole number >= 0) is nobody's upload: restore
logs one warning and starts fresh instead of failing every retry of the pod. The URI may also be a local folder (same layout) for local runs: any scheme
of the storage registry (``components._shared.storage``) works.

Under torchrun only rank 0 restores and uploads: the other ranks' ``restore`` returns False without a
download (rank 0 sends them the checkpoint it resumes from) and their ``upload`` does nothing.
"""

from __future__ import annotations

import json
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components._shared.errors import ConfigError, StorageError
from components._shared.run_records import DIAGNOSIS_RECORD
from components._shared.storage import Backend, Storage, backend_for, sha256_file
from components._yolo.ddp import world_from_env
from components.train.tensorboard import LOG_DIR

log = logging.getLogger(__name__)

CHECKPOINT = "last.pt"
INFO = "checkpoint.json"
LOGS = LOG_DIR  # the stage log folder, mirrored under the stage's URI
DIAGNOSIS = DIAGNOSIS_RECORD


class CheckpointSync:
    """Mirror ``last.pt`` to an object-store prefix every ``every`` epochs, and restore it on restart.

    Args:
        uri: ``s3://bucket/runs/<run-id>/<stage>/`` (MinIO from ``MINIO_*``), a local folder, or any
            URI of a scheme in the storage registry.
        every: upload when the number of completed epochs is a multiple of this (default 1).
        strict: raise when an upload fails after retries; by default log a warning and keep
            training (losing one checkpoint costs less than losing the run).
        storage: an explicit S3 client (default: from the environment).
        dataset: what this run trains on (``components.train.core.dataset_identity``), recorded in
            every ``checkpoint.json``; after a restore ``restored_dataset`` holds the stored one.
    """

    def __init__(
        self,
        uri: str,
        *,
        every: int = 1,
        strict: bool = False,
        storage: Storage | None = None,
        dataset: dict[str, Any] | None = None,
    ) -> None:
        if every < 1:
            raise ConfigError(f"checkpoint every={every}: must be >= 1 epoch")
        self.uri = str(uri)
        self.every = every
        self.strict = strict
        self._loc: Backend = backend_for(self.uri, **({"storage": storage} if storage is not None else {}))
        self.dataset = dataset
        self.restored_epoch: int | None = None
        self.restored_dataset: dict[str, Any] | None = None
        self.uploaded_epoch: int | None = None

    def __repr__(self) -> str:
        return f"CheckpointSync({self.uri!r}, every={self.every})"

    def restore(self, local_path: Path) -> bool:
        """Download ``last.pt`` to ``local_path`` when the URI has one.

        Returns:
            True when a checkpoint was restored (resume from it), False for a fresh start (none there,
            or a corrupt ``checkpoint.json``: one warning, and the downloaded ``last.pt`` is removed).
        """
        local_path = Path(local_path)
        if not world_from_env().is_main:
            return False  # rank 0 restores and sends its checkpoint to the other ranks
        if not self._loc.get_file(CHECKPOINT, local_path):
            log.info("no checkpoint at %s: starting fresh", self.uri)
            return False
        info, problem = self._read_info()
        if problem is not None:
            local_path.unlink(missing_ok=True)
            log.warning(
                "%s in %s is corrupt (%s): ignoring the checkpoint there and starting fresh",
                INFO,
                self.uri,
                problem,
            )
            return False
        if isinstance(info.get("dataset"), dict):
            self.restored_dataset = info["dataset"]
        if info.get("sha256") == sha256_file(local_path):
            self.restored_epoch = int(info["epoch"])
            log.info("restored %s (epoch %d) from %s", local_path, self.restored_epoch, self.uri)
        else:
            log.warning(
                "restored %s from %s; %s describes another upload (interrupted?)", local_path, self.uri, INFO
            )
        return True

    def _read_info(self) -> tuple[dict[str, Any], str | None]:
        """``checkpoint.json`` (``{}`` when absent) and what is wrong with it (None when usable).

        Storage failures (endpoint down, denied) still raise: only the content is judged here.
        """
        with tempfile.TemporaryDirectory(prefix="yolo-kfp-ckpt-") as tmp:
            local = Path(tmp) / INFO
            if not self._loc.get_file(INFO, local):
                return {}, None
            raw = local.read_bytes()
        try:
            info = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            return {}, f"not valid JSON: {err}"
        if not isinstance(info, dict):
            return {}, f"a JSON {type(info).__name__}, not an object"
        missing = sorted({"epoch", "sha256"} - set(info))
        if missing:
            return {}, f"missing {', '.join(missing)}"
        epoch = info["epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            return {}, f"epoch {epoch!r} is not a whole number >= 0"
        if not isinstance(info["sha256"], str):
            return {}, f"sha256 {info['sha256']!r} is not a string"
        return info, None

    def upload(self, path: Path, epoch: int, *, force: bool = False) -> None:
        """Upload ``path`` as ``last.pt`` then ``checkpoint.json``, when ``epoch`` is due.

        Args:
            path: the trainer's ``last.pt``.
            epoch: epochs completed so far (1 after the first epoch).
            force: upload even when the epoch is not a multiple of ``every`` (e.g. the final one).
        """
        if (not force and epoch % self.every != 0) or not world_from_env().is_main:
            return
        path = Path(path)
        try:
            stored = self._loc.put_file(CHECKPOINT, path)
            info = {
                "epoch": int(epoch),
                "sha256": stored.sha256,
                "size": stored.size,
                "uploaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            if self.dataset is not None:
                info["dataset"] = self.dataset
            self._loc.put_json(INFO, info)
        except StorageError as err:
            if self.strict:
                raise
            log.warning("checkpoint of epoch %d not uploaded (training goes on): %s", epoch, err)
            return
        self.uploaded_epoch = int(epoch)
        log.info("checkpoint epoch %d -> %s (%.1f MB)", epoch, self.uri, stored.size / 1e6)

    __call__ = upload  # usable directly as on_checkpoint(path, epoch)

    def upload_logs(self, log_dir: Path, diagnosis: list[dict[str, Any]]) -> None:
        """Upload the event files of ``log_dir`` to ``tensorboard/`` and the diagnosis to ``diagnosis.json``.

        Same failure policy as ``upload``: a refused upload is a warning (strict: an error); the live
        view lags one epoch, the training goes on.
        """
        if not world_from_env().is_main:
            return
        try:
            for path in sorted(Path(log_dir).glob("*tfevents*")):
                if path.is_file() and not path.name.startswith("."):
                    self._loc.put_file(f"{LOGS}/{path.name}", path)
            self._loc.put_json(DIAGNOSIS, diagnosis)
        except StorageError as err:
            if self.strict:
                raise
            log.warning("live logs not uploaded to %s (training goes on): %s", self.uri, err)
