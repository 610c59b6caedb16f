"""Publish a model as an immutable, verified version and promote it when the gate passed (``README.md``)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import random
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components._shared.artifacts import (
    BEST_PT,
    MODEL_E2E_ONNX,
    MODEL_FILES,
    MODEL_ONNX,
    class_names,
    model_file,
)
from components._shared.errors import ConfigError, DatasetError, GateFailed, StorageError, YoloKfpError
from components._shared.fsio import link_or_copy, overlap
from components._shared.production import (
    MANIFEST,
    PRODUCTION,
    check_pointer,
    load_manifest,
    manifest_files,
    verify_version,
)
from components._shared.run_records import PUBLISH_RECORD, write_record
from components._shared.storage import (
    Backend,
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    StoredFile,
    backend_for,
    file_digests,
    scheme_of,
)
from components.publish.triton import (
    TRITON_DIR,
    lay_out_version,
    served_specs,
    sync_config,
    triton_model_name,
    triton_spec,
)

log = logging.getLogger(__name__)

PUBLISHED_FILES = (*MODEL_FILES, MODEL_E2E_ONNX, "model.json", "metrics.json", "export.json")
REPORT_SUFFIXES = (".html", ".md", ".png")
REPORTS_DIR = "reports"
CLAIMS_DIR = "claims"
INDEX_DIR = "by-sha256"
RESERVED_NAMES = frozenset({CLAIMS_DIR, INDEX_DIR, PRODUCTION, REPORTS_DIR, TRITON_DIR})
MANIFEST_FORMAT = "yolo-kfp-model/v1"
METRIC_KEYS = ("map50", "map50_95", "precision", "recall")
PROMOTE_ATTEMPTS = 8
PROMOTE_BACKOFF_S = (0.05, 1.0)  # first and largest pause between compare-and-swap attempts


class PublishConflict(ConfigError):
    """Another writer owns the version name, or production.json kept changing under a promotion."""


class StaleGate(GateFailed):
    """The gate measured another production model (or none) than the one production.json names now."""


@dataclass(frozen=True)
class PublishConfig:
    """Options of ``publish_model`` (``components/publish/README.md``).

    Attributes:
        fingerprint: dataset fingerprint; ``None`` reads ``dataset_fingerprint`` from model.json, then metrics.json.
        promote: point ``production.json`` at the new version when the gate passed.
        gate_passed: the gate verdict; ``None`` reads ``gate.passed`` from metrics.json.
        version: explicit version name (default: UTC timestamp + short fingerprint).
        history: how many previous production pointers ``production.json`` keeps.
        allow_class_change: promote even when production's class list (names, order) differs.
        triton_model: the model's name in the Triton repository (default: the last part of ``dest``).
    """

    fingerprint: str | None = None
    promote: bool = False
    gate_passed: bool | None = None
    version: str | None = None
    history: int = 20
    allow_class_change: bool = False
    triton_model: str | None = None


@dataclass(frozen=True)
class PublishResult:
    """What ``publish_model`` did (``reused``: identical content was already published as ``version``)."""

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
    reused: bool = False
    classes: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def collect_model_files(model_dir: Path) -> list[tuple[str, Path]]:
    """The ``(name in the version, local path)`` pairs of the README's upload rule (DatasetError: no model)."""
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


def resolve_fingerprint(cfg: PublishConfig, card: dict[str, Any], metrics: dict[str, Any]) -> str | None:
    """``cfg.fingerprint``, else ``dataset_fingerprint`` from model.json, then metrics.json."""
    fp = cfg.fingerprint or card.get("dataset_fingerprint") or metrics.get("dataset_fingerprint")
    return str(fp) if fp else None


def model_classes(card: dict[str, Any], metrics: dict[str, Any]) -> list[str] | None:
    """The model's class names in order: model.json ``names`` (or its older ``classes``), else metrics.json."""
    for value in (card.get("names"), card.get("classes"), metrics.get("names")):
        with contextlib.suppress(ConfigError):
            return list(class_names(value, "model.json"))
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


def content_digest(digests: dict[str, tuple[int, str]]) -> str:
    """sha256 over the sorted ``name size sha256`` lines: equal exactly when the published content is."""
    lines = "".join(f"{name}\t{size}\t{sha}\n" for name, (size, sha) in sorted(digests.items()))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def check_dest(model_dir: Path, dest: str) -> None:
    """Refuse (ConfigError) a local ``dest`` that overlaps the model folder or lies in a published version."""
    if scheme_of(dest) != "file":
        return
    out = Path(backend_for(dest).uri).expanduser().resolve()
    where = overlap(out, Path(model_dir).expanduser().resolve())
    if where:
        raise ConfigError(
            f"--dest {dest} {where} the model folder {model_dir}: publish to a folder of its own "
            "(nothing was changed)"
        )
    for folder in (out, *out.parents):
        try:
            manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue  # no manifest here (or not ours)
        if isinstance(manifest, dict) and manifest.get("format") == MANIFEST_FORMAT:
            raise ConfigError(
                f"--dest {dest} is or lies inside the published version {folder} (it holds {MANIFEST}): "
                f"a version folder is never changed; publish to the destination holding it ({folder.parent})"
            )


def check_version_name(version: str) -> None:
    """Refuse version names that are not one plain folder name or collide with the layout's own names."""
    if (
        not version
        or "/" in version
        or "\\" in version
        or version in RESERVED_NAMES
        or version.startswith(".")
    ):
        raise ConfigError(
            f"--version {version!r}: not usable as a version name (one folder name, not "
            f"{', '.join(sorted(RESERVED_NAMES))}, not starting with '.')"
        )


def publish_model(model_dir: Path, dest: str, cfg: PublishConfig = PublishConfig()) -> PublishResult:
    """Claim a version, upload the files create-only, write the manifest last, maybe promote.

    Raises:
        DatasetError, ConfigError: nothing to publish, or ``dest`` overlaps the model folder.
        PublishConflict, GateFailed, StaleGate: the name is taken, the classes differ, the gate is stale.
        StorageError: an upload failed, or production.json is not a pointer.
    """
    start = time.monotonic()
    model_dir = Path(model_dir)
    check_dest(model_dir, dest)
    files = collect_model_files(model_dir)
    metrics = _read_json(model_dir / "metrics.json")
    card = _read_json(model_dir / "model.json")
    fingerprint = resolve_fingerprint(cfg, card, metrics)
    if not fingerprint:
        log.warning("no dataset fingerprint (pass --fingerprint or set dataset_fingerprint in model.json)")
    digests = {name: file_digests(path)[:2] for name, path in files}
    content = content_digest(digests)
    loc = backend_for(dest)
    found = find_published(loc, content, digests)
    if found is not None:
        version, manifest = found
        manifest_uri, manifest_sha = loc.uri_of(f"{version}/{MANIFEST}"), None
        log.info("identical content is already published as %s: nothing uploaded", version)
    else:
        version = cfg.version or make_version(fingerprint)
        manifest, stored = _publish_new(loc, version, files, digests, content, fingerprint, metrics, card)
        manifest_uri, manifest_sha = stored.uri, stored.sha256
    promoted, promotion, previous = False, "not requested", None
    if cfg.promote:
        passed, reason = gate_verdict(metrics, cfg)
        if passed:
            with _disk_errors(loc, f"{version} is published but not promoted (production unchanged)"):
                pointer = _promote(
                    loc,
                    version,
                    manifest,
                    manifest_sha or _stored_sha256(loc, version),
                    gate=metrics.get("gate"),
                    history=cfg.history,
                    allow_class_change=cfg.allow_class_change,
                    model_path=model_dir / MODEL_ONNX,
                    triton_model=cfg.triton_model,
                )
            promoted, promotion = True, "promoted"
            previous = pointer["history"][0]["version"] if pointer["history"] else None
        else:
            promotion = f"refused: the gate did not pass ({reason})"
            log.warning("%s not promoted: the gate did not pass (%s)", version, reason)
    return PublishResult(
        dest=dest,
        version=version,
        uri=loc.uri_of(version) + "/",
        manifest_uri=manifest_uri,
        files=len(manifest.get("files", [])),
        bytes=sum(int(f.get("size", 0)) for f in manifest.get("files", [])),
        dataset_fingerprint=manifest.get("dataset_fingerprint", fingerprint),
        promoted=promoted,
        promotion=promotion,
        previous_version=previous,
        seconds=round(time.monotonic() - start, 3),
        reused=found is not None,
        classes=manifest.get("classes"),
    )


def _publish_new(
    loc: Backend,
    version: str,
    files: list[tuple[str, Path]],
    digests: dict[str, tuple[int, str]],
    content: str,
    fingerprint: str | None,
    metrics: dict[str, Any],
    card: dict[str, Any],
) -> tuple[dict[str, Any], StoredFile]:
    check_version_name(version)
    writer = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
    with _disk_errors(loc, "nothing was published"):
        claim_version(loc, version, writer=writer, content_sha256=content)
    try:
        stored = upload_version_files(loc, version, files)
        _check_claim(loc, version, writer)
        for entry in stored:
            if (entry["size"], entry["sha256"]) != digests[entry["name"]]:
                raise ConfigError(
                    f"{entry['name']} changed while it was being published: publish again from a folder "
                    "nobody is writing to"
                )
        manifest = build_manifest(
            version,
            fingerprint,
            stored,
            metrics,
            card,
            model=next((n for n in MODEL_FILES if n in digests), None),
            writer=writer,
            content_sha256=content,
        )
        try:
            manifest_file = loc.create_json(f"{version}/{MANIFEST}", manifest)
        except ObjectExistsError as err:
            raise PublishConflict(f"{loc.uri_of(version)}: {MANIFEST} exists already ({err})") from None
    except OSError as err:  # the disk refused a write: take back what this claim wrote, then the claim
        _remove_unpublished(loc, version, [name for name, _ in files])
        raise _disk_error(err, loc, f"{version} was not published (its partial files are removed)") from err
    _record_content(loc, content, version, manifest_file.sha256)
    nbytes = sum(f["size"] for f in stored)
    log.info(
        "published %s: %d files, %.1f MB, manifest %s", version, len(stored), nbytes / 1e6, manifest_file.uri
    )
    return manifest, manifest_file


def _disk_error(err: OSError, loc: Backend, outcome: str) -> StorageError:
    """One line for a local write the disk refused (full, read-only, a file where a folder should be)."""
    where = f" ({err.filename})" if err.filename else ""
    return StorageError(
        f"{loc.uri}: cannot write: {err.strerror or err}{where}: {outcome}; free space, make it writable "
        "or choose a --dest folder that can be created"
    )


@contextlib.contextmanager
def _disk_errors(loc: Backend, outcome: str) -> Iterator[None]:
    try:
        yield
    except OSError as err:
        raise _disk_error(err, loc, outcome) from err


def _remove_unpublished(loc: Backend, version: str, names: list[str]) -> None:
    """Best effort: remove what this writer uploaded under its claimed ``version``, then the claim."""
    for rel in [*(f"{version}/{n}" for n in names), f"{CLAIMS_DIR}/{version}.json"]:
        with contextlib.suppress(OSError, YoloKfpError):
            loc.delete(rel)
    if scheme_of(loc.uri) == "file":  # empty folders are left by the local backend only
        for folder in (Path(loc.uri_of(version)), Path(loc.uri_of(CLAIMS_DIR))):
            with contextlib.suppress(OSError):
                for sub in sorted(folder.rglob("*"), reverse=True):
                    if sub.is_dir():
                        sub.rmdir()
                folder.rmdir()


def claim_version(loc: Backend, version: str, *, writer: str, content_sha256: str) -> None:
    """Own the version name before writing under it (create-only claim); PublishConflict when taken."""
    where = loc.uri_of(version)
    if loc.list(f"{version}/"):
        raise PublishConflict(f"{where}: version exists already: publish under another --model-version")
    claim = {
        "version": version,
        "writer": writer,
        "content_sha256": content_sha256,
        "claimed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    try:
        loc.create_json(f"{CLAIMS_DIR}/{version}.json", claim)
    except ObjectExistsError:
        other = loc.get_json(f"{CLAIMS_DIR}/{version}.json") or {}
        raise PublishConflict(
            f"{where}: version exists already (claimed by {other.get('writer', 'another writer')} at "
            f"{other.get('claimed_at', '?')}): publish under another --model-version"
        ) from None


def _check_claim(loc: Backend, version: str, writer: str) -> None:
    """Re-read the claim before the manifest (a store's conditional write may not be atomic)."""
    claim = loc.get_json(f"{CLAIMS_DIR}/{version}.json")
    holder = claim.get("writer") if isinstance(claim, dict) else None
    if holder != writer:
        raise PublishConflict(
            f"{loc.uri_of(version)}: version exists already (claimed by {holder or 'another writer'} "
            "at the same moment): publish under another --model-version"
        )


def upload_version_files(loc: Backend, version: str, files: list[tuple[str, Path]]) -> list[dict[str, Any]]:
    """Upload (and verify) every file under ``<version>/`` create-only; PublishConflict when one exists."""
    stored = []
    for name, path in files:
        if name in (MANIFEST, PRODUCTION):
            continue
        try:
            sf = loc.create_file(f"{version}/{name}", path)
        except ObjectExistsError as err:
            raise PublishConflict(f"{loc.uri_of(version)}: version exists already ({err})") from None
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
    writer: str | None = None,
    content_sha256: str | None = None,
) -> dict[str, Any]:
    """The manifest document: the version's files with sizes and sha256, metrics, gate and classes."""
    return {
        "format": MANIFEST_FORMAT,
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset_fingerprint": fingerprint,
        "model": model,
        "files": stored,
        "metrics": {k: metrics[k] for k in METRIC_KEYS if k in metrics},
        "gate": metrics.get("gate"),
        "classes": model_classes(card, metrics),
        "imgsz": card.get("imgsz") or card.get("image_size"),
        "writer": writer,
        "content_sha256": content_sha256,
    }


def find_published(
    loc: Backend, content: str, digests: dict[str, tuple[int, str]]
) -> tuple[str, dict[str, Any]] | None:
    """The version already holding exactly this content, when its manifest and stored sizes agree."""
    index = loc.get_json(f"{INDEX_DIR}/{content}.json")
    version = index.get("version") if isinstance(index, dict) else None
    if not version:
        return None
    manifest = loc.get_json(f"{version}/{MANIFEST}")
    listed = {name: (f.get("size"), f.get("sha256")) for name, f in manifest_files(manifest).items()}
    if not isinstance(manifest, dict) or listed != digests:
        log.warning("%s: %s does not match its manifest: publishing a new version", loc.uri, version)
        return None
    for name, (size, _) in digests.items():
        try:
            if loc.stat(f"{version}/{name}").size != size:
                raise ObjectNotFoundError(name)
        except ObjectNotFoundError:
            log.warning("%s: %s/%s is missing or resized: publishing a new version", loc.uri, version, name)
            return None
    return str(version), manifest


def _record_content(loc: Backend, content: str, version: str, manifest_sha256: str) -> None:
    """Point ``by-sha256/<content>.json`` at ``version`` (first writer wins; a stale entry is replaced)."""
    rel = f"{INDEX_DIR}/{content}.json"
    doc = {"version": version, "manifest": f"{version}/{MANIFEST}", "manifest_sha256": manifest_sha256}
    found = loc.get_json_etag(rel)
    try:
        loc.replace_json(rel, doc, etag=found[1] if found else None)
    except PreconditionFailedError:
        log.info("%s: another version with the same content was indexed first", loc.uri_of(rel))
    except OSError as err:  # only an index (re-publishing then makes a new version): not worth failing for
        log.warning(
            "%s: not written (%s): %s is published but not indexed", loc.uri_of(rel), err.strerror, version
        )


def _stored_sha256(loc: Backend, version: str) -> str:
    with tempfile.TemporaryDirectory(prefix="yolo-kfp-manifest-") as tmp:
        return load_manifest(loc, version, Path(tmp))[1]


def list_versions(dest: str) -> list[str]:
    """Complete versions under ``dest`` (those with a manifest), oldest first."""
    names = backend_for(dest).list()
    return sorted({n.split("/")[0] for n in names if n.count("/") == 1 and n.endswith(f"/{MANIFEST}")})


def promote_version(
    dest: str,
    version: str,
    *,
    gate_passed: bool | None = None,
    history: int = PublishConfig.history,
    allow_class_change: bool = False,
    triton_model: str | None = None,
) -> dict[str, Any]:
    """Point ``production.json`` at an existing, verified ``version``; returns the new (or unchanged) pointer.

    A version in production's history is a rollback and skips the stale-gate check.
    """
    loc = backend_for(dest)
    with tempfile.TemporaryDirectory(prefix="yolo-kfp-promote-") as tmp:
        manifest, manifest_sha = verify_version(loc, version, Path(tmp))
        gate = manifest.get("gate") or {}
        passed = gate.get("passed") if gate_passed is None else gate_passed
        if not passed:
            raise GateFailed(
                f"{loc.uri_of(version)}: the gate did not pass ({gate.get('reason', 'no verdict')})"
            )
        with _disk_errors(loc, f"{version} was not promoted (production unchanged)"):
            return _promote(
                loc,
                version,
                manifest,
                manifest_sha,
                gate=gate,
                rollback_ok=True,
                history=history,
                allow_class_change=allow_class_change,
                model_path=Path(tmp) / "files" / MODEL_ONNX,
                triton_model=triton_model,
            )


def _promote(
    loc: Backend,
    version: str,
    manifest: dict[str, Any],
    manifest_sha256: str,
    *,
    gate: Any,
    history: int,
    allow_class_change: bool,
    rollback_ok: bool = False,
    model_path: Path | None = None,
    triton_model: str | None = None,
) -> dict[str, Any]:
    """Lay out the Triton version, compare-and-swap ``production.json`` (retrying), then sync config.pbtxt."""
    current = _read_pointer(loc)[0]
    if current is None or current.get("version") != version:  # refuse before laying anything out
        check_gate_measured(loc, version, gate, current, rollback_ok=rollback_ok)
    triton = _lay_out_triton(loc, version, manifest, model_path, triton_model)
    base = {
        "version": version,
        "uri": loc.uri_of(version) + "/",
        "manifest": f"{version}/{MANIFEST}",
        "manifest_sha256": manifest_sha256,
        "model": f"{version}/{manifest['model']}" if manifest.get("model") else None,
        "dataset_fingerprint": manifest.get("dataset_fingerprint"),
        "classes": manifest.get("classes"),
        "imgsz": manifest.get("imgsz"),
        "metrics": manifest.get("metrics", {}),
        "gate": manifest.get("gate"),
        "triton": triton,
    }
    for attempt in range(1, PROMOTE_ATTEMPTS + 1):
        current, etag = _read_pointer(loc)
        if current is not None and current.get("version") == version:
            log.info("%s is already in production: nothing to change", version)
            sync_config(loc)
            return current
        check_gate_measured(loc, version, gate, current, rollback_ok=rollback_ok)
        check_classes(loc, version, manifest.get("classes"), current, allow_class_change=allow_class_change)
        pointer = {
            **base,
            "promotion_id": uuid.uuid4().hex,
            "promoted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "history": _history(current, history),
        }
        try:
            loc.replace_json(PRODUCTION, pointer, etag=etag)
        except PreconditionFailedError:
            if attempt == PROMOTE_ATTEMPTS:
                break
            first, largest = PROMOTE_BACKOFF_S
            pause = min(largest, first * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)  # noqa: S311
            log.info(
                "production.json changed during promotion of %s: retry %d in %.2fs", version, attempt, pause
            )
            time.sleep(pause)
            continue
        log.info("promoted %s (previous: %s)", version, current.get("version") if current else "none")
        sync_config(loc)
        return pointer
    raise PublishConflict(
        f"{loc.uri_of(PRODUCTION)}: changed by other promotions during {PROMOTE_ATTEMPTS} attempts to "
        f"promote {version}: promote again (yolo-kfp promote --dest DEST --model-version {version})"
    )


def _read_pointer(loc: Backend) -> tuple[dict[str, Any] | None, str | None]:
    """production.json (schema-checked) and its ETag; ``(None, None)`` when nothing was promoted yet."""
    found = loc.get_json_etag(PRODUCTION)
    if found is None:
        return None, None
    return check_pointer(found[0], loc.uri_of(PRODUCTION)), found[1]


def measured_production(gate: Any) -> tuple[str, str] | None:
    """``(version, manifest sha256)`` of the production model the gate measured; None for none."""
    if not isinstance(gate, dict):
        return None
    version, sha = gate.get("champion_version"), gate.get("champion_manifest_sha256")
    return (str(version), str(sha)) if version and sha else None


def check_gate_measured(
    loc: Backend, version: str, gate: Any, current: dict[str, Any] | None, *, rollback_ok: bool = False
) -> None:
    """Refuse (StaleGate) a promotion whose gate did not measure the production model it replaces."""
    if current is None:
        return
    now = (str(current["version"]), str(current["manifest_sha256"]))
    measured = measured_production(gate)
    if measured == now:
        return
    if rollback_ok and any(h.get("version") == version for h in current.get("history", [])):
        log.info("%s was in production before: rolling back to it", version)
        return
    seen = f"{measured[0]} (manifest {measured[1][:12]})" if measured else "no production model"
    raise StaleGate(
        f"{loc.uri_of(PRODUCTION)}: production is {now[0]} (manifest {now[1][:12]}) but the gate of {version} "
        f"measured {seen}: not promoted ({version} stays published, production unchanged); validate it "
        "against the current production (yolo-kfp validate --champion-dest DEST) and publish again"
    )


def _lay_out_triton(
    loc: Backend, version: str, manifest: dict[str, Any], model_path: Path | None, name: str | None
) -> dict[str, Any] | None:
    """The version's Triton folders, written before the pointer names them; None without an ONNX model.

    With ``model_e2e.onnx``, that is ``<model>`` and the raw one ``<model>-raw`` (``spec['raw']``).
    """
    listed = manifest_files(manifest)
    entry = listed.get(MODEL_ONNX)
    if entry is None or model_path is None or not model_path.is_file():
        log.warning("%s has no %s: not laid out for Triton", version, MODEL_ONNX)
        return None
    model = triton_model_name(loc.uri, name)
    e2e_path = model_path.parent / MODEL_E2E_ONNX
    e2e_entry = listed.get(MODEL_E2E_ONNX)
    try:
        raw = triton_spec(model_path, model=model, version=version, model_sha256=str(entry.get("sha256")))
        if e2e_entry is not None and e2e_path.is_file():
            spec = triton_spec(
                e2e_path, model=model, version=version, model_sha256=str(e2e_entry.get("sha256")),
                source=MODEL_E2E_ONNX,
            )  # fmt: skip
            raw["model"] = f"{model}-raw"
            spec["raw"] = raw
        else:
            spec = raw
    except DatasetError as err:
        log.warning("%s: not laid out for Triton: %s", version, err)
        return None
    for served in served_specs(spec):
        lay_out_version(loc, served, e2e_path if served.get("source") == MODEL_E2E_ONNX else model_path)
    return spec


def _history(current: dict[str, Any] | None, keep: int) -> list[dict[str, Any]]:
    """The new history: the current pointer (without its history) first, then its history; no repeats."""
    if current is None:
        return []
    entries = [{k: v for k, v in current.items() if k != "history"}]
    entries += [h for h in current.get("history", []) if isinstance(h, dict)]
    seen: set[tuple[Any, ...]] = set()
    out = []
    for h in entries:
        key = (h.get("promotion_id"),) if h.get("promotion_id") else (h.get("version"), h.get("promoted_at"))
        if key not in seen:
            seen.add(key)
            out.append(h)
    return out[: max(0, keep)]


def check_classes(
    loc: Backend,
    version: str,
    classes: list[str] | None,
    current: dict[str, Any] | None,
    *,
    allow_class_change: bool,
) -> None:
    """Refuse (GateFailed) a promotion that changes production's class list, unless ``allow_class_change``."""
    old = current.get("classes") if current else None
    if not classes or not old or list(old) == list(classes):
        return
    if allow_class_change:
        log.warning("%s changes the class list %s -> %s (allowed)", version, old, classes)
        return
    raise GateFailed(
        f"{loc.uri_of(version)} has classes {list(classes)} but production ({current.get('version')}) "
        f"has {list(old)}: promotion refused; pass --allow-class-change (allow_class_change) to replace them"
    )


def run_publish_stage(
    onnx_dir: Path,
    weights: Path,
    validation_dir: Path,
    dest: str,
    fingerprint: str,
    promote: bool,
    *,
    gate_passed: bool | None = None,
    allow_class_change: bool = False,
    record_to: str = "",
) -> PublishResult:
    """The pipeline task: publish the export, weights and validation artifacts (plots under ``reports/``).

    ``record_to`` receives ``publish.json`` for the run summary.
    """
    onnx_dir, weights, validation_dir = Path(onnx_dir), Path(weights), Path(validation_dir)
    best = weights / BEST_PT if weights.is_dir() else weights
    with tempfile.TemporaryDirectory(prefix="yolo-kfp-publish-") as tmp_name:
        tmp = Path(tmp_name)
        for name in (MODEL_ONNX, MODEL_E2E_ONNX, "model.json", "export.json"):
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
        cfg = PublishConfig(
            fingerprint=fingerprint or None,
            promote=promote,
            gate_passed=gate_passed,
            allow_class_change=allow_class_change,
        )
        result = publish_model(tmp, dest, cfg)
    write_record(record_to, PUBLISH_RECORD, result.to_dict())
    return result
