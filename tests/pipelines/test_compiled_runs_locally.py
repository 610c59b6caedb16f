"""The committed compiled pipeline, the very YAML GitOps submits, runs end to end through kfp.local."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest

from pipelines.compile import COMPILED
from pipelines.local_run import SAMPLE_WEIGHTS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_committed_pipeline_yaml_trains_and_publishes_under_kfp_local(tmp_path: Path) -> None:
    """It loads pipelines/compiled/yolo_transfer.yaml from the file, runs it on a tiny sample and publishes."""
    run_compiled_pipeline(COMPILED, tmp_path)


def run_compiled_pipeline(package: Path, tmp_path: Path) -> None:
    """Run a compiled pipeline package under kfp.local on 40 synthetic images; assert it planned and published."""
    from kfp import components, local

    from components.make_sample.core import SampleConfig, make_sample
    from pipelines.warm_tasks import warm_tasks

    assert SAMPLE_WEIGHTS.is_file(), "run: make pretrained-sample"
    voc = tmp_path / "voc"
    make_sample(voc, SampleConfig(images=40, seed=1, task="B", imgsz=96))
    pipeline = components.load_component_from_file(str(package))
    dest, root = tmp_path / "models", tmp_path / "kfp"
    params = {"source": str(voc), "weights": str(SAMPLE_WEIGHTS), "imgsz": 96, "batch": 16,
              "epochs_frozen": 1, "epochs_finetune": 1, "gpus": 0, "min_map50_95": 0.0,
              "publish_dest": str(dest), "checkpoint_root": str(tmp_path / "checkpoints")}  # fmt: skip

    os.environ.setdefault("YOLO_OFFLINE", "1")
    warnings.filterwarnings(
        "ignore", message=".*(have no effect in the current local runner|non-Python base).*"
    )
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=True)
    with warm_tasks():
        pipeline(**params)

    production = json.loads((dest / "production.json").read_text(encoding="utf-8"))
    assert (dest / production["version"] / "manifest.json").is_file()
    plans = list(root.glob("*/*/*/plan.json"))
    assert len(plans) == 1 and json.loads(plans[0].read_text(encoding="utf-8"))["plan"]
