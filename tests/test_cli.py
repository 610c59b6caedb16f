"""The ``yolo-kfp`` command line: every subcommand is there, and data stages start without torch."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

import components
import pipelines
from components._shared.cliutil import GRAMMAR, HelpFormatter
from components._shared.images import project_version
from pipelines.cli import COMMANDS, _available, build_parser, grammar_table, main, parse_args

REPO = Path(__file__).resolve().parents[1]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False)


def test_packages_import_from_this_repo() -> None:
    """It imports ``components`` and ``pipelines`` from this checkout, not a same-named package elsewhere."""
    assert Path(components.__file__).resolve().parent == REPO / "components"
    assert Path(pipelines.__file__).resolve().parent == REPO / "pipelines"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    """It registers each subcommand and prints its usage."""
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert f"yolo-kfp {command}" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["convert", "split", "stats", "ingest", "publish", "make-sample"])
def test_data_stages_start_without_torch(command: str) -> None:
    """It parses a data stage's arguments without importing torch, ultralytics or kfp."""
    code = (
        "import sys; from pipelines.cli import main\n"
        f"try: main([{command!r}, '--help'])\nexcept SystemExit: pass\n"
        "heavy = [m for m in ('torch', 'ultralytics', 'kfp') if m in sys.modules]\n"
        "assert not heavy, heavy"
    )
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr


def test_known_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    """It turns a missing input into one stderr line and exit code 2, with no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "split", "--converted", str(tmp_path / "missing"), "--out", str(tmp_path / "o")],
        capture_output=True, text=True, cwd=REPO, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("yolo-kfp split: error:") and "missing" in lines[0]


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser(_available())
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _options(name: str, parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The visible options of a subcommand; render-trainjob's copy of the train flags counts as train's."""
    train = {a.dest for a in _subparsers()["train"]._actions} if name == "render-trainjob" else set()
    return [
        a
        for a in parser._actions
        if a.option_strings and a.help is not argparse.SUPPRESS and a.dest != "help" and a.dest not in train
    ]


def test_no_flag_has_two_meanings() -> None:
    """It gives each flag one destination across subcommands, and every shared flag a grammar entry and metavar."""
    dests: dict[str, set[str]] = defaultdict(set)
    users: dict[str, set[str]] = defaultdict(set)
    for name, parser in _subparsers().items():
        for action in _options(name, parser):
            for flag in action.option_strings:
                dests[flag].add(action.dest)
                users[flag].add(name)
                if flag in GRAMMAR:
                    assert action.metavar in GRAMMAR[flag].metavars, (name, flag, action.metavar)
    assert {f: d for f, d in dests.items() if len(d) > 1} == {}
    shared = {f for f, names in users.items() if len(names) > 1}
    assert shared <= set(GRAMMAR), sorted(shared - set(GRAMMAR))
    assert "--data" not in dests and "--voc" not in dests and "--version" not in dests


@pytest.mark.parametrize(
    ("command", "flag", "metavar"),
    [
        ("ingest", "--source", "URI|PATH"),
        ("convert", "--source", "DIR"),
        ("run-local", "--source", "URI|PATH"),
        ("split", "--converted", "DIR"),
        *[(c, "--dataset", "YAML|DIR") for c in ("stats", "plan", "train", "validate", "render-trainjob")],
        ("export", "--parity-images", "YAML|DIR"),
        *[(c, "-p", "KEY=VALUE") for c in ("run-local", "submit", "schedule")],
        *[(c, "--pipeline-version", "NAME") for c in ("submit", "schedule")],
        *[(c, "--model-version", "VERSION") for c in ("publish", "promote", "rollback")],
    ],
)
def test_each_input_has_its_one_name(command: str, flag: str, metavar: str) -> None:
    """It names the same input the same way in every subcommand that takes it."""
    actions = [a for a in _subparsers()[command]._actions if flag in a.option_strings]
    assert len(actions) == 1 and actions[0].metavar == metavar


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_default_is_shown_as_default_colon(command: str) -> None:
    """It ends each option help with "(default: X)" when the option has a default, and never spells it another way."""
    parser = _subparsers()[command]
    formatter = HelpFormatter(command)
    for action in _options(command, parser) + [a for a in parser._actions if a.dest == "log_level"]:
        text = formatter._get_help_string(action) or ""
        default = action.default
        trivial = action.required or default is None or default is False or default is argparse.SUPPRESS
        if not trivial and default != []:
            assert "(default: " in text, (command, action.option_strings, text)
            assert f"({default})" not in text, (command, action.option_strings, text)  # hand-written
        assert not re.search(r"\bdefault(?!: )", action.help or ""), (
            command,
            action.option_strings,
            action.help,
        )
    assert "(default: " in parser.format_help() or command in ("promote", "production")


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    """It prints ``yolo-kfp <version>`` and exits 0."""
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"yolo-kfp {project_version()}"


@pytest.mark.parametrize(
    ("argv", "level"),
    [
        (["--log-level", "debug", "convert", "--source", "v", "--out", "o"], "DEBUG"),
        (["convert", "--log-level", "DEBUG", "--source", "v", "--out", "o"], "DEBUG"),
        (["convert", "--source", "v", "--out", "o", "--log-level=warning"], "WARNING"),
        (["--log-level", "ERROR", "convert", "--source", "v", "--out", "o", "--log-level", "INFO"], "INFO"),
        (["convert", "--source", "v", "--out", "o"], None),
    ],
)
def test_global_options_go_before_or_after_the_subcommand(argv: list[str], level: str | None) -> None:
    """It accepts --log-level on either side of the subcommand; the one after it wins."""
    assert parse_args(argv).log_level == level


def test_log_level_after_the_subcommand_reaches_logging(tmp_path: Path) -> None:
    """It configures logging from a --log-level given after the subcommand."""
    code = (
        "import logging; from pipelines.cli import main\n"
        f"main(['make-sample', '--out', {str(tmp_path / 's')!r}, '--images', '2', '--imgsz', '64', "
        "'--log-level', 'WARNING'])\n"
        "assert logging.getLogger().level == logging.WARNING, logging.getLogger().level"
    )
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr
    assert " INFO " not in proc.stderr


def test_grammar_table_lists_every_flag_with_its_subcommands() -> None:
    """It renders the grammar for the README: one row per flag, with the subcommands that take it."""
    table = grammar_table()
    rows = [r for r in table.splitlines() if r.startswith("| `")]
    assert len(rows) == len(GRAMMAR)
    dataset = next(r for r in rows if r.startswith("| `--dataset"))
    assert "stats, plan, train, render-trainjob, validate" in dataset
    assert "ingest, convert, predict, run-local" in next(r for r in rows if r.startswith("| `--source"))


def test_readme_grammar_table_is_the_generated_one() -> None:
    """It keeps README.md's "One grammar" table equal to ``grammar_table()`` (regenerate it from there)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert grammar_table() in readme


def test_promote_and_rollback_are_verbs(capsys: pytest.CaptureFixture[str]) -> None:
    """It registers publish, promote, rollback and production as separate subcommands."""
    assert {"publish", "promote", "rollback", "production"} <= set(COMMANDS)
    assert parse_args(["promote", "--dest", "d", "--model-version", "v1"]).model_version == "v1"
    assert parse_args(["rollback", "--dest", "d"]).model_version is None
    with pytest.raises(SystemExit):
        parse_args(["promote", "--dest", "d"])  # the version to promote is required
    assert "--model-version" in capsys.readouterr().err


def test_run_local_flags_left_out_leave_the_parameters_alone() -> None:
    """It gives run-local's parameter flags no default, so a flag left out never overrides --params or -p."""
    args = parse_args(["run-local"])
    keys = ("weights", "strategy", "freeze", "epochs_frozen", "epochs_finetune", "lr0", "lr_finetune", "imgsz",
            "batch", "classes", "min_map50_95", "publish_dest", "seed")  # fmt: skip
    assert {key: getattr(args, key) for key in keys} == dict.fromkeys(keys)
