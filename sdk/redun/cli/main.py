"""``redun``: run workflows and inspect what they recorded.

Exit codes: 0 success; 1 a task (or the workflow's code) failed; 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from redun.errors import RedunError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    from redun import __version__

    parser = argparse.ArgumentParser(
        prog="redun",
        description="Run Python workflows with caching and provenance.",
        epilog="Run 'redun COMMAND --help' for a command's options.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"redun {__version__}")
    parser.add_argument(
        "-c",
        "--config",
        metavar="DIR",
        help="configuration directory (default: $REDUN_CONFIG, else .redun here or above)",
    )
    parser.add_argument(
        "--db", metavar="URI", help="database URL (overrides [backend] db_uri; $REDUN_DB_URI)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="run a task of a workflow file",
        description="Run TASK from FILE; task arguments are given as --name value.",
        usage="redun run [options] FILE TASK [--arg value ...]",
    )
    run.add_argument("file", metavar="FILE", help="workflow file (flow.py) or module (pkg.flow)")
    run.add_argument("task", metavar="TASK", help="task name (or namespace.name)")
    run.add_argument("--no-cache", action="store_true", help="re-run every job")
    run.add_argument(
        "--dryrun",
        "--dry-run",
        action="store_true",
        help="show which jobs would run, and why, without running them",
    )
    run.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set a context value for get_context() (repeatable; dotted keys nest)",
    )
    run.add_argument(
        "--no-progress", action="store_true", help="do not draw the live progress table"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # Everything after FILE TASK belongs to the task: split it off before parsing.
    ours, task_argv = _split_task_args(argv)
    try:
        args = parser.parse_args(ours)
    except SystemExit as exit:
        return int(exit.code or 0) if exit.code in (0, None) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        if args.command == "run":
            from redun.cli.run import run_command

            return run_command(args, task_argv, full_argv=argv)
    except UsageError as error:
        print(f"redun: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except RedunError as error:
        print(f"redun: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("redun: interrupted", file=sys.stderr)
        return 130
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _split_task_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """Split ``redun [opts] run [opts] FILE TASK [task args]`` at the task's arguments."""
    try:
        start = argv.index("run")
    except ValueError:
        return argv, []
    positional = 0
    index = start + 1
    takes_value = {"--context"}
    while index < len(argv):
        item = argv[index]
        if item in takes_value:
            index += 2
            continue
        if not item.startswith("-"):
            positional += 1
            if positional == 2:
                return argv[: index + 1], argv[index + 1 :]
        index += 1
    return argv, []


def format_task_error(error: BaseException) -> str:
    """The error's traceback with redun's own frames removed."""
    remote = getattr(error, "__redun_traceback__", None)
    if remote:
        return str(remote).rstrip()
    frames = traceback.extract_tb(error.__traceback__)
    user = [frame for frame in frames if not _is_engine_frame(frame.filename)]
    lines = ["Traceback (most recent call last):\n"]
    lines.extend(traceback.format_list(user or frames))
    lines.extend(traceback.format_exception_only(type(error), error))
    job = getattr(error, "__redun_job__", None)
    if job is not None:
        lines.insert(0, f"Task {job.task.fullname} failed (job {job.id[:8]}):\n")
    return "".join(lines).rstrip()


_ENGINE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _is_engine_frame(filename: str) -> bool:
    return (
        os.path.abspath(filename).startswith(_ENGINE_DIR + os.sep)
        or filename.startswith("<frozen")
        or os.sep + "concurrent" + os.sep in filename
        or os.sep + "threading.py" in filename
    )


def print_error(error: BaseException) -> None:
    print(format_task_error(error), file=sys.stderr)


def _entry() -> Any:  # pragma: no cover - console script shim
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
