"""``redun cache clear TASK...``: make a task's recorded calls miss the cache."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from redun.cli.main import EXIT_OK
from redun.errors import UsageError


def register(commands: Any) -> None:
    cache = commands.add_parser(
        "cache",
        help="manage the cache",
        description="Invalidate cached calls (provenance is kept; only the cache forgets).",
    )
    sub = cache.add_subparsers(dest="cache_command", metavar="COMMAND")
    clear = sub.add_parser(
        "clear",
        help="forget the cached calls of tasks",
        description=(
            "Forget the cached calls of TASK (full name, or a name that is unique), so "
            "the next run executes them again. Calls that contain them (their callers) "
            "are forgotten too, or they would answer from the cache without reaching them."
        ),
    )
    clear.add_argument("tasks", nargs="*", metavar="TASK", help="task names")
    clear.add_argument("--all", action="store_true", help="forget every cached call")
    clear.set_defaults(handler=clear_command)
    cache.set_defaults(handler=lambda args, argv: _usage(cache))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def clear_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.backends.queries import StoreReader
    from redun.cli.cmd_db import open_store

    if not args.tasks and not args.all:
        raise UsageError("name the task(s) whose cache to clear, or pass --all")
    backend = open_store(args)
    try:
        reader = StoreReader(backend)
        if args.all:
            names = [row[0] for row in backend.query("SELECT DISTINCT fullname FROM redun_task")]
        else:
            names = []
            for name in args.tasks:
                found = reader.task_names_like(name)
                if not found:
                    known = [
                        row[0]
                        for row in backend.query(
                            "SELECT DISTINCT fullname FROM redun_task ORDER BY fullname"
                        )
                    ]
                    hint = _closest(name, known)
                    raise UsageError(
                        f"no task {name!r} is recorded"
                        + (f"; did you mean {hint!r}?" if hint else "")
                    )
                if len(found) > 1:
                    raise UsageError(f"task name {name!r} is ambiguous: {', '.join(found)}")
                names.append(found[0])
        own, above = backend.clear_cache(names)
    finally:
        backend.close()
    label = "every task" if args.all else ", ".join(names)
    print(f"cleared {own} cached call(s) of {label}", end="")
    print(f", and {above} call(s) that contained them" if above else "")
    return EXIT_OK


def _closest(name: str, known: list[str]) -> str | None:
    import difflib

    short = {full.rsplit(".", 1)[-1]: full for full in known}
    matches = difflib.get_close_matches(name, list(short) + known, n=1)
    if not matches:
        return None
    return short.get(matches[0], matches[0])
