"""The weights' content token: the fetch task's cache key changes when the bytes under a URI change.

KFP caches on input values (``backend/src/v2/cacheutils/cache.go`` ``GenerateCacheKey``, tag 2.17.0):
without the token, weights uploaded again under the same URI would never be fetched again.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from components._shared.errors import ConfigError
from components._shared.weights import weights_digest
from components.plan.core import PlanRequest, plan_training

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "storage"))
from moto_s3 import S3Admin, bucket, moto_endpoint, s3, s3_env  # noqa: E402, F401


def _dataset(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "train.txt").write_text("./images/a.png\n", encoding="utf-8")
    (root / "val.txt").write_text("./images/v.png\n", encoding="utf-8")
    spec = {"path": ".", "train": "train.txt", "val": "val.txt", "names": {0: "helmet"}}
    (root / "dataset.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    return root / "dataset.yaml"


def test_a_local_file_rewritten_in_place_gets_a_new_token(tmp_path: Path) -> None:
    """It changes when the file's bytes change (same size too), and not when they do not."""
    path = tmp_path / "w.pt"
    path.write_bytes(b"a" * 100)
    first = weights_digest(str(path))
    assert weights_digest(str(path)) == first
    path.write_bytes(b"b" * 100)
    assert weights_digest(str(path)) != first


def test_an_object_uploaded_again_under_the_same_uri_gets_a_new_token(
    s3: S3Admin,  # noqa: F811
    bucket: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    """It reads the object's ETag and size without downloading it: a new upload, a new token."""
    blob = tmp_path / "blob"
    blob.write_bytes(b"v1" * 64)
    s3.upload_file(blob, bucket, "pretrained/yolov5nu.pt")
    uri = f"s3://{bucket}/pretrained/yolov5nu.pt"
    first = weights_digest(uri)
    blob.write_bytes(b"v2" * 64)
    s3.upload_file(blob, bucket, "pretrained/yolov5nu.pt")
    assert weights_digest(uri) != first
    assert first.startswith("size:128:etag:")


def test_an_architecture_yaml_has_a_fixed_token_and_a_missing_file_is_refused(tmp_path: Path) -> None:
    """It names the built-in architecture, and refuses weights that are not there in one line."""
    assert weights_digest("yolov5n.yaml") == "builtin:yolov5n.yaml"
    with pytest.raises(ConfigError, match="not found"):
        weights_digest(str(tmp_path / "nope.pt"))


def test_the_plan_hands_the_token_and_the_launcher_gpus_to_the_pipeline(tmp_path: Path) -> None:
    """It records weights_digest and launcher_gpus in plan.json and returns them for the DAG."""
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"x" * 10)
    result = plan_training(
        _dataset(tmp_path / "data"),
        tmp_path / "plan",
        PlanRequest(weights=str(weights)),
        resources={"gpus": 2, "accelerator": "nvidia.com/gpu", "nodes": 3},
    )
    assert result.weights_digest == weights_digest(str(weights))
    assert result.launcher_gpus == 0
    record = json.loads(result.plan_json.read_text(encoding="utf-8"))
    assert (record["weights_digest"], record["launcher_gpus"]) == (result.weights_digest, 0)
