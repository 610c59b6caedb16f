"""The storage module against a real (moto) S3 endpoint on loopback: transfers, errors, retries, secrecy."""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from pathlib import Path

import pytest
from moto_s3 import ACCESS, SECRET, FaultProxy, S3Admin, closed_port, storage_for

from components._shared.errors import ConfigError, StorageError
from components._shared.storage import (
    AccessDeniedError,
    BucketNotFoundError,
    CredentialsError,
    EndpointUnavailableError,
    ObjectNotFoundError,
    backend_for,
    file_digests,
    safe_relpath,
    scheme_of,
)
from components._shared.storage.limits import RetryPolicy
from components._shared.storage.local import LocalBackend
from components._shared.storage.s3 import S3Backend, StorageSettings, parse_s3_uri


def test_parse_s3_uri_splits_bucket_and_key() -> None:
    """It splits bucket and key, allows a bare bucket and refuses anything else."""
    assert parse_s3_uri("s3://data/voc/helmet/") == ("data", "voc/helmet/")
    assert parse_s3_uri("s3://data") == ("data", "")
    assert scheme_of("s3://x/y") == "s3" and scheme_of("/tmp/x") != "s3" and scheme_of(Path("s3:/x")) != "s3"
    for bad in ("http://data/x", "s3://", "s3:///key", "data/x"):
        with pytest.raises(ConfigError, match="expected s3://bucket/key"):
            parse_s3_uri(bad)


def test_settings_come_from_minio_env_and_hide_the_secret() -> None:
    """It reads MINIO_*, defaults to TLS, accepts an http:// prefix and never shows the secret in repr."""
    env = {"MINIO_ENDPOINT": "minio:9000", "MINIO_ACCESS_KEY": ACCESS, "MINIO_SECRET_KEY": SECRET}
    s = StorageSettings.from_env(env)
    assert (s.endpoint, s.secure, s.region) == ("minio:9000", True, None)
    assert SECRET not in repr(s) and SECRET not in repr(S3Backend("s3://b", settings=s))
    s = StorageSettings.from_env({**env, "MINIO_ENDPOINT": "http://minio:9000/", "MINIO_REGION": "eu-1"})
    assert (s.endpoint, s.secure, s.region) == ("minio:9000", False, "eu-1")
    assert StorageSettings.from_env({**env, "MINIO_SECURE": "false"}).secure is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "MINIO_ENDPOINT is not set"),
        ({"MINIO_ENDPOINT": "m:9000", "MINIO_ACCESS_KEY": "a"}, "MINIO_SECRET_KEY is not set"),
        ({"MINIO_ENDPOINT": "m:9000", "MINIO_SECURE": "maybe"}, "MINIO_SECURE='maybe' is not a boolean"),
    ],
)
def test_settings_refuse_incomplete_env(env: dict[str, str], message: str) -> None:
    """It names the missing or bad variable."""
    with pytest.raises(ConfigError, match=message):
        StorageSettings.from_env(env)


def test_default_retry_budget_is_bounded() -> None:
    """It sleeps at most ~10 s in total before giving up with the default policy."""
    policy = RetryPolicy.from_env({})
    assert policy.attempts >= 3
    assert policy.worst_case_sleep_s() <= 10.0
    assert all(policy.delay(n) <= policy.max_delay_s for n in range(1, 10))


def test_upload_is_verified_and_records_sha256(s3: S3Admin, bucket: str, tmp_path: Path) -> None:
    """It uploads single-part and multipart files, checks them, and records size and sha256."""
    b = s3.at(bucket)
    small, big = tmp_path / "small.bin", tmp_path / "big.bin"
    small.write_bytes(os.urandom(1000))
    big.write_bytes(os.urandom(6 * 1024 * 1024))  # over minio's 5 MiB part size: multipart ETag
    for path in (small, big):
        stored = b.put_file(f"up/{path.name}", path)
        size, sha, _ = file_digests(path)
        assert (stored.size, stored.sha256) == (size, sha)
        assert b.stat(f"up/{path.name}").size == size
    assert "-" in b.stat("up/big.bin").etag


def test_list_and_parallel_download_round_trip(s3: S3Admin, bucket: str, tmp_path: Path) -> None:
    """It lists keys with ETag and size and downloads them in parallel byte for byte."""
    b = s3.at(bucket)
    src = tmp_path / "src"
    src.mkdir()
    for i in range(12):
        (src / f"f{i:02d}.bin").write_bytes(os.urandom(100 + i))
        b.put_file(f"tree/f{i:02d}.bin", src / f"f{i:02d}.bin")
    objs = b.list_entries("tree/")
    assert [o.name for o in objs] == [f"tree/f{i:02d}.bin" for i in range(12)]
    assert all(len(o.etag) == 32 and o.size == 100 + i for i, o in enumerate(objs))
    out = tmp_path / "out"
    total = b.get_files([(o, out / Path(o.name).name) for o in objs], progress=False)
    assert total == sum(100 + i for i in range(12))
    assert all((out / p.name).read_bytes() == p.read_bytes() for p in src.iterdir())
    umask = os.umask(0)
    os.umask(umask)
    assert {stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()} == {0o666 & ~umask}  # not mkstemp's 0600


def test_json_objects_round_trip(s3: S3Admin, bucket: str) -> None:
    """It writes and reads small JSON documents."""
    s3.at(bucket).put_json("a/b.json", {"epoch": 3, "name": "é"})
    assert s3.get_json(bucket, "a/b.json") == {"epoch": 3, "name": "é"}


def test_missing_object_and_bucket_have_their_own_messages(s3: S3Admin, bucket: str) -> None:
    """It says 'not found' for a key and 'does not exist' for a bucket, naming the endpoint, without retrying."""
    start = time.monotonic()
    with pytest.raises(
        ObjectNotFoundError, match=rf"{s3.endpoint}: object s3://{bucket}/nope.json not found"
    ):
        s3.at(bucket).stat("nope.json")
    with pytest.raises(BucketNotFoundError, match=r"bucket 'no-such-bucket-x' does not exist"):
        s3.list_objects("no-such-bucket-x", "p/")
    assert time.monotonic() - start < 1.0  # never retried


def test_wrong_credentials_and_denied_access_have_their_own_messages(s3: S3Admin, bucket: str) -> None:
    """It tells an unknown key, a wrong secret and a missing permission apart; the secret is never shown."""
    from moto.core import DEFAULT_ACCOUNT_ID, enable_iam_authentication
    from moto.iam.models import iam_backends

    iam = iam_backends[DEFAULT_ACCOUNT_ID]["global"]
    user = f"u-{bucket}"
    iam.create_user("us-east-1", user)
    key = iam.create_access_key(user)  # valid key, no policy: authenticated but not allowed
    cases = [
        ("AKIAUNKNOWNKEY000000", SECRET, CredentialsError, "credentials rejected (InvalidAccessKeyId)"),
        (key.access_key_id, SECRET, CredentialsError, "credentials rejected (SignatureDoesNotMatch)"),
        (key.access_key_id, key.secret_access_key, AccessDeniedError, "access denied to"),
    ]
    with enable_iam_authentication():
        for access, secret, error, message in cases:
            client = S3Admin(StorageSettings(s3.settings.endpoint, access, secret, secure=False))
            start = time.monotonic()
            with pytest.raises(error) as info:
                client.list_objects(bucket, "x/")
            assert message in str(info.value) and s3.endpoint in str(info.value)
            assert SECRET not in str(info.value) and key.secret_access_key not in str(info.value)
            assert time.monotonic() - start < 1.0


def test_endpoint_down_fails_in_bounded_time_with_one_message(caplog: pytest.LogCaptureFixture) -> None:
    """It retries a refused connection a few times, then raises one line naming endpoint and object."""
    port = closed_port()
    client = storage_for(f"127.0.0.1:{port}")
    start = time.monotonic()
    with caplog.at_level(logging.WARNING), pytest.raises(EndpointUnavailableError) as info:
        client.list_objects("data", "voc/")
    assert time.monotonic() - start < 3.0
    msg = str(info.value)
    assert f"http://127.0.0.1:{port}" in msg and "s3://data/voc/" in msg and "after 3 attempt(s)" in msg
    assert "\n" not in msg and SECRET not in msg + caplog.text
    assert len([r for r in caplog.records if "retry" in r.getMessage()]) == 2


def test_transient_slowdown_is_retried_then_succeeds(s3: S3Admin, bucket: str, moto_endpoint: str) -> None:
    """It rides out two 503 SlowDown answers and completes the request."""
    s3.at(bucket).put_json("r.json", {"ok": True})
    with FaultProxy(moto_endpoint) as proxy:
        client = storage_for(proxy.endpoint, region="us-east-1")
        proxy.fail_first = 2
        assert client.get_json(bucket, "r.json") == {"ok": True}
        assert proxy.failed == 2


def test_persistent_throttling_ends_with_endpoint_and_object_named(bucket: str, moto_endpoint: str) -> None:
    """It stops after the retry budget when the server keeps throttling, naming what failed."""
    with FaultProxy(moto_endpoint) as proxy:
        client = storage_for(proxy.endpoint, region="us-east-1")
        proxy.fail_paths.add("/slow.json")
        start = time.monotonic()
        with pytest.raises(
            EndpointUnavailableError, match=r"s3://.*/slow.json failed after 3 attempt\(s\).*SlowDown"
        ):
            client.get_json(bucket, "slow.json")
        assert time.monotonic() - start < 3.0
        assert proxy.failed == 3


def test_upload_of_local_location_is_atomic_and_verified(tmp_path: Path) -> None:
    """It copies through a temp file, leaves no temp behind, and reads back JSON."""
    loc = backend_for(tmp_path / "dest")
    assert isinstance(loc, LocalBackend)
    src = tmp_path / "m.bin"
    src.write_bytes(b"model")
    stored = loc.put_file("v1/m.bin", src)
    loc.put_json("v1/info.json", {"a": 1})
    assert stored.size == 5 and loc.exists("v1/m.bin") and loc.get_json("v1/info.json") == {"a": 1}
    assert sorted(p.name for p in (tmp_path / "dest" / "v1").iterdir()) == ["info.json", "m.bin"]
    assert loc.list() == ["v1/info.json", "v1/m.bin"] and loc.get_json("missing.json") is None


@pytest.mark.parametrize("name", ["../x", "/abs", "a//b", "a/../../b", ""])
def test_object_names_that_could_escape_are_refused(name: str) -> None:
    """It refuses absolute names, empty parts and '..'."""
    with pytest.raises(StorageError, match="unsafe object name"):
        safe_relpath(name, what="dest")


def test_secret_never_appears_in_logs_or_errors(
    s3: S3Admin,
    bucket: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """It keeps the secret key out of every log record, error and repr across successes and failures."""
    caplog.set_level(logging.DEBUG)
    texts = [repr(s3), repr(s3.settings), repr(backend_for(f"s3://{bucket}/x"))]
    (tmp_path / "f").write_text("x")
    s3.upload_file(tmp_path / "f", bucket, "f")
    for call in (
        lambda: s3.at(bucket).stat("missing"),
        lambda: s3.list_objects("missing-bucket-q", ""),
        lambda: storage_for(f"127.0.0.1:{closed_port()}").list_objects(bucket, ""),
    ):
        with pytest.raises(StorageError) as info:
            call()
        texts.append(str(info.value))
    out = capsys.readouterr()
    blob = "\n".join(
        [*texts, caplog.text, out.out, out.err, json.dumps(s3.settings.__dict__ | {"secret_key": None})]
    )
    assert SECRET not in blob


def test_download_that_does_not_match_the_listing_is_refused(
    s3: S3Admin, bucket: str, tmp_path: Path
) -> None:
    """It checks size and MD5 (single-part ETag) and leaves no file behind when they disagree."""
    from dataclasses import replace

    b = s3.at(bucket)
    (tmp_path / "a").write_bytes(b"abc")
    b.put_file("a", tmp_path / "a")
    info = b.stat("a")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a").write_bytes(b"previous")
    for stale in (replace(info, etag="0" * 32), replace(info, size=4)):
        with pytest.raises(StorageError, match="is corrupt"):
            b.get_files([(stale, tmp_path / "out" / "a")], progress=False)
        assert [p.name for p in (tmp_path / "out").iterdir()] == ["a"]  # no temp file left
        assert (tmp_path / "out" / "a").read_bytes() == b"previous"  # and the old file untouched


def test_a_local_file_removed_while_listing_is_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listing leaves out a file another writer removed after the walk saw it (two promotions pruning one
    Triton repository at once), instead of failing with 'file not found' (a promotion thread failed so in CI)."""
    for name in ("a/1", "a/2"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    real = LocalBackend.stat

    def racing(self: LocalBackend, rel: str):
        if rel == "a/1":
            (tmp_path / rel).unlink(missing_ok=True)  # the other promotion prunes it now
        return real(self, rel)

    monkeypatch.setattr(LocalBackend, "stat", racing)
    assert [e.name for e in LocalBackend(tmp_path).list_entries("a/")] == ["a/2"]
    with pytest.raises(ObjectNotFoundError, match="file not found"):
        LocalBackend(tmp_path).stat("a/1")  # asking for it by name is still an error
