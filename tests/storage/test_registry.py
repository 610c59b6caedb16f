"""The storage scheme registry: one mapping from scheme to backend, the same interface on S3 and local disk."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from moto_s3 import SECRET, S3Admin

from components._shared.errors import ConfigError
from components._shared.storage import (
    BACKENDS,
    Backend,
    ObjectExistsError,
    ObjectNotFoundError,
    PreconditionFailedError,
    backend_for,
    scheme_of,
    split_uri,
)
from components._shared.storage.local import LocalBackend
from components._shared.storage.s3 import S3Backend
from components._shared.weights import resolve_weights

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["s3", "file"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """An empty root on moto or in a local folder."""
    if request.param == "file":
        return backend_for(tmp_path / "root")
    return backend_for(f"s3://{request.getfixturevalue('bucket')}/root")


def test_registry_maps_schemes_to_backend_modules() -> None:
    """It lists s3 and file, and opens each URI with the backend of its scheme."""
    assert tuple(BACKENDS) == ("s3", "file")
    assert [scheme_of(u) for u in ("s3://b/k", "S3://b/k", "/tmp/x", "rel/x", "file:///x", "gs://b")] == [
        "s3",
        "s3",
        "file",
        "file",
        "file",
        "gs",
    ]
    assert isinstance(backend_for("/tmp/x"), LocalBackend)
    assert backend_for("file:///tmp/x").uri == "/tmp/x"


def test_s3_backend_is_opened_from_the_uri(s3: S3Admin, bucket: str) -> None:
    """It roots an S3 backend at the URI's prefix (with a trailing slash), with the options given."""
    b = backend_for(f"s3://{bucket}/runs/x", workers=3)
    assert isinstance(b, S3Backend) and b.uri == f"s3://{bucket}/runs/x/" and b.endpoint == s3.endpoint
    assert b.uri_of("a/b.json") == f"s3://{bucket}/runs/x/a/b.json" and b.workers == 3
    sub = b.child("v1")
    assert sub.uri == f"s3://{bucket}/runs/x/v1/" and sub._client is b._client and b.uri.endswith("x/")


def test_importing_the_registry_imports_no_backend() -> None:
    """It imports neither backend module nor the minio client until a scheme is used (a fresh process)."""
    code = (
        "import sys, components._shared.storage as s, components._shared.weights\n"
        "loaded = [m for m in sys.modules if m == 'minio' or m.startswith(('minio.', s.__name__ + '.s3', s.__name__ + '.local'))]\n"
        "assert not loaded, loaded\n"
        "s.backend_for('/tmp/x')\n"
        "assert 'components._shared.storage.local' in sys.modules and 'minio' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]


@pytest.mark.parametrize("uri", ["gs://x/y.pt", "http+unix://sock/x"])
def test_unknown_scheme_is_one_line_naming_the_supported_ones(uri: str) -> None:
    """It refuses a scheme nobody registered with one line listing s3://, file:// and local paths."""
    with pytest.raises(ConfigError) as info:
        backend_for(uri)
    msg = str(info.value)
    assert "\n" not in msg and f"'{scheme_of(uri)}://'" in msg and "s3://, file:// or a local path" in msg


def test_split_uri_gives_parent_and_name() -> None:
    """It splits an object URI into the parent a backend opens and the name inside it."""
    assert split_uri("s3://b/models/v1/best.pt") == ("s3://b/models/v1/", "best.pt")
    assert split_uri("s3://b/best.pt") == ("s3://b/", "best.pt")
    assert split_uri("/w/best.pt") == ("/w", "best.pt")
    assert split_uri("file:///w/best.pt") == ("/w", "best.pt")
    for folder in ("s3://b/models/", "s3://b", "/w/"):
        with pytest.raises(ConfigError, match="not an? (object|file)"):
            split_uri(folder)


def test_every_backend_offers_the_same_operations(backend: Backend, tmp_path: Path) -> None:
    """It writes, stats, lists, reads back and deletes files and JSON identically on S3 and local disk."""
    src = tmp_path / "m.bin"
    src.write_bytes(os.urandom(2048))
    stored = backend.put_file("v1/m.bin", src)
    backend.put_json("v1/info.json", {"epoch": 2})
    entry = backend.stat("v1/m.bin")
    assert (entry.name, entry.size, stored.size) == ("v1/m.bin", 2048, 2048) and entry.etag
    assert entry.uri == backend.uri_of("v1/m.bin") == stored.uri
    assert backend.list() == ["v1/info.json", "v1/m.bin"] and backend.list("v1/m") == ["v1/m.bin"]
    assert [e.name for e in backend.list_entries("v1/")] == ["v1/info.json", "v1/m.bin"]
    assert backend.get_json("v1/info.json") == {"epoch": 2} and backend.get_json("nope.json") is None
    assert backend.get_file("v1/m.bin", tmp_path / "out" / "m.bin")
    assert (tmp_path / "out" / "m.bin").read_bytes() == src.read_bytes()
    assert not backend.get_file("v1/missing.bin", tmp_path / "out" / "x")
    n = backend.get_files([(entry, tmp_path / "many" / "m.bin")], progress=False)
    assert n == 2048 and (tmp_path / "many" / "m.bin").read_bytes() == src.read_bytes()
    assert backend.child("v1").get_json("info.json") == {"epoch": 2}
    backend.delete("v1/m.bin")
    backend.delete("v1/m.bin")  # already gone: no error
    assert not backend.exists("v1/m.bin") and backend.exists("v1/info.json")
    with pytest.raises(ObjectNotFoundError):
        backend.stat("v1/m.bin")


def test_local_etag_changes_when_the_file_is_rewritten(tmp_path: Path) -> None:
    """It gives a new version token after every write (what compare-and-swap will check)."""
    b = backend_for(tmp_path)
    b.put_json("p.json", {"v": 1})
    first = b.stat("p.json").etag
    b.put_json("p.json", {"v": 2, "more": "bytes"})
    assert b.stat("p.json").etag != first


def test_create_only_writes_refuse_a_second_writer(backend: Backend, tmp_path: Path) -> None:
    """It writes a file or JSON once; other content under that name is refused, the same bytes are a no-op."""
    src, other = tmp_path / "a.bin", tmp_path / "b.bin"
    src.write_bytes(os.urandom(4096))
    other.write_bytes(os.urandom(4096))
    first = backend.create_file("v1/m.bin", src)
    assert first.sha256 == hashlib.sha256(src.read_bytes()).hexdigest() and first.size == 4096
    assert backend.create_file("v1/m.bin", src).sha256 == first.sha256  # a retried write of the same bytes
    with pytest.raises(ObjectExistsError, match="exists already with other content"):
        backend.create_file("v1/m.bin", other)
    backend.create_json("v1/claim.json", {"writer": "a"})
    with pytest.raises(ObjectExistsError) as info:
        backend.create_json("v1/claim.json", {"writer": "b"})
    assert isinstance(info.value, PreconditionFailedError) and "\n" not in str(info.value)
    assert backend.get_json("v1/claim.json") == {"writer": "a"}
    assert backend.get_file("v1/m.bin", tmp_path / "out.bin")
    assert (tmp_path / "out.bin").read_bytes() == src.read_bytes()
    assert backend.list() == ["v1/claim.json", "v1/m.bin"]  # no temp or lock files listed


def test_replace_json_is_compare_and_swap(backend: Backend) -> None:
    """It writes only against the version token it read, and creates only what is absent."""
    assert backend.get_json_etag("p.json") is None
    created = backend.replace_json("p.json", {"v": 1}, etag=None)
    with pytest.raises(PreconditionFailedError, match="another writer"):
        backend.replace_json("p.json", {"v": 9}, etag=None)
    doc, etag = backend.get_json_etag("p.json")
    assert doc == {"v": 1} and etag == created.etag
    second = backend.replace_json("p.json", {"v": 2}, etag=etag)
    with pytest.raises(PreconditionFailedError):
        backend.replace_json("p.json", {"v": 3}, etag=etag)  # stale token: lost the race
    assert backend.get_json_etag("p.json") == ({"v": 2}, second.etag)


def test_concurrent_compare_and_swap_loses_no_update(backend: Backend) -> None:
    """It lets four threads add 10 entries each to one document by CAS: all 40 land, none twice."""

    def add(worker: int) -> None:
        for i in range(10):
            while True:
                found = backend.get_json_etag("log.json")
                doc, etag = found if found else ({"items": []}, None)
                try:
                    backend.replace_json("log.json", {"items": [*doc["items"], f"{worker}-{i}"]}, etag=etag)
                    break
                except PreconditionFailedError:
                    continue

    threads = [threading.Thread(target=add, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    items = backend.get_json("log.json")["items"]
    assert sorted(items) == sorted(f"{w}-{i}" for w in range(4) for i in range(10))


def test_local_create_without_hard_links_still_has_one_winner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It falls back to the lock file where the file system refuses hard links, with the same result."""

    def no_links(*args: object, **kwargs: object) -> None:
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    b = backend_for(tmp_path / "root")
    b.create_json("c.json", {"w": 1})
    with pytest.raises(ObjectExistsError):
        b.create_json("c.json", {"w": 2})
    assert b.get_json("c.json") == {"w": 1} and b.list() == ["c.json"]


FRESH_RESOLVE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from components._shared.weights import resolve_weights

    r = resolve_weights(sys.argv[1], Path(sys.argv[2]))
    assert r.kind == "checkpoint" and r.path.read_bytes() == b"weights", r
    loaded = sorted(m for m in sys.modules if m.startswith("components.train"))
    assert not loaded, loaded
    print(r.path)
    """
)


def test_resolve_weights_fetches_s3_in_a_fresh_process_without_the_train_package(
    s3: S3Admin, bucket: str, tmp_path: Path
) -> None:
    """It downloads s3:// weights through the registry alone: nothing from components.train is imported."""
    (tmp_path / "w.pt").write_bytes(b"weights")
    s3.upload_file(tmp_path / "w.pt", bucket, "models/v1/best.pt")
    proc = subprocess.run(
        [sys.executable, "-c", FRESH_RESOLVE, f"s3://{bucket}/models/v1/best.pt", str(tmp_path / "work")],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == str(tmp_path / "work" / "best.pt")
    assert SECRET not in proc.stdout + proc.stderr


def test_missing_s3_weights_and_unknown_schemes_are_one_line_errors(
    s3_env: str, bucket: str, tmp_path: Path
) -> None:
    """It names a missing object, and refuses gs:// with the supported schemes, each in one line."""
    with pytest.raises(ConfigError, match=rf"s3://{bucket}/nope.pt: no such object on http://"):
        resolve_weights(f"s3://{bucket}/nope.pt", tmp_path)
    with pytest.raises(ConfigError) as info:
        resolve_weights("gs://x/y.pt", tmp_path)
    assert str(info.value) == (
        "--weights gs://x/y.pt: unsupported URI scheme 'gs://' (supported: s3://, file:// or a local path); "
        "copy the checkpoint to a local path and pass that"
    )


def test_cli_train_with_unknown_scheme_exits_2_with_one_line(tmp_path: Path) -> None:
    """``yolo-kfp train --weights gs://x/y.pt`` prints one error line and exits 2, before any training."""
    from _tiny import make_dataset

    data = make_dataset(tmp_path / "data", n_train=2, n_val=1)
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "train", "--dataset", str(data), "--weights", "gs://x/y.pt"]
        + ["--out", str(tmp_path / "out"), "--epochs", "1"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "yolo-kfp train: error: --weights gs://x/y.pt: unsupported"
    )
