"""The ``yolo-kfp`` command line: one subcommand per stage plus the pipeline verbs.

The CLI only translates flags into a stage's config object and calls the same core function the
KFP component calls. Every known failure (``YoloKfpError``) becomes one line on stderr and exit 2.
Subcommand modules are imported lazily so that ``yolo-kfp convert`` never pays for torch.

One grammar (``components._shared.cliutil.GRAMMAR``): a flag means the same in every subcommand,
defaults show as ``(default: X)``, ``--log-level`` goes before or after the subcommand, and a renamed
flag's old spelling (a module's ``DEPRECATED``) still works for one release with a warning.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from components._shared.cliutil import GRAMMAR, HelpFormatter, add_global_options, rewrite_deprecated
from components._shared.errors import YoloKfpError
from components._shared.log import setup_logging
from components._shared.redact import redact

# subcommand -> module exposing HELP, add_arguments(parser), run(args) -> int | None and, optionally,
# DEPRECATED = {"--old-flag": "--new-flag"}
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
_GLOBAL_WITH_VALUE = ("--log-level",)


class _VersionAction(argparse.Action):
    """``--version``: print the package version (read only when asked: images reads the environment)."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)  # type: ignore[arg-type]

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> None:
        from components._shared.images import project_version

        print(f"yolo-kfp {project_version()}")  # noqa: T201
        parser.exit()


def _available() -> dict[str, ModuleType]:
    modules = {}
    for name, path in COMMANDS.items():
        try:
            modules[name] = importlib.import_module(path)
        except ModuleNotFoundError as err:
            if err.name and (err.name == path or path.startswith(err.name + ".")):
                continue  # subcommand not built yet in this checkout
            raise
    return modules


def _epilog(module: ModuleType) -> str | None:
    deprecated: dict[str, str] = getattr(module, "DEPRECATED", {})
    if not deprecated:
        return None
    pairs = ", ".join(f"{old} -> {new}" for old, new in deprecated.items())
    return f"deprecated spellings, still accepted until the next release: {pairs}"


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
            epilog=_epilog(module),
            formatter_class=HelpFormatter,
        )
        module.add_arguments(p)
        add_global_options(p, after_command=True)
        p.set_defaults(_run=module.run)
    return parser


def _rewrite(argv: list[str], modules: dict[str, ModuleType]) -> list[str]:
    """``argv`` with the subcommand's deprecated flag spellings replaced (and a warning for each)."""
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in _GLOBAL_WITH_VALUE:
            i += 2
            continue
        if token.startswith("-"):
            i += 1
            continue
        module = modules.get(token)
        deprecated = getattr(module, "DEPRECATED", None) if module else None
        if deprecated:
            return argv[: i + 1] + rewrite_deprecated(token, argv[i + 1 :], deprecated)
        return argv
    return argv


def grammar_table(modules: dict[str, ModuleType] | None = None) -> str:
    """The grammar as a Markdown table (flag, meaning, subcommands, deprecated spellings), for the README."""
    modules = modules if modules is not None else _available()
    parser = build_parser(modules)
    used: dict[str, list[str]] = {flag: [] for flag in GRAMMAR}
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))  # noqa: SLF001
    for name, p in sub.choices.items():
        for action in p._actions:  # noqa: SLF001 - argparse offers no public list of a parser's flags
            for flag in action.option_strings:
                if flag in used and action.help is not argparse.SUPPRESS:
                    used[flag].append(name)
    aliases: dict[str, dict[str, list[str]]] = {}
    for name, module in modules.items():
        for old, new in getattr(module, "DEPRECATED", {}).items():
            aliases.setdefault(new, {}).setdefault(old, []).append(name)
    rows = [
        "| flag | meaning | subcommands | deprecated spelling (until the next release) |",
        "|---|---|---|---|",
    ]
    for flag, spec in GRAMMAR.items():
        metavar = next((m for m in spec.metavars if m), "")
        where = ", ".join(used[flag]) if flag != "--log-level" else "all (before or after the subcommand)"
        old = "; ".join(f"`{o}` ({', '.join(names)})" for o, names in aliases.get(flag, {}).items()) or "-"
        cell = f"{flag} {metavar}".strip().replace("|", r"\|")  # a | inside a cell would end it
        meaning = spec.meaning.replace("|", r"\|")
        rows.append(f"| `{cell}` | {meaning} | {where} | {old} |")
    return "\n".join(rows)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The parsed command line (deprecated spellings rewritten, with their warnings on stderr).

    Raises:
        SystemExit: a usage error (exit 2), ``--help`` or ``--version`` (exit 0).
    """
    modules = _available()
    parser = build_parser(modules)
    return parser.parse_args(_rewrite(list(sys.argv[1:] if argv is None else argv), modules))


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
