"""Checkpoints that survive a preempted GPU pod: ``last.pt`` mirrored to ``s3://bucket/runs/<run-id>/<stage>/``.

The train stage calls ``restore`` before training (resume when a checkpoint exists) and passes
``upload`` as its per-epoch ``on_checkpoint(path, epoch)`` callback. Layout under the URI:

    last.pt            the trainer's checkpoint (with its resume state), uploaded first
    checkpoint.json    {"epoch", "sha256", "size", "uploaded_at"}: written after last.pt

A pod killed between the two uploads leaves a newer ``last.pt`` than ``checkpoint.json`` describes;
``restore`` still uses ``last.pt`` (each object is written atomically) and reports the epoch only when
the checksum matches. The URI may also be a local folder (same layout) for local runs: any scheme
of the storage registry (``components._shared.storage``) works.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from components._shared.errors import ConfigError, StorageError
from components._shared.storage import Backend, Storage, backend_for, sha256_file

log = logging.getLogger(__name__)

CHECKPOINT = "last.pt"
INFO = "checkpoint.json"


class CheckpointSync:
    """Mirror ``last.pt`` to an object-store prefix every ``every`` epochs, and restore it on restart.

    Args:
        uri: ``s3://bucket/runs/<run-id>/<stage>/`` (MinIO from ``MINIO_*``), a local folder, or any
            URI of a scheme in the storage registry.
        every: upload when the number of completed epochs is a multiple of this (default 1).
        strict: raise when an upload fails after retries; by default log a warning and keep
            training (losing one checkpoint costs less than losing the run).
        storage: an explicit S3 client (default: from the environment).
    """

    def __init__(
        self, uri: str, *, every: int = 1, strict: bool = False, storage: Storage | None = None
    ) -> None:
        if every < 1:
            raise ConfigError(f"checkpoint every={every}: must be >= 1 epoch")
        self.uri = str(uri)
        self.every = every
        self.strict = strict
        self._loc: Backend = backend_for(self.uri, **({"storage": storage} if storage is not None else {}))
        self.restored_epoch: int | None = None
        self.uploaded_epoch: int | None = None

    def __repr__(self) -> str:
        return f"CheckpointSync({self.uri!r}, every={self.every})"

    def restore(self, local_path: Path) -> bool:
        """Download ``last.pt`` to ``local_path`` when the URI has one.

        Returns:
            True when a checkpoint was restored (resume from it), False for a fresh start.
        """
        local_path = Path(local_path)
        if not self._loc.get_file(CHECKPOINT, local_path):
            log.info("no checkpoint at %s: starting fresh", self.uri)
            return False
        info = self._loc.get_json(INFO) or {}
        if info.get("sha256") == sha256_file(local_path):
            self.restored_epoch = int(info["epoch"])
            log.info("restored %s (epoch %d) from %s", local_path, self.restored_epoch, self.uri)
        else:
            log.warning(
                "restored %s from %s; %s describes another upload (interrupted?)", local_path, self.uri, INFO
            )
        return True

    def upload(self, path: Path, epoch: int, *, force: bool = False) -> None:
        """Upload ``path`` as ``last.pt`` then ``checkpoint.json``, when ``epoch`` is due.

        Args:
            path: the trainer's ``last.pt``.
            epoch: epochs completed so far (1 after the first epoch).
            force: upload even when the epoch is not a multiple of ``every`` (e.g. the final one).
        """
        if not force and epoch % self.every != 0:
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
            self._loc.put_json(INFO, info)
        except StorageError as err:
            if self.strict:
                raise
            log.warning("checkpoint of epoch %d not uploaded (training goes on): %s", epoch, err)
            return
        self.uploaded_epoch = int(epoch)
        log.info("checkpoint epoch %d -> %s (%.1f MB)", epoch, self.uri, stored.size / 1e6)

    __call__ = upload  # usable directly as on_checkpoint(path, epoch)
