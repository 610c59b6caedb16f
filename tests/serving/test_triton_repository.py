"""Publishing lays the promoted model out as a Triton model repository that matches the real model."""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from pbtxt import parse_pbtxt

from components._shared.errors import StorageError
from components._shared.production import read_production
from components._shared.serving import rollout_command
from components._shared.storage import backend_for
from components.publish.core import PublishConfig, promote_version, publish_model
from components.publish.triton import (
    TRITON_MAX_BATCH,
    TritonConflict,
    onnx_io,
    sync_config,
    triton_version_number,
    verify_triton_repository,
)

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "pipelines" / "sample" / "pretrained_task_a.pt"
FP = "feedc0ffee12" + "0" * 52
ORT_TO_TRITON = {"tensor(float)": "TYPE_FP32", "tensor(float16)": "TYPE_FP16", "tensor(int64)": "TYPE_INT64"}


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real export: the sample checkpoint through components/export at imgsz 64 (about 10 s on CPU)."""
    pytest.importorskip("torch")
    pytest.importorskip("ultralytics")
    from components.export.core import ExportConfig, export_onnx

    out = tmp_path_factory.mktemp("export") / "onnx"
    export_onnx(SAMPLE, out, ExportConfig(imgsz=64, parity_count=1, latency_runs=1))
    return out


def _model_dir(root: Path, exported: Path, *, passed: bool = True) -> Path:
    """A publish folder: the export's model.onnx, model.json and export.json plus a gate verdict."""
    root.mkdir(parents=True)
    for name in ("model.onnx", "model.json", "export.json"):
        shutil.copy(exported / name, root / name)
    metrics = {"map50": 0.5, "map50_95": 0.3, "gate": {"passed": passed, "reason": "test"}}
    (root / "metrics.json").write_text(json.dumps(metrics))
    return root


def _dynamic_model_dir(root: Path, classes: list[str], bias: float) -> Path:
    """A tiny hand-built ONNX model with a dynamic batch: images (batch, 3, 8, 8) -> scores (batch, 3)."""
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.full((3, 3), bias, dtype=np.float32), name="w")
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["images"], ["pooled"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["pooled", "w"], ["scores"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 3])],
        initializer=[w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    root.mkdir(parents=True)
    onnx.save(model, str(root / "model.onnx"))
    (root / "model.json").write_text(json.dumps({"classes": classes, "imgsz": 8}))
    (root / "metrics.json").write_text(json.dumps({"map50_95": 0.4, "gate": {"passed": True}}))
    return root


def _gate_against(folder: Path, dest: str) -> Path:
    """Record in the gate that it measured ``dest``'s production model, as validate does (promotion checks it)."""
    pointer, path = read_production(dest), folder / "metrics.json"
    metrics = json.loads(path.read_text())
    metrics["gate"] |= {
        "champion_version": pointer["version"],
        "champion_manifest_sha256": pointer["manifest_sha256"],
    }
    path.write_text(json.dumps(metrics))
    return folder


def _config(model_dir: Path) -> dict:
    return parse_pbtxt((model_dir / "config.pbtxt").read_text(encoding="utf-8"))


def _version_folders(model_dir: Path) -> set[str]:
    """The version folders holding files (a local backend's delete leaves empty folders, which Triton skips)."""
    return {p.name for p in model_dir.iterdir() if p.is_dir() and any(p.iterdir())}


def _served_version(config: dict) -> int:
    (policy,) = config["version_policy"]
    (specific,) = policy["specific"]
    (number,) = specific["versions"]
    return number


@pytest.fixture(params=["local", "s3"])
def dest(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A publish destination named yolo-transfer: a local folder, or s3://<fresh bucket>/ on moto."""
    if request.param == "local":
        return str(tmp_path / "models" / "yolo-transfer")
    return f"s3://{request.getfixturevalue('bucket')}/yolo-transfer"


def test_promoted_export_is_served_by_a_matching_triton_repository(
    dest: str, exported: Path, tmp_path: Path
) -> None:
    """It lays out model.onnx and a config.pbtxt whose I/O equal what onnxruntime sees."""
    result = publish_model(
        _model_dir(tmp_path / "m", exported), dest, PublishConfig(fingerprint=FP, promote=True)
    )
    assert result.promoted
    repo = verify_triton_repository(dest, tmp_path / "served")
    assert repo is not None and repo.model == "yolo-transfer"
    number = triton_version_number(result.version)
    assert repo.version == number == int(result.version[:8] + result.version[9:15])
    model_dir = repo.root / "yolo-transfer"
    assert repo.model_path == model_dir / str(number) / "model.onnx"

    config = _config(model_dir)
    assert config["name"] == ["yolo-transfer"]
    assert config["platform"] == ["onnxruntime_onnx"]
    assert config["max_batch_size"] == [0]  # a fixed 1x3x64x64 export
    assert _served_version(config) == number

    session = ort.InferenceSession(str(repo.model_path), providers=["CPUExecutionProvider"])
    for declared, real in (
        (config["input"], session.get_inputs()),
        (config["output"], session.get_outputs()),
    ):
        assert [t["name"] for t in declared] == [[r.name] for r in real]
        assert [t["data_type"] for t in declared] == [[ORT_TO_TRITON[r.type]] for r in real]
        assert [t["dims"] for t in declared] == [list(r.shape) for r in real]
    (inp,) = config["input"]
    assert inp["name"] == ["images"] and inp["dims"] == [1, 3, 64, 64]
    outputs = session.run(None, {"images": np.zeros(inp["dims"], dtype=np.float32)})
    assert [list(o.shape) for o in outputs] == [t["dims"] for t in config["output"]]

    classes = json.loads((exported / "model.json").read_text())["classes"]
    assert list(repo.classes) == classes
    assert "label_filename" not in config["output"][0]  # Triton reads it for classification outputs only
    assert "dynamic_batching" not in config  # a fixed batch-1 export cannot be batched
    if not dest.startswith("s3://"):  # the destination itself is a loadable repository
        assert (Path(dest) / "triton" / "yolo-transfer" / str(number) / "model.onnx").read_bytes() == (
            exported / "model.onnx"
        ).read_bytes()


def test_unpromoted_versions_stay_out_of_the_repository(exported: Path, tmp_path: Path) -> None:
    """It lays out nothing for a version whose gate failed (KServe downloads the whole repository)."""
    dest = str(tmp_path / "models" / "yolo-transfer")
    result = publish_model(
        _model_dir(tmp_path / "m", exported, passed=False), dest, PublishConfig(fingerprint=FP, promote=True)
    )
    assert not result.promoted
    assert not (Path(dest) / "triton").exists()


def test_promotion_and_rollback_repoint_config_and_keep_only_production(tmp_path: Path, caplog) -> None:
    """It serves each promoted version in turn and keeps no other version folder (KServe copies the whole
    repository into every predictor); a dynamic-batch export gets Triton's dynamic batching; every
    promotion logs the one line that rolls the running predictors."""
    dest = str(tmp_path / "models" / "yolo-transfer")
    first = _dynamic_model_dir(tmp_path / "a", ["cat", "dog", "bird"], 0.1)
    second = _dynamic_model_dir(tmp_path / "b", ["cat", "dog", "bird"], 0.2)
    v1 = publish_model(first, dest, PublishConfig(version="20250101T000000Z-aaa", promote=True)).version
    v2 = publish_model(
        _gate_against(second, dest), dest, PublishConfig(version="candidate-b", promote=True)
    ).version
    model_dir = Path(dest) / "triton" / "yolo-transfer"
    n1, n2 = triton_version_number(v1), triton_version_number(v2)
    assert n1 == 20250101000000 and 1 <= n2 < 10**13 and n2 == triton_version_number("candidate-b")

    config = _config(model_dir)
    assert _served_version(config) == n2
    assert _version_folders(model_dir) == {str(n2)}
    assert config["max_batch_size"] == [TRITON_MAX_BATCH]
    assert "dynamic_batching" in config
    assert config["input"][0]["dims"] == [3, 8, 8] and config["output"][0]["dims"] == [3]
    session = ort.InferenceSession(
        str(model_dir / str(n2) / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    (scores,) = session.run(None, {"images": np.ones((TRITON_MAX_BATCH, 3, 8, 8), dtype=np.float32)})
    assert scores.shape == (TRITON_MAX_BATCH, 3)

    with caplog.at_level(logging.INFO):
        promote_version(dest, v1)  # roll back: v1's folder comes back from its published version
    assert _served_version(_config(model_dir)) == n1
    assert read_production(dest)["triton"]["version"] == n1
    assert _version_folders(model_dir) == {str(n1)}
    assert verify_triton_repository(dest, tmp_path / "served").published_version == v1
    assert rollout_command(v1) in caplog.text
    assert f'"yolo-kfp/production-version":"{v1}"' in rollout_command(v1)


def test_racing_promotions_leave_config_on_the_production_version(tmp_path: Path) -> None:
    """It converges: after simultaneous promotions config.pbtxt serves whatever production.json names."""
    dest = str(tmp_path / "models" / "yolo-transfer")
    versions = []
    for i in range(3):
        folder = _dynamic_model_dir(tmp_path / f"m{i}", ["a", "b", "c"], 0.1 * (i + 1))
        # each is promoted once (gated against the one before), so the racing promotions are rollbacks
        folder = _gate_against(folder, dest) if versions else folder
        versions.append(
            publish_model(
                folder, dest, PublishConfig(version=f"2025010{i + 1}T000000Z-x", promote=True)
            ).version
        )
    failures: list[BaseException] = []

    def promote(version: str) -> None:
        try:
            promote_version(dest, version)
        except BaseException as err:  # noqa: BLE001 - every racing promotion must succeed
            failures.append(err)

    for round_ in range(6):
        order = versions[round_ % 3 :] + versions[: round_ % 3]
        threads = [threading.Thread(target=promote, args=(v,)) for v in order]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures, failures  # e.g. a prune listing a file the other promotion had just removed
        pointer = read_production(dest)
        config = _config(Path(dest) / "triton" / "yolo-transfer")
        assert _served_version(config) == triton_version_number(pointer["version"]), round_
        assert verify_triton_repository(dest, tmp_path / f"served-{round_}") is not None, round_


def test_two_versions_claiming_one_triton_folder_are_refused(tmp_path: Path) -> None:
    """It refuses to lay out a second model under a Triton version number another version owns."""
    dest = str(tmp_path / "models" / "yolo-transfer")
    a = _dynamic_model_dir(tmp_path / "a", ["x", "y", "z"], 0.1)
    b = _dynamic_model_dir(tmp_path / "b", ["x", "y", "z"], 0.3)
    publish_model(a, dest, PublishConfig(version="20250101T000000Z-aaa", promote=True))
    with pytest.raises(TritonConflict, match="Triton version 20250101000000 holds another model"):
        publish_model(
            _gate_against(b, dest), dest, PublishConfig(version="20250101T000000Z-bbb", promote=True)
        )
    assert read_production(dest)["version"] == "20250101T000000Z-aaa"


def test_a_model_that_is_not_onnx_is_promoted_without_triton(tmp_path: Path, caplog) -> None:
    """It still promotes (as before) but records no Triton entry and leaves config.pbtxt alone."""
    dest = str(tmp_path / "models" / "yolo-transfer")
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(os.urandom(2000))
    (folder / "metrics.json").write_text(json.dumps({"gate": {"passed": True}}))
    with caplog.at_level(logging.WARNING):
        assert publish_model(folder, dest, PublishConfig(fingerprint=FP, promote=True)).promoted
    assert read_production(dest)["triton"] is None
    assert "not laid out for Triton" in caplog.text
    assert sync_config(backend_for(dest)) is None
    assert verify_triton_repository(dest, tmp_path / "served") is None


def test_onnx_io_reads_what_the_onnx_package_reads(tmp_path: Path) -> None:
    """It returns the graph's inputs (initializers left out) and outputs with their types and shapes."""
    folder = _dynamic_model_dir(tmp_path / "m", ["a", "b", "c"], 0.5)
    model = onnx.load(str(folder / "model.onnx"), load_external_data=False)
    model.graph.input.append(onnx.helper.make_tensor_value_info("w", onnx.TensorProto.FLOAT, [3, 3]))
    onnx.save(model, str(folder / "legacy.onnx"))  # IR < 4 style: the initializer listed as an input
    io = onnx_io(folder / "legacy.onnx")
    assert [(t.name, t.data_type, t.dims) for t in io.inputs] == [("images", "TYPE_FP32", ("batch", 3, 8, 8))]
    assert [(t.name, t.data_type, t.dims) for t in io.outputs] == [("scores", "TYPE_FP32", ("batch", 3))]


def test_onnx_io_refuses_bytes_that_are_not_onnx_with_one_error(tmp_path: Path) -> None:
    """It raises DatasetError (never another exception) for arbitrary bytes."""
    from components._shared.errors import DatasetError

    rng = np.random.default_rng(0)
    path = tmp_path / "model.onnx"
    for size in (1, 7, 100, 2000, 5000):
        for _ in range(40):
            path.write_bytes(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
            with pytest.raises(DatasetError, match="model.onnx: not"):
                onnx_io(path)


def test_a_left_over_version_folder_fails_verification(tmp_path: Path) -> None:
    """It refuses a repository that still holds another version (what every predictor would download)."""
    dest = str(tmp_path / "models" / "yolo-transfer")
    folder = _dynamic_model_dir(tmp_path / "a", ["x", "y", "z"], 0.1)
    publish_model(folder, dest, PublishConfig(version="20250101T000000Z-aaa", promote=True))
    stale = Path(dest) / "triton" / "yolo-transfer" / "20240101000000"
    stale.mkdir()
    shutil.copy(folder / "model.onnx", stale / "model.onnx")
    with pytest.raises(StorageError, match="holds 20240101000000/model.onnx besides production"):
        verify_triton_repository(dest, tmp_path / "served")
    sync_config(backend_for(dest))  # what the next promotion does
    assert not (stale / "model.onnx").exists()
    assert verify_triton_repository(dest, tmp_path / "served2") is not None
