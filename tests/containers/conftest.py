"""Fixtures of the container tests: a Docker engine, both images built from docker/*.Dockerfile, fakes.

The engine is whatever ``docker/engine.sh host`` finds (``make test`` and ``.ci/run`` start one); without
one every test here is skipped. The images are built once per session by ``docker/engine.sh images``
(local Debian base, local torch wheels, this host's CA bundle as the build secret) under a registry no
one can push to, so nothing here is ever pulled. Containers use host networking: the moto S3 server and
the fake KFP API listen on 127.0.0.1 of this machine, as the tests elsewhere use them.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "storage"))
from container_kit import BUILD_TIMEOUT_S, ENGINE, REGISTRY, TAG, TESTS, Images  # noqa: E402
from moto_s3 import ACCESS, SECRET, moto_endpoint  # noqa: E402, F401


@pytest.fixture(scope="session")
def docker_host() -> str:
    """DOCKER_HOST of an engine that answers (set for the session: the CLI and kfp.local use it)."""
    proc = subprocess.run([str(ENGINE), "host"], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        pytest.skip("no Docker engine answers (docker/engine.sh start, or bash .ci/run, starts one)")
    os.environ["DOCKER_HOST"] = proc.stdout.strip()
    return os.environ["DOCKER_HOST"]


@pytest.fixture(scope="session")
def images(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> Images:
    """Both images, built from the repository's Dockerfiles by docker/engine.sh (layer cache reused)."""
    log = tmp_path_factory.mktemp("build") / "build.log"
    env = {**os.environ, "IMAGE_REGISTRY": REGISTRY, "IMAGE_TAG": TAG}
    with log.open("w") as out:
        proc = subprocess.run([str(ENGINE), "images"], stdout=out, stderr=subprocess.STDOUT, env=env,
                              timeout=BUILD_TIMEOUT_S, check=False)  # fmt: skip
    if proc.returncode != 0:
        pytest.fail(f"docker/engine.sh images failed (exit {proc.returncode}); its log ends:\n"
                    + log.read_text(errors="replace")[-4000:])  # fmt: skip
    return Images(data=f"{REGISTRY}/yolo-kfp-data:{TAG}", train=f"{REGISTRY}/yolo-kfp-train:{TAG}")


@pytest.fixture
def shared_dir(tmp_path: Path) -> Path:
    """A folder any container UID in group 0 may write (root:0, mode 0777 like an emptyDir)."""
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    for parent in (tmp_path, *tmp_path.parents[:2]):  # pytest's base folders are 0700: let UIDs traverse
        parent.chmod(parent.stat().st_mode | 0o711)
    return folder


def _fake_kfp_module():
    """tests/delivery/conftest.py as a module (its fake KFP API server), loaded under its own name."""
    spec = importlib.util.spec_from_file_location("delivery_fake_kfp", TESTS / "delivery" / "conftest.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture
def fake_kfp() -> Iterator[object]:
    """The delivery tests' fake KFP v2beta1 API on 127.0.0.1 (ephemeral port); ``.url`` is its address."""
    module = _fake_kfp_module()
    state = module.FakeKfp()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (module._Handler,), {"kfp": state}))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def s3_container_env(moto_endpoint: str) -> dict[str, str]:  # noqa: F811
    """MINIO_* for a container on the host network: moto on loopback, plain HTTP, the test secret."""
    return {"MINIO_ENDPOINT": moto_endpoint, "MINIO_ACCESS_KEY": ACCESS, "MINIO_SECRET_KEY": SECRET,
            "MINIO_SECURE": "false"}  # fmt: skip
