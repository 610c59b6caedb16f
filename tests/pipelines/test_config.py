"""Pipeline parameters: defaults derived from the stages' configs, one loader, typed values, no secrets."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from components._shared.errors import ConfigError
from components.convert.core import ConvertConfig
from components.plan.core import PlanRequest
from components.split.core import SplitConfig
from components.train.core import TrainConfig
from pipelines import config
from pipelines.config import LOCAL_PARAMS, PipelineParams, load_params, local_defaults

REPO = Path(__file__).resolve().parents[2]


def test_pipeline_defaults_are_the_stage_defaults() -> None:
    """It takes each stage-owned default from that stage's config, so a default is written once."""
    p, plan, train, split = PipelineParams(), PlanRequest(), TrainConfig(), SplitConfig()
    assert (p.weights, p.model_size, p.strategy) == (plan.weights, plan.model_size, plan.strategy)
    assert (p.epochs_frozen, p.epochs_finetune, p.lr0, p.lr_finetune) == (
        plan.epochs_frozen, plan.epochs_finetune, plan.lr0, plan.lr_finetune)  # fmt: skip
    assert (p.imgsz, p.batch, p.warmup_epochs) == (train.imgsz, train.batch, train.warmup_epochs)
    assert (p.val, p.test, p.seed) == (split.val, split.test, split.seed)
    assert p.include_difficult == ConvertConfig().include_difficult
    assert p.freeze == "auto" and p.strategy == "auto"


def test_pipeline_name_and_secret_words_are_defined_once() -> None:
    """It defines PIPELINE_NAME and SECRET_WORDS in pipelines/config.py and nowhere else."""
    for name in ("PIPELINE_NAME", "SECRET_WORDS"):
        owners = []
        for path in [*REPO.glob("pipelines/**/*.py"), *REPO.glob("components/**/*.py")]:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            if any(isinstance(n, ast.Assign) and any(getattr(t, "id", None) == name for t in n.targets)
                   for n in ast.walk(tree)):  # fmt: skip
                owners.append(path.relative_to(REPO).as_posix())
        assert owners == ["pipelines/config.py"], (name, owners)


def test_the_demo_values_live_in_the_local_parameters_file() -> None:
    """It reads run-local's demo values from pipelines/params/local.yaml through the one loader."""
    demo = local_defaults()
    assert LOCAL_PARAMS.name == "local.yaml" and demo["gpus"] == 0
    assert load_params(LOCAL_PARAMS).imgsz == demo["imgsz"] != PipelineParams().imgsz


def test_values_are_checked_and_coerced_to_the_parameter_type(tmp_path: Path) -> None:
    """It accepts ``freeze: 8`` as "8", an int where a float is expected, and refuses a wrong type."""
    f = tmp_path / "p.yaml"
    f.write_text("freeze: 8\nlr0: 1\nepochs_frozen: 3\n", encoding="utf-8")
    p = load_params(f)
    assert (p.freeze, p.lr0, p.epochs_frozen) == ("8", 1.0, 3)
    f.write_text("epochs_frozen: ten\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"p.yaml: parameter 'epochs_frozen' must be int"):
        load_params(f)
    with pytest.raises(ConfigError, match="include_difficult"):
        load_params(None, {"include_difficult": "yes"})


@pytest.mark.parametrize("key", ["minio_secret_key", "db_password", "api_token", "my_credential", "passwd"])
def test_secret_looking_names_are_refused(key: str) -> None:
    """It refuses a parameter named like a credential, from a file or an override."""
    with pytest.raises(ConfigError, match="looks like a secret"):
        load_params(None, {key: "x"})


def test_unknown_parameters_and_non_mappings_are_refused(tmp_path: Path) -> None:
    """It names the file and the unknown key, and refuses a file that is not a mapping."""
    f = tmp_path / "p.yaml"
    f.write_text("epochz: 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"p.yaml: unknown pipeline parameter 'epochz'"):
        load_params(f)
    f.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_params(f)
    assert config.read_params_file(LOCAL_PARAMS)
