"""The ``yolo-kfp`` command line: one subcommand per stage plus the pipeline verbs.

The CLI only translates flags into a stage's config object and calls the same core function the
KFP component calls. Every known failure (``YoloKfpError``) becomes one line on stderr and exit 2.
Subcommand modules are imported lazily so that ``yolo-kfp convert`` never pays for torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from components._shared.errors import YoloKfpError
from components._shared.log import setup_logging

# subcommand -> module exposing HELP, add_arguments(parser) and run(args) -> int | None
COMMANDS: dict[str, str] = {
    "make-sample": "components.make_sample.cli",
    "convert": "components.convert.cli",
    "split": "components.split.cli",
    "stats": "components.stats.cli",
    "plan": "components.plan.cli",
    "train": "components.train.cli",
    "render-trainjob": "pipelines.cli_render_trainjob",
    "validate": "components.validate.cli",
    "export": "components.export.cli",
    "ingest": "components.ingest.cli",
    "publish": "components.publish.cli",
    "compile": "pipelines.cli_pipeline",
    "run-local": "pipelines.cli_run_local",
    "submit": "pipelines.cli_submit",
    "schedule": "pipelines.cli_schedule",
    "runs": "pipelines.cli_runs",
}


def _available() -> dict[str, object]:
    modules = {}
    for name, path in COMMANDS.items():
        try:
            modules[name] = importlib.import_module(path)
        except ModuleNotFoundError as err:
            if err.name and (err.name == path or path.startswith(err.name + ".")):
                continue  # subcommand not built yet in this checkout
            raise
    return modules


def build_parser(modules: dict[str, object]) -> argparse.ArgumentParser:
    """Return the top-level parser with one sub-parser per available subcommand."""
    parser = argparse.ArgumentParser(
        prog="yolo-kfp",
        description="YOLOv5 transfer learning as a Kubeflow pipeline: stages, local run and submission.",
    )
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO (default), WARNING")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in modules.items():
        p = sub.add_parser(
            name,
            help=module.HELP,  # type: ignore[attr-defined]
            description=(module.__doc__ or module.HELP).strip(),  # type: ignore[attr-defined]
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(p)  # type: ignore[attr-defined]
        p.set_defaults(_run=module.run)  # type: ignore[attr-defined]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``yolo-kfp``; returns the process exit code."""
    parser = build_parser(_available())
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    try:
        code = args._run(args)
    except YoloKfpError as err:
        msg = " ".join(str(err).split())  # one line, always
        print(f"yolo-kfp {args.command}: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"yolo-kfp {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
