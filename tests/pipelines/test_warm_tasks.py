"""pipelines.warm_tasks: kfp.local tasks forked from a warm zygote, with kfp's launch as the fallback."""

import os
import signal
import warnings

import pytest
from kfp import dsl, local

from pipelines.warm_tasks import parse_task_command, warm_tasks

# No torch here: the zygote only needs kfp's executor to run these components.
LIGHT = ("kfp.dsl.executor_main",)


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def pids(tag: str) -> str:
    """Where the task ran: its pid and its parent's, and an environment variable kfp.local set."""
    import os

    return f"{tag}:{os.getpid()}:{os.getppid()}"


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def boom(message: str) -> str:
    raise ValueError(message)


def _command(component) -> list[str]:
    container = component.component_spec.implementation.container
    return [*container.command, *container.args]


@pytest.fixture
def kfp_local(tmp_path):
    warnings.filterwarnings("ignore", message=".*non-Python base image.*")
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp"))
    yield
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "kfp-after"))


def test_parse_task_command_finds_the_component_source_and_executor_args():
    parsed = parse_task_command(_command(pids))
    assert parsed is not None
    source, args = parsed
    assert "def pids(tag: str) -> str:" in source
    assert args[args.index("--function_to_execute") + 1] == "pids"
    assert "--executor_input" in args


@dsl.component(base_image="python:3.11", packages_to_install=["six"])
def installs(x: int) -> int:
    return x


def test_a_component_that_installs_packages_is_left_to_kfp():
    assert parse_task_command(_command(installs)) is None


@pytest.mark.parametrize(
    "command",
    [
        ["python", "-m", "kfp.dsl.executor_main"],
        ["sh", "-ec", "echo hello", "src"],
        ["sh", "-c", "program_path=...ephemeral_component.py _KFP_RUNTIME=true kfp.dsl.executor_main", "src"],
    ],
)
def test_parse_task_command_leaves_other_commands_alone(command):
    assert parse_task_command(command) is None


def test_tasks_run_in_processes_forked_by_the_zygote(kfp_local, monkeypatch):
    monkeypatch.setattr("pipelines.warm_tasks.PRELOAD", LIGHT)
    with warm_tasks() as zygote:
        zygote_pid = zygote.proc.pid
        first = pids(tag="a").output
        second = pids(tag="b").output
    tag_a, pid_a, parent_a = first.split(":")
    tag_b, pid_b, parent_b = second.split(":")
    assert (tag_a, tag_b) == ("a", "b")
    assert int(parent_a) == int(parent_b) == zygote_pid  # forked by the zygote, not started by kfp
    assert len({int(pid_a), int(pid_b), os.getpid(), zygote_pid}) == 4  # each task its own process
    assert zygote.proc.poll() is not None  # the zygote is gone once the block closes


def test_a_failing_task_fails_the_run_with_its_traceback(kfp_local, monkeypatch, capfd):
    monkeypatch.setattr("pipelines.warm_tasks.PRELOAD", LIGHT)
    with warm_tasks(), pytest.raises(RuntimeError, match="boom"):
        boom(message="bad data in tile 7")
    assert "ValueError: bad data in tile 7" in capfd.readouterr().err


def test_a_dead_zygote_falls_back_to_kfps_own_launch(kfp_local, monkeypatch):
    monkeypatch.setattr("pipelines.warm_tasks.PRELOAD", LIGHT)
    with warm_tasks() as zygote:
        os.kill(zygote.proc.pid, signal.SIGKILL)
        zygote.proc.wait()
        _, _, parent = pids(tag="c").output.split(":")
    assert int(parent) != zygote.proc.pid


def test_disabled_leaves_kfp_alone(kfp_local):
    from kfp.local import subprocess_task_handler as handler

    original = handler.run_local_subprocess
    with warm_tasks(enabled=False) as zygote:
        assert zygote is None
        assert handler.run_local_subprocess is original
        assert pids(tag="d").output.startswith("d:")
    assert handler.run_local_subprocess is original


def test_every_task_of_the_pipeline_gets_the_warm_launch():
    import yaml

    from pipelines.compile import COMPILED

    docs = list(yaml.safe_load_all(COMPILED.read_text()))
    executors = next(d for d in docs if d and "deploymentSpec" in d)["deploymentSpec"]["executors"]
    assert len(executors) >= 10
    for name, spec in executors.items():
        container = spec["container"]
        assert parse_task_command([*container["command"], *container["args"]]) is not None, name
