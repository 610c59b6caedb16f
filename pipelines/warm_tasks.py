"""Fork ``kfp.local``'s tasks from a *zygote* that imported kfp, torch and Ultralytics once (local runs only).

A fresh interpreter spends ~1 s importing kfp and ~3 s torch and Ultralytics; a dead zygote falls back to kfp.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

# What the zygote imports before its first fork: what the tasks would otherwise each import again
# (found by diffing sys.modules after a direct run). Missing ones are skipped. Not polars: it warns
# that fork() after importing it may deadlock.
PRELOAD = (
    "kfp.dsl.executor_main",
    "torch",
    "torchvision",
    "ultralytics",
    "ultralytics.engine.exporter",
    "matplotlib.pyplot",
    "sympy",
    "onnx",
    "onnxruntime",
    "onnxsim",
    "components._yolo.train",
    "components._yolo.validate",
    "components._yolo.export",
    "components.train.stage",
    "components.validate.stage",
    "components.export.core",
    "components.stats.report",
    "components.plan.core",
    "components.convert.core",
    "components.publish.core",
)
_SCRIPT_MARKS = ("ephemeral_component.py", "kfp.dsl.executor_main", "_KFP_RUNTIME=true")


def parse_task_command(full_command: list[str]) -> tuple[str, list[str]] | None:
    """``(component source, executor arguments)`` of a lightweight-component command, else None."""
    if len(full_command) < 4 or full_command[:2] != ["sh", "-ec"]:
        return None
    if not all(mark in full_command[2] for mark in _SCRIPT_MARKS):
        return None
    return full_command[3], list(full_command[4:])


class Zygote:
    """A ``python -m pipelines.warm_tasks`` process that forks one child per task request."""

    def __init__(self, preload: tuple[str, ...] | None = None) -> None:
        preload = PRELOAD if preload is None else preload  # read when called: tests set their own
        req_r, self._req_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        env = {**os.environ, "_KFP_RUNTIME": "true"}
        cmd = [sys.executable, "-m", "pipelines.warm_tasks", str(req_r), str(resp_w), ",".join(preload)]
        self.proc = subprocess.Popen(cmd, pass_fds=(req_r, resp_w), env=env, stdin=subprocess.DEVNULL)
        os.close(req_r)
        os.close(resp_w)
        self._req = os.fdopen(self._req_w, "w", buffering=1)
        self._resp = os.fdopen(self._resp_r, "r")

    def run(self, source: str, args: list[str], env: dict[str, str]) -> int | None:
        """Run one task in a fork; its exit code, or None when the zygote is gone."""
        try:
            self._req.write(json.dumps({"source": source, "args": args, "env": env}) + "\n")
            self._req.flush()
            line = self._resp.readline()
        except (BrokenPipeError, OSError):
            return None
        return int(line) if line.strip() else None

    def close(self) -> None:
        """End the zygote (it exits when its request pipe closes)."""
        with contextlib.suppress(OSError):
            self._req.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        with contextlib.suppress(OSError):
            self._resp.close()


@contextlib.contextmanager
def warm_tasks(enabled: bool = True) -> Iterator[Zygote | None]:
    """While open, ``kfp.local.SubprocessRunner`` tasks are forked from a warm ``Zygote``."""
    if not enabled:
        yield None
        return
    from kfp.local import subprocess_task_handler as handler

    original = handler.run_local_subprocess
    zygote = Zygote()

    def run_local_subprocess(full_command: list[str], env_vars: dict[str, str] | None = None) -> int:
        parsed = parse_task_command(full_command)
        if parsed is not None:
            code = zygote.run(parsed[0], parsed[1], dict(env_vars or {}))
            if code is not None:
                return code
            log.warning("the warm task launcher stopped; starting this task the usual way")
        return original(full_command, env_vars)

    handler.run_local_subprocess = run_local_subprocess
    try:
        yield zygote
    finally:
        handler.run_local_subprocess = original
        zygote.close()


def _run_task(request: dict[str, Any]) -> int:
    """In the forked child: what the ``sh -ec`` script and ``python -m kfp.dsl.executor_main`` do."""
    os.environ.update(request["env"])
    os.environ["_KFP_RUNTIME"] = "true"
    program_path = tempfile.mkdtemp()
    module = os.path.join(program_path, "ephemeral_component.py")
    with open(module, "w", encoding="utf-8") as fh:
        fh.write(request["source"])
    sys.argv = ["kfp.dsl.executor_main", "--component_module_path", module, *request["args"]]
    from kfp.dsl import executor_main

    try:
        executor_main.executor_main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:  # noqa: BLE001 - a task's failure is reported like the executor would
        traceback.print_exc()
        _record_failure(exc)
        return 1
    return 0


FAILURE_FILE_ENV = "YOLO_KFP_FAILURE_FILE"  # run-local reads the failed task's one-line reason from here


def _record_failure(exc: BaseException) -> None:
    path = os.environ.get(FAILURE_FILE_ENV)
    if not path:
        return
    message = " ".join(str(exc).split()) or exc.__class__.__name__
    with contextlib.suppress(OSError), open(path, "a", encoding="utf-8") as fh:
        fh.write(f"{exc.__class__.__name__}: {message}\n")


def _serve(req_fd: int, resp_fd: int, preload: list[str]) -> None:
    """The zygote: import ``preload``, then fork one child per request line until the pipe closes."""
    for name in preload:
        with contextlib.suppress(ImportError):
            __import__(name)
    with os.fdopen(req_fd, "r") as requests, os.fdopen(resp_fd, "w", buffering=1) as responses:
        for line in requests:
            request = json.loads(line)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the task
                requests.close()
                responses.close()
                code = 1
                try:
                    code = _run_task(request)
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            responses.write(f"{os.waitstatus_to_exitcode(status)}\n")


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]), [m for m in sys.argv[3].split(",") if m])
