"""``redun push REPO [ID ...]``: copy the records another repository lacks into it.

``REPO`` is a name from ``redun repo add`` (``default``: the current one, so
``redun --repo foo push default`` pushes foo here). Only what the target
lacks moves: executions it does not have (or holds as still running), with
their jobs, and the calls, values, tasks and tags under them that are new
there. ``redun pull`` is the same in the other direction.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from redun.cli.main import EXIT_OK


def register(commands: Any) -> None:
    push = commands.add_parser(
        "push",
        help="copy new records to another repository",
        description="Copy the records REPO lacks (executions, with their jobs, calls, "
        "values, tasks and tags) from the current repository to REPO.",
    )
    push.add_argument("push_repo", metavar="REPO", help="a name from redun repo list")
    push.add_argument(
        "ids", nargs="*", metavar="ID", help="only these executions (ids or prefixes)"
    )
    push.set_defaults(handler=push_command)


def sync(args: argparse.Namespace, repo: str, *, pull: bool) -> Any:
    """Copy what the target (this store for a pull, else ``repo``'s) lacks; the
    :class:`~redun.backends.sync.Counts`."""
    from redun.backends.engine import mask_uri
    from redun.backends.sync import copy_new_records
    from redun.cli.cmd_db import open_store
    from redun.cli.cmd_export import resolve_executions
    from redun.cli.repos import local_config_dir, open_repo_store
    from redun.errors import UsageError

    here = open_store(args)
    try:
        there = open_repo_store(local_config_dir(args), repo)
    except BaseException:
        here.close()
        raise
    source, target = (there, here) if pull else (here, there)
    try:
        if mask_uri(here.db_uri) == mask_uri(there.db_uri):
            what = "pull repository {!r} from itself" if pull else "push repository {!r} to itself"
            raise UsageError(f"cannot {what.format(repo)} (both are {mask_uri(here.db_uri)})")
        ids = resolve_executions(source, args.ids) if args.ids else None
        counts, _ = copy_new_records(source, target, ids)
    finally:
        here.close()
        there.close()
    return counts


def warn_missing(counts: Any) -> None:
    if counts.missing_bytes:
        print(
            f"redun: warning: {counts.missing_bytes} value(s) were not in the source's value "
            "store and were copied without their bytes",
            file=sys.stderr,
        )


def push_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.cli.cmd_import import describe

    counts = sync(args, args.push_repo, pull=False)
    if counts.total_new or counts.updated:
        print(f"Pushed {describe(counts, present=False)} to repo '{args.push_repo}'")
    else:
        print(f"Repo '{args.push_repo}' is up to date.")
    warn_missing(counts)
    return EXIT_OK
