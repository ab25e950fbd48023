"""``redun pull REPO [ID ...]``: copy the records this repository lacks from another.

The mirror of ``redun push`` (see :mod:`redun.cli.cmd_push`).
"""

from __future__ import annotations

import argparse
from typing import Any

from redun.cli.main import EXIT_OK


def register(commands: Any) -> None:
    pull = commands.add_parser(
        "pull",
        help="copy new records from another repository",
        description="Copy the records the current repository lacks (executions, with "
        "their jobs, calls, values, tasks and tags) from REPO.",
    )
    pull.add_argument("pull_repo", metavar="REPO", help="a name from redun repo list")
    pull.add_argument(
        "ids", nargs="*", metavar="ID", help="only these executions (ids or prefixes)"
    )
    pull.set_defaults(handler=pull_command)


def pull_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.cli.cmd_import import describe
    from redun.cli.cmd_push import sync, warn_missing

    counts = sync(args, args.pull_repo, pull=True)
    print(f"Pulled {describe(counts, present=False)} from repo '{args.pull_repo}'")
    warn_missing(counts)
    return EXIT_OK
