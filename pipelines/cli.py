"""The ``yolo-kfp`` command line: one subcommand per stage plus the pipeline verbs."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from components._shared.cliutil import GRAMMAR, HelpFormatter, add_global_options
from components._shared.errors import YoloKfpError
from components._shared.log import setup_logging
from components._shared.redact import redact

# subcommand -> module exposing HELP, add_arguments(parser) and run(args) -> int | None
COMMANDS: dict[str, str] = {
    "make-sample": "components.make_sample.cli",
    "ingest": "components.ingest.cli",
    "convert": "components.convert.cli",
    "split": "components.split.cli",
    "stats": "components.stats.cli",
    "plan": "components.plan.cli",
    "train": "components.train.cli",
    "render-trainjob": "pipelines.cli_render_trainjob",
    "validate": "components.validate.cli",
    "export": "components.export.cli",
    "publish": "components.publish.cli",
    "promote": "components.publish.cli_promote",
    "rollback": "components.publish.cli_rollback",
    "production": "components.publish.cli_production",
    "predict": "components.predict.cli",
    "compile": "pipelines.cli_pipeline",
    "run-local": "pipelines.cli_run_local",
    "submit": "pipelines.cli_submit",
    "schedule": "pipelines.cli_schedule",
    "runs": "pipelines.cli_runs",
    "tensorboard": "pipelines.cli_tensorboard",
}


class _VersionAction(argparse.Action):
    """``--version``, read only when asked (images reads the environment)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)  # type: ignore[arg-type]

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> None:
        from components._shared.images import project_version

        print(f"yolo-kfp {project_version()}")  # noqa: T201
        parser.exit()


def _available() -> dict[str, ModuleType]:
    """Every subcommand's module (each defers torch and kfp to the code that needs them)."""
    return {name: importlib.import_module(path) for name, path in COMMANDS.items()}


def build_parser(modules: dict[str, ModuleType]) -> argparse.ArgumentParser:
    """Return the top-level parser with one sub-parser per available subcommand."""
    parser = argparse.ArgumentParser(
        prog="yolo-kfp",
        description="YOLOv5 transfer learning as a Kubeflow pipeline: stages, local run and submission.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action=_VersionAction, help="print the package version and exit")
    add_global_options(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in modules.items():
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=(module.__doc__ or module.HELP).strip(),
            formatter_class=HelpFormatter,
        )
        module.add_arguments(p)
        add_global_options(p, after_command=True)
        p.set_defaults(_run=module.run)
    return parser


def grammar_table() -> str:
    """The grammar as a Markdown table (flag, meaning, subcommands), for the README."""
    parser = build_parser(_available())
    used: dict[str, list[str]] = {flag: [] for flag in GRAMMAR}
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    for name, p in sub.choices.items():
        for action in p._actions:  # noqa: SLF001 - argparse offers no public list of a parser's flags
            for flag in action.option_strings:
                if flag in used and action.help is not argparse.SUPPRESS:
                    used[flag].append(name)
    rows = ["| flag | meaning | subcommands |", "|---|---|---|"]
    for flag, spec in GRAMMAR.items():
        metavar = next((m for m in spec.metavars if m), "")
        where = ", ".join(used[flag]) if flag != "--log-level" else "all (before or after the subcommand)"
        cell = f"{flag} {metavar}".strip().replace("|", r"\|")  # a | inside a cell would end it
        meaning = spec.meaning.replace("|", r"\|")
        rows.append(f"| `{cell}` | {meaning} | {where} |")
    return "\n".join(rows)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The parsed command line; SystemExit on a usage error (2), ``--help`` or ``--version`` (0)."""
    return build_parser(_available()).parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``yolo-kfp``; returns the process exit code."""
    args = parse_args(argv)
    setup_logging(args.log_level)
    try:
        code = args._run(args)
    except YoloKfpError as err:
        msg = redact(" ".join(str(err).split()))  # one line, always, and never a credential
        print(f"yolo-kfp {args.command}: error: {msg}", file=sys.stderr)  # noqa: T201
        return 2
    except KeyboardInterrupt:
        print(f"yolo-kfp {args.command}: interrupted", file=sys.stderr)  # noqa: T201
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
