"""``redun``: run workflows and inspect what they recorded.

Exit codes: 0 success; 1 a task failed; 2 bad usage (including a workflow
that does not load, or a bad redun.ini); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import gc
import re
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from redun.argparsing import ArgumentParser
from redun.errors import RedunError, UsageError
from redun.scheduler.taskstack import is_engine_frame as _is_engine_frame

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# The insitro/redun release whose API and command line this engine implements: what
# ``redun --check-version SPEC`` compares with (``redun.__version__`` is the engine's own).
REDUN_API_VERSION = "0.44.1"


def build_parser(
    command: str | None = None, *, parser: argparse.ArgumentParser | None = None
) -> argparse.ArgumentParser:
    """The ``redun`` parser; with ``command``, only that command's module is imported.

    A run pays only for its own command: ``redun run`` does not import what
    ``redun log`` or ``redun submit`` need. Without one (``redun --help``, a
    mistyped command), every command is registered, for the listing. ``parser``
    is a fresh global parser to build on (``main`` has one already).
    """
    parser = parser or _global_parser()
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = (command,) if command in COMMAND_MODULES else COMMAND_MODULES
    for name in names:
        module = _load_command(name)
        if module is not None:
            module.register(commands)
    return parser


def _global_parser() -> argparse.ArgumentParser:
    from redun import __version__

    parser = ArgumentParser(
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
    parser.add_argument(
        "-r",
        "--repo",
        default="default",
        metavar="NAME",
        help="use the config directory of [repos.NAME] (config_dir = DIR) in redun.ini "
        "(default: default, the current one)",
    )
    parser.add_argument(
        "-s",
        "--setup",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option for the config's [scheduler] setup_scheduler hook (repeatable)",
    )
    parser.add_argument(
        "--setup-help", action="store_true", help="list the options -s takes, and exit"
    )
    parser.add_argument(
        "--check-version",
        metavar="SPEC",
        help="fail (exit 2) unless the redun API release implemented here "
        f"({REDUN_API_VERSION}) meets SPEC, e.g. '>=0.8,<1.0'",
    )
    parser.add_argument(
        "--log-level",
        choices=("ERROR", "WARN", "INFO", "DEBUG"),
        metavar="LEVEL",
        help="print the redun logger's messages of LEVEL (ERROR, WARN, INFO, DEBUG) "
        "and above to stderr",
    )
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The command word of ``redun [options] COMMAND ...``, if it names a command."""
    return _command_of(list(argv), _global_parser())


def _command_of(argv: list[str], global_parser: argparse.ArgumentParser) -> str | None:
    index = _skip_options(argv, 0, global_parser)
    if index < len(argv) and argv[index] in COMMAND_MODULES:
        return argv[index]
    return None


# Each command lives in redun/cli/cmd_<name>.py with register(subparsers), which adds
# a parser whose defaults include handler(args, task_argv) -> exit code.
COMMAND_MODULES = (
    "run",
    "log",
    "explain",
    "db",
    "cache",
    "submit",
    "events",
    "cancel",
    "watch",
    "watches",
    "unwatch",
    "fs",
    "tag",
    "init",
    "launch",
    "console",
    "repl",
    "oneshot",
    "help",
    "export",
    "import",
    "repo",
    "push",
    "pull",
    "aws",
)
# Commands whose arguments after FILE TASK belong to the task.
TASK_COMMANDS = frozenset({"run", "submit", "watch"})


def _load_command(name: str) -> Any:
    import importlib
    import importlib.util

    module_name = f"redun.cli.cmd_{name}"
    if importlib.util.find_spec(module_name) is None:
        return None
    return importlib.import_module(module_name)


def main(argv: Sequence[str] | None = None) -> int:
    owns_process = argv is None  # the console script, or python -m redun
    argv = list(sys.argv[1:] if argv is None else argv)
    # One global parser both finds the command word and becomes the full parser.
    parser = _global_parser()
    parser = build_parser(_command_of(argv, parser), parser=parser)
    if owns_process:
        # What is loaded so far lives as long as the process: out of the garbage
        # collector's sight, each collection is cheaper, and so is the one at exit.
        gc.freeze()
    # Everything after FILE TASK belongs to the task: split it off before parsing.
    ours, task_argv = _split_task_args(argv, parser)
    try:
        args = parser.parse_args(ours)
    except SystemExit as exit:
        return int(exit.code or 0) if exit.code in (0, None) else EXIT_USAGE
    try:
        return _dispatch(parser, args, argv, task_argv)
    except UsageError as error:
        print(f"redun: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except RedunError as error:
        print(f"redun: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("redun: interrupted", file=sys.stderr)
        return 130


def _dispatch(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    argv: list[str],
    task_argv: list[str],
    client: Any = None,
) -> int:
    """Apply the global options, then run the command's handler (its exit code)."""
    restore = None
    try:
        if args.log_level or args.check_version or args.repo != "default" or args.setup_help:
            from redun.cli.global_options import apply_global_options, print_setup_help

            restore = apply_global_options(args)
            if args.setup_help:
                print_setup_help(args.config)
                return EXIT_OK
        if args.command is None:
            parser.print_help(sys.stderr)
            if client is not None:
                raise UsageError("no command given (redun COMMAND ...; redun help lists them)")
            return EXIT_USAGE
        args.full_argv = argv
        args.client = client
        return int(args.handler(args, task_argv))
    finally:
        if restore is not None:
            restore()


def execute_embedded(argv: Sequence[str], client: Any) -> Any:
    """``redun ARGV`` inside this process for :class:`redun.cli.RedunClient`: the same
    commands, but errors are raised (a task's own, a UsageError...) instead of printed
    as exit codes, ``redun run`` returns its result and leaves its scheduler on
    ``client.scheduler``; other commands return their exit code."""
    argv = list(argv)
    parser = _global_parser()
    parser = build_parser(_command_of(argv, parser), parser=parser)
    ours, task_argv = _split_task_args(argv, parser)
    args = parser.parse_args(ours)
    code = _dispatch(parser, args, argv, task_argv, client)
    if args.command == "run" and hasattr(client, "_result"):
        return client.__dict__.pop("_result")
    if code == EXIT_USAGE:
        raise UsageError(f"redun {args.command} refused its arguments (exit {code})")
    return code


def _split_task_args(
    argv: list[str], parser: argparse.ArgumentParser
) -> tuple[list[str], list[str]]:
    """Split ``redun [opts] run [opts] FILE TASK [task args]`` at the task's arguments.

    Which options take a value is read from the parsers themselves, so a value
    is never mistaken for FILE or TASK.
    """
    index = _skip_options(argv, 0, parser)
    if index >= len(argv) or argv[index] not in TASK_COMMANDS:
        return argv, []
    command = _subparser(parser, argv[index])
    positional = 0
    index += 1
    while index < len(argv):
        if argv[index].startswith("-") and argv[index] != "-":
            index = _skip_options(argv, index, command, single=True)
            continue
        positional += 1
        if positional == 2:
            return argv[: index + 1], argv[index + 1 :]
        index += 1
    return argv, []


def _takes_value(parser: argparse.ArgumentParser, option: str) -> bool:
    action = parser._option_string_actions.get(option.split("=", 1)[0])
    return action is not None and action.nargs != 0 and "=" not in option


def _skip_options(
    argv: list[str], index: int, parser: argparse.ArgumentParser, single: bool = False
) -> int:
    while index < len(argv) and argv[index].startswith("-"):
        index += 2 if _takes_value(parser, argv[index]) else 1
        if single:
            break
    return index


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[name]
    return parser


def format_task_error(error: BaseException, *, full: bool = False) -> str:
    """The error's traceback with redun's own frames removed (all of it if ``full``).

    With no frame of the user's code left, only the error itself is shown.
    """
    remote = getattr(error, "__redun_traceback__", None)
    job = getattr(error, "__redun_job__", None)
    if remote:
        # Formatted where the task ran (another process, a container, a cloud job).
        text = str(remote).rstrip()
        lines = [(text if full else _without_engine_frames(text)) + "\n"]
    elif full:
        lines = traceback.format_exception(type(error), error, error.__traceback__)
    else:
        frames = traceback.extract_tb(error.__traceback__)
        user = [frame for frame in frames if not _is_engine_frame(frame.filename)]
        lines = (
            ["Traceback (most recent call last):\n", *traceback.format_list(user)] if user else []
        )
        if job is not None and isinstance(error, SystemExit):
            lines.append(f"SystemExit: task {job.task.fullname} called sys.exit({error.code!r})\n")
        elif job is not None and isinstance(error, KeyboardInterrupt):
            lines.append(f"KeyboardInterrupt: raised by task {job.task.fullname}\n")
        else:
            lines.extend(traceback.format_exception_only(type(error), error))
    if job is not None:
        found = getattr(error, "__redun_task_stack__", None)
        stack = found.lines() if found is not None else ()
        head = [f"Task {job.task.fullname} failed (job {job.id[:8]}):\n"]
        if len(stack) > 1 or (stack and not lines):
            head.append("Task stack (outermost first):\n")
            head.extend(f"  {line}\n" for line in stack)
        lines[:0] = head
    return "".join(lines).rstrip()


_FRAME_FILE = re.compile(r'^  File "(.*)", line \d+')


def _without_engine_frames(text: str) -> str:
    """A formatted traceback without the frames of redun's own files (a frame is its
    ``  File "..."`` line and the more indented lines under it)."""
    kept: list[str] = []
    dropping = False
    for line in text.splitlines():
        found = _FRAME_FILE.match(line)
        if found is not None:
            dropping = _is_engine_frame(found.group(1))
        elif not line.startswith("    "):
            dropping = False
        if not dropping:
            kept.append(line)
    return "\n".join(kept)


def print_error(error: BaseException, *, full: bool = False) -> None:
    print(format_task_error(error, full=full), file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
