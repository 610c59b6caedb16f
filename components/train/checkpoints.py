"""Checkpoints that survive a preempted pod: ``last.pt`` mirrored to ``<checkpoint_root>/<run-id>/<stage>/``.

Layout and restore rules: ``components/train/README.md``.
"""

from __future__ import annotations

import json
import logging
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components._shared.artifacts import LAST_PT
from components._shared.errors import ConfigError, StorageError
from components._shared.run_records import DIAGNOSIS_RECORD
from components._shared.storage import Backend, backend_for, sha256_file
from components._yolo.ddp import world_from_env
from components.train.tensorboard import LOG_DIR

log = logging.getLogger(__name__)

CHECKPOINT = LAST_PT
INFO = "checkpoint.json"
LOGS = LOG_DIR  # the stage log folder, mirrored under the stage's URI
DIAGNOSIS = DIAGNOSIS_RECORD


class CheckpointSync:
    """Mirror ``last.pt`` to an object-store prefix every ``every`` epochs, and restore it on restart.

    Args:
        uri: any URI of the storage registry (``s3://bucket/runs/<run-id>/<stage>/``, a local folder).
        strict: raise when an upload fails; default: warn and train on (a lost checkpoint beats a lost run).
        dataset: ``dataset_identity`` recorded in ``checkpoint.json``; a restore sets ``restored_dataset``.
        **options: for the scheme's backend (``backend_for``).
    """

    def __init__(
        self,
        uri: str,
        *,
        every: int = 1,
        strict: bool = False,
        dataset: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        if every < 1:
            raise ConfigError(f"checkpoint every={every}: must be >= 1 epoch")
        self.uri = str(uri)
        self.every = every
        self.strict = strict
        self._loc: Backend = backend_for(self.uri, **options)
        self.dataset = dataset
        self.restored_epoch: int | None = None
        self.restored_dataset: dict[str, Any] | None = None
        self.uploaded_epoch: int | None = None

    def __repr__(self) -> str:
        return f"CheckpointSync({self.uri!r}, every={self.every})"

    def restore(self, local_path: Path) -> bool:
        """Download ``last.pt`` to ``local_path``; False: start fresh (none, or corrupt ``checkpoint.json``)."""
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
        """``checkpoint.json`` (``{}``: absent) and what is wrong with it; storage failures still raise."""
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
        """Upload ``path`` as ``last.pt``, then ``checkpoint.json``, when ``epoch`` is due or ``force``."""
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
        """Upload ``log_dir``'s event files and ``diagnosis.json``; failures as in ``upload``."""
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
