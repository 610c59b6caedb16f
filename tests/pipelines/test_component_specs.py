"""The committed component YAMLs: fresh, one per stage, with metadata, and reusable in a new pipeline."""

# no `from __future__ import annotations`: kfp reads the new pipeline's annotations as types

import warnings
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from components._shared import versions
from pipelines.component_specs import COMPONENTS, compile_component_specs, default_images, stages

STAGES = sorted(p.parent.name for p in COMPONENTS.glob("*/component.py"))


def _without_sdk_version(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("sdkVersion:"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[Path, Path]:
    """What the generator writes now, keyed by the committed file's path."""
    root = tmp_path_factory.mktemp("specs")
    return {COMPONENTS / p.relative_to(root): p for p in compile_component_specs(root)}


def test_the_generator_covers_every_stage() -> None:
    """It finds the stage folders (a renamed component.py would silently drop out of the check)."""
    expected = {"ingest", "convert", "split", "stats", "plan", "train", "validate", "export", "publish"}
    assert expected <= set(stages()) == set(STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_every_stage_has_a_component_yaml_and_metadata(stage: str) -> None:
    """It finds components/<stage>/component.yaml and metadata.yaml committed beside component.py."""
    assert (COMPONENTS / stage / "component.yaml").is_file(), "run: python -m pipelines.component_specs"
    assert (COMPONENTS / stage / "metadata.yaml").is_file(), "run: python -m pipelines.component_specs"


def test_committed_component_specs_are_fresh(generated: dict[Path, Path]) -> None:
    """It regenerates every component.yaml/metadata.yaml and finds the committed ones identical (sdkVersion aside)."""
    stale = [
        str(committed.relative_to(COMPONENTS.parent))
        for committed, fresh in generated.items()
        if not committed.is_file()
        or _without_sdk_version(committed.read_text(encoding="utf-8"))
        != _without_sdk_version(fresh.read_text(encoding="utf-8"))
    ]
    assert not stale, f"stale component specs {stale}: run python -m pipelines.component_specs"
    committed = {
        p for p in COMPONENTS.glob("*/*.yaml") if p.name.endswith(("component.yaml", "metadata.yaml"))
    }
    assert committed == set(generated), "component specs that the generator no longer writes"


def test_metadata_names_the_sdk_backend_image_and_interface(generated: dict[Path, Path]) -> None:
    """It finds the KFP SDK, the minimum backend, a default image and described inputs in every metadata file."""
    metadata = [p for p in generated if p.name.endswith("metadata.yaml")]
    assert len(metadata) == len(generated) // 2
    for path in metadata:
        meta = yaml.safe_load(path.read_text(encoding="utf-8"))
        kubeflow = meta["dependencies"]["kubeflow"]
        assert kubeflow[0] == {"name": "Pipelines", "version": f">={versions.BACKEND_MIN}"}
        trainer = [d for d in kubeflow if d["name"] == "Trainer"]  # nodes > 1 runs Kubeflow Trainer TrainJobs
        assert [d["version"] for d in trainer] == (
            [f">={versions.TRAINER_MIN}"] if meta["name"] == "train_model" else []
        )
        assert meta["dependencies"]["sdk"] == [{"name": "kfp", "version": f"=={versions.KFP_SDK}"}]
        assert meta["component"]["image"] in set(default_images().values()), path
        spec = yaml.safe_load((path.parent / meta["component"]["file"]).read_text(encoding="utf-8"))
        executor = next(iter(spec["deploymentSpec"]["executors"].values()))
        assert executor["container"]["image"] == meta["component"]["image"]
        assert meta["description"] and meta["inputs"] and meta["outputs"]
        assert all(row.get("description") for row in meta["inputs"]), path


def test_two_loaded_components_compose_into_a_new_local_pipeline(tmp_path: Path) -> None:
    """It loads the ingest, convert, split and stats YAMLs, wires them into a new pipeline and runs it locally."""
    from kfp import components, dsl, local
    from kfp.dsl import Dataset, Metrics

    from components.make_sample.core import SampleConfig, make_sample

    voc = tmp_path / "voc"
    make_sample(voc, SampleConfig(images=12, seed=3, task="B", imgsz=64))
    ingest, convert, split, stats = (
        components.load_component_from_file(str(COMPONENTS / stage / "component.yaml"))
        for stage in ("ingest", "convert", "split", "stats")
    )

    @dsl.pipeline(name="reuse-yolo-kfp-stages")
    def prepare(source: str) -> NamedTuple("Prepared", dataset=Dataset, stats=Metrics):
        src = ingest(source=source)
        conv = convert(voc_tree=src.outputs["voc_tree"], classes="", include_difficult=False,
                       fingerprint=src.outputs["fingerprint"])  # fmt: skip
        data = split(yolo_labels=conv.outputs["yolo_labels"], val=0.25, test=0.0, seed=0, group="")
        described = stats(yolo_dataset=data.outputs["yolo_dataset"], imgsz=64)
        return NamedTuple("Prepared", dataset=Dataset, stats=Metrics)(
            data.outputs["yolo_dataset"], described.outputs["stats"]
        )

    warnings.filterwarnings(
        "ignore", message=".*(have no effect in the current local runner|non-Python base).*"
    )
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"),
               raise_on_error=True)  # fmt: skip
    run = prepare(source=str(voc))

    dataset = Path(run.outputs["dataset"].path)
    names = yaml.safe_load((dataset / "dataset.yaml").read_text())["names"]
    train = (dataset / "train.txt").read_text().split()
    val = (dataset / "val.txt").read_text().split()
    assert names and train and val and not set(train) & set(val)
    metrics = run.outputs["stats"].metadata
    assert metrics["images"] == len(train) + len(val) >= 10
    assert metrics["classes"] == len(names) and metrics["instances"] > 0
