"""Publish a model as an immutable, verified version and (on a passing gate) promote it to production.

Layout under ``dest`` (``s3://bucket/name`` or a local folder, same layout in both):

    <version>/model.onnx, best.pt, model.json, metrics.json, export.json   (those present)
    <version>/<report>.html|.md|.png, <version>/reports/...                  reports
    <version>/manifest.json     written LAST: name, size, sha256 (and ETag) of every file
    production.json             pointer to the served version, with the previous pointers in ``history``

``dest`` may use any scheme of the storage registry (``components._shared.storage``). ``version`` is
``YYYYmmddTHHMMSSZ-<short dataset fingerprint>`` (UTC). A version without
``manifest.json`` is incomplete (the publish died half-way): it is never listed, served or promoted.

What is uploaded from ``model_dir`` (the rule): the files named in ``PUBLISHED_FILES`` at the top
level, top-level files with a suffix in ``REPORT_SUFFIXES``, and every file under ``reports/``.
Anything else (``last.pt``, caches, ...) stays behind. The folder must hold a model
(``components._shared.artifacts.model_file``: ``model.onnx``, else ``best.pt``); the manifest's
``model`` names that file.

Promotion (``--promote``) only happens when the gate passed (``metrics.json`` ``gate.passed``, or
``PublishConfig.gate_passed``). The gate's baseline for the next run is the current production model:
``components._shared.production.production_baseline_metrics(dest, path)`` writes its ``metrics.json``
for ``yolo-kfp validate --baseline``, so scheduled retraining only replaces the model when the challenger is at least as good.
Two promotions racing on the same ``dest`` are not serialised (last writer wins); the pipeline runs one
publish at a time.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components._shared.artifacts import BEST_PT, MODEL_FILES, MODEL_ONNX, model_file
from components._shared.errors import ConfigError, DatasetError, GateFailed
from components._shared.fsio import link_or_copy
from components._shared.production import PRODUCTION, read_production
from components._shared.storage import Backend, backend_for

log = logging.getLogger(__name__)

PUBLISHED_FILES = (*MODEL_FILES, "model.json", "metrics.json", "export.json")
REPORT_SUFFIXES = (".html", ".md", ".png")
REPORTS_DIR = "reports"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "yolo-kfp-model/v1"
METRIC_KEYS = ("map50", "map50_95", "precision", "recall")


@dataclass(frozen=True)
class PublishConfig:
    """Options of ``publish_model``.

    Attributes:
        fingerprint: dataset fingerprint; ``None`` reads ``dataset_fingerprint`` from model.json
            (then metrics.json). Its first 12 characters end the version name.
        promote: point ``production.json`` at the new version when the gate passed.
        gate_passed: the gate verdict; ``None`` reads ``gate.passed`` from metrics.json.
        version: explicit version name (default: UTC timestamp + short fingerprint).
        history: how many previous production pointers ``production.json`` keeps.
    """

    fingerprint: str | None = None
    promote: bool = False
    gate_passed: bool | None = None
    version: str | None = None
    history: int = 20


@dataclass(frozen=True)
class PublishResult:
    """What ``publish_model`` did."""

    dest: str
    version: str
    uri: str
    manifest_uri: str
    files: int
    bytes: int
    dataset_fingerprint: str | None
    promoted: bool
    promotion: str
    previous_version: str | None
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# ---------------------------------------------------------------- reading model_dir


def collect_model_files(model_dir: Path) -> list[tuple[str, Path]]:
    """The ``(name in the version, local path)`` pairs that the rule in the module docstring selects.

    Raises:
        DatasetError: ``model_dir`` is missing or holds neither model.onnx nor best.pt.
    """
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise DatasetError(f"{model_dir}: model folder not found (it should hold model.onnx and/or best.pt)")
    picked = [(n, model_dir / n) for n in PUBLISHED_FILES if (model_dir / n).is_file()]
    picked += [
        (p.name, p)
        for p in sorted(model_dir.iterdir())
        if p.is_file() and p.suffix.lower() in REPORT_SUFFIXES and not p.name.startswith(".")
    ]
    reports = model_dir / REPORTS_DIR
    if reports.is_dir():
        picked += [
            (f"{REPORTS_DIR}/{p.relative_to(reports).as_posix()}", p)
            for p in sorted(reports.rglob("*"))
            if p.is_file() and not p.name.startswith(".")
        ]
    try:
        model_file(model_dir)
    except ConfigError as err:
        raise DatasetError(
            f"{model_dir}: no {MODEL_ONNX} or {BEST_PT} to publish (run 'yolo-kfp export' first)"
        ) from err
    return picked


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetError(f"{path}: not valid JSON ({err})") from err
    return data if isinstance(data, dict) else {}


def resolve_fingerprint(model_dir: Path, cfg: PublishConfig) -> str | None:
    """``cfg.fingerprint``, else ``dataset_fingerprint`` from model.json, then metrics.json."""
    if cfg.fingerprint:
        return cfg.fingerprint
    for name in ("model.json", "metrics.json"):
        fp = _read_json(Path(model_dir) / name).get("dataset_fingerprint")
        if fp:
            return str(fp)
    return None


def make_version(fingerprint: str | None, now: datetime | None = None) -> str:
    """``YYYYmmddTHHMMSSZ-<first 12 of the fingerprint>`` in UTC (``-nofp`` without one)."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    short = "".join(c for c in (fingerprint or "") if c.isalnum())[:12] or "nofp"
    return f"{stamp}-{short}"


def gate_verdict(metrics: dict[str, Any], cfg: PublishConfig) -> tuple[bool, str]:
    """``(passed, reason)`` from ``cfg.gate_passed`` or metrics.json's ``gate`` block."""
    if cfg.gate_passed is not None:
        return bool(cfg.gate_passed), "gate verdict given by the caller"
    gate = metrics.get("gate")
    if not isinstance(gate, dict) or "passed" not in gate:
        return False, "metrics.json has no gate verdict (run 'yolo-kfp validate' with a threshold)"
    return bool(gate["passed"]), str(gate.get("reason", ""))


# ---------------------------------------------------------------- publishing


def publish_model(model_dir: Path, dest: str, cfg: PublishConfig = PublishConfig()) -> PublishResult:
    """Upload the model files as a new version, verify them, write the manifest last, maybe promote.

    Args:
        model_dir: folder with model.onnx / best.pt, model.json, metrics.json and reports.
        dest: ``s3://bucket/name`` (MinIO from ``MINIO_*``) or a local folder.
        cfg: fingerprint, promotion, version override.

    Returns:
        PublishResult; ``promoted`` says whether production.json now points at this version.

    Raises:
        DatasetError: nothing to publish. ConfigError: the version exists already.
        StorageError: an upload failed after retries (the version then has no manifest: invisible).
    """
    start = time.monotonic()
    model_dir = Path(model_dir)
    files = collect_model_files(model_dir)
    metrics = _read_json(model_dir / "metrics.json")
    card = _read_json(model_dir / "model.json")
    fingerprint = resolve_fingerprint(model_dir, cfg)
    if not fingerprint:
        log.warning("no dataset fingerprint (pass --fingerprint or set dataset_fingerprint in model.json)")
    version = cfg.version or make_version(fingerprint)
    loc = backend_for(dest)
    if loc.list(f"{version}/"):
        raise ConfigError(f"{loc.uri}{'' if loc.uri.endswith('/') else '/'}{version}: version exists already")
    stored = upload_version_files(loc, version, files)
    manifest = build_manifest(version, fingerprint, stored, metrics, card, model=model_file(model_dir).name)
    manifest_file = loc.put_json(f"{version}/{MANIFEST}", manifest)
    nbytes = sum(f["size"] for f in stored)
    log.info(
        "published %s: %d files, %.1f MB, manifest %s", version, len(stored), nbytes / 1e6, manifest_file.uri
    )
    promoted, promotion, previous = False, "not requested", None
    if cfg.promote:
        passed, reason = gate_verdict(metrics, cfg)
        if passed:
            pointer = promote_version(dest, version, gate_passed=True, history=cfg.history, _location=loc)
            promoted, promotion = True, "promoted"
            previous = pointer["history"][0]["version"] if pointer["history"] else None
        else:
            promotion = f"refused: the gate did not pass ({reason})"
            log.warning("%s not promoted: the gate did not pass (%s)", version, reason)
    return PublishResult(
        dest=dest,
        version=version,
        uri=_join(loc.uri, version) + "/",
        manifest_uri=manifest_file.uri,
        files=len(stored),
        bytes=nbytes,
        dataset_fingerprint=fingerprint,
        promoted=promoted,
        promotion=promotion,
        previous_version=previous,
        seconds=round(time.monotonic() - start, 3),
    )


def upload_version_files(loc: Backend, version: str, files: list[tuple[str, Path]]) -> list[dict[str, Any]]:
    """Upload (and verify) every file under ``<version>/``; the version stays invisible until the manifest."""
    stored = []
    for name, path in files:
        if name in (MANIFEST, PRODUCTION):
            continue
        sf = loc.put_file(f"{version}/{name}", path)
        log.info("uploaded %s (%d bytes, sha256 %s)", sf.uri, sf.size, sf.sha256[:12])
        stored.append({"name": name, "size": sf.size, "sha256": sf.sha256, "etag": sf.etag})
    return stored


def build_manifest(
    version: str,
    fingerprint: str | None,
    stored: list[dict[str, Any]],
    metrics: dict[str, Any],
    card: dict[str, Any],
    *,
    model: str | None,
) -> dict[str, Any]:
    """The manifest document: the version's files with sizes and checksums, metrics and gate.

    Args:
        model: the name of the model file among ``stored`` (``artifacts.model_file``), or None.
    """
    return {
        "format": MANIFEST_FORMAT,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset_fingerprint": fingerprint,
        "model": model,
        "files": stored,
        "metrics": {k: metrics[k] for k in METRIC_KEYS if k in metrics},
        "gate": metrics.get("gate"),
        "classes": card.get("classes"),
        "imgsz": card.get("imgsz") or card.get("image_size"),
    }


# ---------------------------------------------------------------- production pointer


def list_versions(dest: str) -> list[str]:
    """Complete versions under ``dest`` (those with a manifest), oldest first."""
    names = backend_for(dest).list()
    return sorted({n.split("/")[0] for n in names if n.count("/") == 1 and n.endswith(f"/{MANIFEST}")})


def promote_version(
    dest: str,
    version: str,
    *,
    gate_passed: bool | None = None,
    history: int = 20,
    _location: Backend | None = None,
) -> dict[str, Any]:
    """Point ``production.json`` at ``version``; the previous pointer goes to the front of ``history``.

    Args:
        dest: ``s3://bucket/name`` or a local folder.
        version: a complete version under ``dest``.
        gate_passed: the verdict; ``None`` uses the gate recorded in the version's manifest.
        history: how many previous pointers to keep.

    Returns:
        The new production pointer.

    Raises:
        ConfigError: the version has no manifest (incomplete) or misses a file listed in it.
        GateFailed: the gate did not pass.
    """
    loc = _location or backend_for(dest)
    manifest = loc.get_json(f"{version}/{MANIFEST}")
    if not isinstance(manifest, dict):
        raise ConfigError(
            f"{_join(loc.uri, version)}: no {MANIFEST}: the version is incomplete (publish interrupted?) "
            "and is never promoted; publish again"
        )
    missing = [f["name"] for f in manifest.get("files", []) if not loc.exists(f"{version}/{f['name']}")]
    if missing:
        raise ConfigError(f"{_join(loc.uri, version)}: files listed in {MANIFEST} are missing: {missing}")
    gate = manifest.get("gate") or {}
    passed = gate.get("passed") if gate_passed is None else gate_passed
    if not passed:
        raise GateFailed(
            f"{_join(loc.uri, version)}: the gate did not pass ({gate.get('reason', 'no verdict')})"
        )
    previous = read_production(dest, backend=loc)
    old_history = list(previous.get("history", [])) if previous is not None else []
    if previous is not None:
        old_history.insert(0, {k: v for k, v in previous.items() if k != "history"})
    pointer = {
        "version": version,
        "uri": _join(loc.uri, version) + "/",
        "manifest": f"{version}/{MANIFEST}",
        "model": f"{version}/{manifest['model']}" if manifest.get("model") else None,
        "dataset_fingerprint": manifest.get("dataset_fingerprint"),
        "metrics": manifest.get("metrics", {}),
        "gate": manifest.get("gate"),
        "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "history": old_history[: max(0, history)],
    }
    loc.put_json(PRODUCTION, pointer)
    log.info("promoted %s (previous: %s)", version, old_history[0]["version"] if old_history else "none")
    return pointer


def _join(uri: str, rel: str) -> str:
    return f"{uri.rstrip('/')}/{rel}"


# ---------------------------------------------------------------- the pipeline task


def run_publish_stage(
    onnx_dir: Path,
    weights: Path,
    validation_dir: Path,
    dest: str,
    fingerprint: str,
    promote: bool,
    *,
    gate_passed: bool | None = None,
) -> PublishResult:
    """Assemble the publish folder from the pipeline's artifacts, then ``publish_model``.

    ``onnx_dir`` gives model.onnx, model.json, export.json and its plots; ``weights`` is best.pt (or a
    folder holding it); ``validation_dir`` gives metrics.json at the top and its plots and reports
    under ``reports/``.
    """
    onnx_dir, weights, validation_dir = Path(onnx_dir), Path(weights), Path(validation_dir)
    best = weights / BEST_PT if weights.is_dir() else weights
    with tempfile.TemporaryDirectory(prefix="yolo-kfp-publish-") as tmp_name:
        tmp = Path(tmp_name)
        for name in (MODEL_ONNX, "model.json", "export.json"):
            if (onnx_dir / name).is_file():
                link_or_copy(onnx_dir / name, tmp / name)
        if best.is_file():
            link_or_copy(best, tmp / BEST_PT)
        if (validation_dir / "metrics.json").is_file():
            link_or_copy(validation_dir / "metrics.json", tmp / "metrics.json")
        (tmp / REPORTS_DIR).mkdir()
        for p in sorted(validation_dir.iterdir()) if validation_dir.is_dir() else []:
            if p.is_file() and p.name != "metrics.json" and p.suffix.lower() in (*REPORT_SUFFIXES, ".json"):
                link_or_copy(p, tmp / REPORTS_DIR / p.name)
        cfg = PublishConfig(fingerprint=fingerprint or None, promote=promote, gate_passed=gate_passed)
        result = publish_model(tmp, dest, cfg)
    return result
