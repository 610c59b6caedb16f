"""ingest from an S3 prefix, S3 archives (tar.gz, zip) and local paths, through moto on loopback."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from moto_s3 import ACCESS, SECRET, S3Admin, closed_port, storage_for

from components._shared.errors import ConfigError, DatasetError
from components._shared.fsio import OUTPUT_MARKER
from components._shared.storage import BucketNotFoundError, ObjectNotFoundError
from components.ingest.core import IngestConfig, ingest

CFG = IngestConfig(workers=8, progress=False)


def _synthetic_voc(root: Path, n: int = 6) -> Path:
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (root / "JPEGImages" / f"{i:06d}.jpg").write_bytes(b"\xff\xd8\xff" + os.urandom(2000))
        (root / "Annotations" / f"{i:06d}.xml").write_text(
            f"<annotation><filename>{i:06d}.jpg</filename><object><name>helmet</name></object></annotation>"
        )
    (root / "ImageSets/Main/trainval.txt").write_text("\n".join(f"{i:06d}" for i in range(n)) + "\n")
    return root


@pytest.fixture(scope="module")
def voc_source(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real voc-helmet sample when ../shared/data is there, else a small synthetic VOC tree."""
    try:
        return request.getfixturevalue("shared_data") / "voc-helmet"
    except pytest.skip.Exception:
        return _synthetic_voc(tmp_path_factory.mktemp("voc") / "voc-helmet")


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in ("ingest.json", OUTPUT_MARKER)
    }


def _tar_gz(src: Path, dest: Path, top: str) -> Path:
    with tarfile.open(dest, "w:gz") as tf:
        tf.add(src, arcname=top)
    return dest


def _zip(src: Path, dest: Path, top: str) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in _files(src).items():
            zf.writestr(f"{top}/{rel}", data)
    return dest


@pytest.fixture(scope="module")
def helmet_in_s3(moto_endpoint: str, voc_source: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A bucket holding the sample as a prefix (helmet/), a .tar.gz and a .zip; returns the bucket."""
    client = storage_for(moto_endpoint)
    name = "ingest-helmet"
    client.ensure_bucket(name)
    work = tmp_path_factory.mktemp("archives")
    uploads = [(p, f"helmet/{rel}") for rel, p in ((k, voc_source / k) for k in _files(voc_source))]
    uploads.append((_tar_gz(voc_source, work / "helmet.tar.gz", "voc-helmet"), "archives/helmet.tar.gz"))
    uploads.append((_zip(voc_source, work / "helmet.zip", "VOCdevkit/VOC2007"), "archives/helmet.zip"))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda pk: client.upload_file(pk[0], name, pk[1]), uploads))
    return name


def _assert_voc_copy(result_dir: Path, source: Path) -> None:
    assert (result_dir / "Annotations").is_dir() and (result_dir / "JPEGImages").is_dir()
    assert _files(result_dir) == _files(source)


def test_ingest_from_s3_prefix_downloads_the_voc_tree(
    s3_env: str, helmet_in_s3: str, voc_source: Path, tmp_path: Path
) -> None:
    """It downloads every object under the prefix byte for byte and writes ingest.json."""
    out = tmp_path / "voc"
    result = ingest(f"s3://{helmet_in_s3}/helmet/", out, CFG)
    _assert_voc_copy(out, voc_source)
    assert result.kind == "s3-prefix" and result.voc_dirs == (out,)
    assert result.files == len(_files(voc_source)) and result.bytes == result.transferred_bytes > 0
    assert len(result.fingerprint) == 64 and result.short_fingerprint == result.fingerprint[:12]
    report = json.loads((out / "ingest.json").read_text())
    assert report["fingerprint"] == result.fingerprint and report["voc_dirs"] == ["."]
    assert report["mb_per_s"] > 0 and report["files_per_s"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["voc"]  # no temp left beside it


def test_ingest_prefix_without_trailing_slash_is_a_folder(
    s3_env: str, helmet_in_s3: str, tmp_path: Path
) -> None:
    """It treats s3://bucket/helmet like s3://bucket/helmet/ (not helmet2/...), same fingerprint."""
    a = ingest(f"s3://{helmet_in_s3}/helmet", tmp_path / "a", CFG)
    b = ingest(f"s3://{helmet_in_s3}/helmet/", tmp_path / "b", CFG)
    assert a.fingerprint == b.fingerprint and a.files == b.files


@pytest.mark.parametrize("key", ["archives/helmet.tar.gz", "archives/helmet.zip"])
def test_ingest_from_s3_archive_lifts_the_voc_root(
    s3_env: str, helmet_in_s3: str, voc_source: Path, tmp_path: Path, key: str
) -> None:
    """It extracts a tar.gz (voc-helmet/...) or zip (VOCdevkit/VOC2007/...) so out/ holds Annotations/."""
    out = tmp_path / "voc"
    result = ingest(f"s3://{helmet_in_s3}/{key}", out, CFG)
    _assert_voc_copy(out, voc_source)
    assert result.kind == "s3-archive" and result.voc_dirs == (out,)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["voc"]


def test_ingest_local_folder_links_files(voc_source: Path, tmp_path: Path) -> None:
    """It hard-links (or copies) a local folder and fingerprints its contents."""
    out = tmp_path / "voc"
    result = ingest(str(voc_source), out, CFG)
    _assert_voc_copy(out, voc_source)
    assert result.kind == "local-folder" and result.transferred_bytes == 0


def test_ingest_keeps_several_voc_roots_and_lists_them(tmp_path: Path) -> None:
    """It leaves two VOC trees side by side and returns both for convert."""
    _synthetic_voc(tmp_path / "src" / "VOC2007", 2)
    _synthetic_voc(tmp_path / "src" / "VOC2012", 2)
    out = tmp_path / "out"
    result = ingest(str(tmp_path / "src"), out, CFG)
    assert result.voc_dirs == (out / "VOC2007", out / "VOC2012")


def test_ingest_without_voc_tree_is_refused(tmp_path: Path) -> None:
    """It says what it expected when no Annotations/ folder exists."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("x")
    with pytest.raises(DatasetError, match="no Annotations/ folder found"):
        ingest(str(tmp_path / "src"), tmp_path / "out", CFG)
    assert not (tmp_path / "out").exists()


def test_ingest_into_its_own_source_is_refused(tmp_path: Path) -> None:
    """It refuses an output folder inside the local source folder."""
    src = _synthetic_voc(tmp_path / "src", 1)
    with pytest.raises(ConfigError, match="lies inside the source folder"):
        ingest(str(src), src / "out", CFG)


def test_fingerprint_is_stable_and_changes_with_a_label(s3: S3Admin, bucket: str, tmp_path: Path) -> None:
    """It gives the same fingerprint for the same content and a new one when one label changes."""
    src = _synthetic_voc(tmp_path / "src", 3)
    fp_local = [ingest(str(src), tmp_path / f"l{i}", CFG).fingerprint for i in range(2)]
    for p in sorted(src.rglob("*")):
        if p.is_file():
            s3.upload_file(p, bucket, f"ds/{p.relative_to(src).as_posix()}")
    fp_s3 = [ingest(f"s3://{bucket}/ds/", tmp_path / f"s{i}", CFG).fingerprint for i in range(2)]
    assert fp_local[0] == fp_local[1] and fp_s3[0] == fp_s3[1]

    label = src / "Annotations" / "000001.xml"
    label.write_text(label.read_text().replace("helmet", "head"))
    s3.upload_file(label, bucket, "ds/Annotations/000001.xml")
    assert ingest(str(src), tmp_path / "l2", CFG).fingerprint != fp_local[0]
    assert ingest(f"s3://{bucket}/ds/", tmp_path / "s2", CFG).fingerprint != fp_s3[0]


def test_missing_bucket_and_missing_archive_have_their_own_errors(
    s3_env: str, bucket: str, tmp_path: Path
) -> None:
    """It names the bucket that does not exist, the archive that is not there, and an empty prefix."""
    with pytest.raises(BucketNotFoundError, match="bucket 'no-such-bucket-y' does not exist"):
        ingest("s3://no-such-bucket-y/voc/", tmp_path / "a", CFG)
    with pytest.raises(ObjectNotFoundError, match=rf"object s3://{bucket}/missing.tar.gz not found"):
        ingest(f"s3://{bucket}/missing.tar.gz", tmp_path / "b", CFG)
    with pytest.raises(DatasetError, match="no objects under this prefix"):
        ingest(f"s3://{bucket}/empty/", tmp_path / "c", CFG)
    assert list(tmp_path.iterdir()) == []


def test_object_key_with_dotdot_is_refused(s3: S3Admin, bucket: str, tmp_path: Path) -> None:
    """It refuses to download a key that would land outside the output folder."""
    import boto3  # the minio client refuses such keys; another client may still have written one

    raw = boto3.client(
        "s3",
        endpoint_url=f"http://{s3.settings.endpoint}",
        aws_access_key_id=ACCESS,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
    )
    raw.put_object(Bucket=bucket, Key="ds/a/../../evil.txt", Body=b"x")
    if not any(".." in o.name for o in s3.list_objects(bucket, "ds/")):
        pytest.skip("the server normalised the key")
    with pytest.raises(DatasetError, match=r"contains '\.\.'"):
        ingest(f"s3://{bucket}/ds/", tmp_path / "out", CFG)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the CLI: one line, no traceback, no secret


def _cli(
    args: list[str], env: dict[str, str], timeout: float = 60
) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return proc, time.monotonic() - start


def _assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and SECRET not in proc.stderr + proc.stdout
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("yolo-kfp ingest: error:")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0]
    return errors[0]


def test_cli_endpoint_down_fails_fast_with_one_clear_line(tmp_path: Path) -> None:
    """It exits 2 within bounded time with one line naming the endpoint and the object, no traceback."""
    port = closed_port()
    env = {
        "MINIO_ENDPOINT": f"127.0.0.1:{port}",
        "MINIO_ACCESS_KEY": ACCESS,
        "MINIO_SECRET_KEY": SECRET,
        "MINIO_SECURE": "false",
        "YOLO_KFP_STORAGE_ATTEMPTS": "3",
        "YOLO_KFP_STORAGE_BACKOFF_S": "0.05",
    }
    proc, seconds = _cli(["ingest", "--source", "s3://data/voc/", "--out", str(tmp_path / "out")], env)
    _assert_one_line_error(proc, f"http://127.0.0.1:{port}", "s3://data/voc/", "failed after 3 attempt(s)")
    assert seconds < 15
    assert list(tmp_path.iterdir()) == []


def test_cli_wrong_credentials_missing_bucket_and_key_each_say_so(
    s3_env: str, bucket: str, tmp_path: Path
) -> None:
    """It prints a different one-line reason for each failure, never the secret."""
    from moto.core import enable_iam_authentication

    env = {k: os.environ[k] for k in os.environ if k.startswith(("MINIO_", "YOLO_KFP_STORAGE"))}
    out = ["--out", str(tmp_path / "out")]
    proc, _ = _cli(["ingest", "--source", "s3://no-such-bucket-z/voc/", *out], env)
    _assert_one_line_error(proc, "bucket 'no-such-bucket-z' does not exist")
    proc, _ = _cli(["ingest", "--source", f"s3://{bucket}/nothing-here.zip", *out], env)
    _assert_one_line_error(proc, f"object s3://{bucket}/nothing-here.zip not found")
    with enable_iam_authentication():
        proc, _ = _cli(["ingest", "--source", f"s3://{bucket}/voc/", *out], env)
    _assert_one_line_error(proc, "credentials rejected (InvalidAccessKeyId)", "MINIO_SECRET_KEY")


def test_cli_ingest_prints_json_summary_without_secret(
    s3_env: str, helmet_in_s3: str, tmp_path: Path
) -> None:
    """It prints the result JSON on stdout and keeps the secret out of stdout and stderr."""
    env = {k: os.environ[k] for k in os.environ if k.startswith(("MINIO_", "YOLO_KFP_STORAGE"))}
    args = ["ingest", "--source", f"s3://{helmet_in_s3}/archives/helmet.tar.gz", "--out", str(tmp_path / "o")]
    proc, _ = _cli([*args, "--workers", "4"], env)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["kind"] == "s3-archive" and summary["voc_dirs"] == [str(tmp_path / "o")]
    assert SECRET not in proc.stdout + proc.stderr + (tmp_path / "o" / "ingest.json").read_text()


def test_ingest_throughput_on_loopback(
    s3_env: str, helmet_in_s3: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It reports MB/s and files/s from the prefix and from the tar.gz (numbers for the issue's note)."""
    rows = {}
    for label, uri in (("prefix", "helmet/"), ("tar.gz", "archives/helmet.tar.gz")):
        r = ingest(f"s3://{helmet_in_s3}/{uri}", tmp_path / label, CFG)
        rows[label] = (r.files, r.bytes, r.seconds, r.mb_per_s, r.files_per_s)
        assert r.mb_per_s > 0 and r.files_per_s > 0
    with capsys.disabled():
        for label, (files, nbytes, seconds, mbs, fps) in rows.items():
            print(
                f"\ningest throughput {label}: {files} files, {nbytes / 1e6:.1f} MB, {seconds:.2f}s, {mbs} MB/s, {fps} files/s"
            )


def test_tar_member_bytes_are_read_as_declared(tmp_path: Path) -> None:
    """It extracts a tar built in memory (sanity check of the tar path with a nested VOC root)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in (
            ("d/VOC/Annotations/a.xml", b"<annotation/>"),
            ("d/VOC/JPEGImages/a.jpg", b"\xff\xd8"),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    (tmp_path / "a.tar").write_bytes(buf.getvalue())
    result = ingest(str(tmp_path / "a.tar"), tmp_path / "out", CFG)
    assert (tmp_path / "out" / "Annotations" / "a.xml").read_bytes() == b"<annotation/>"
    assert result.kind == "local-archive" and result.files == 2
