"""``redun oneshot --scratch URL [--code URL] KEY``: run one remote call (what a job runs)."""

from __future__ import annotations

import argparse
from typing import Any


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "oneshot",
        help="run one call of a remote job from the scratch (what containers run)",
        description=(
            "Run one call (or one array element) written to the scratch by a remote "
            "executor, and write its result or error back. Exit status: 0 returned, "
            "1 raised, 2 bad usage, 3 unusable call, 4 the outcome could not be written."
        ),
    )
    add_arguments(parser)
    parser.set_defaults(handler=oneshot_command)


def oneshot_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.executors.remote.entrypoint import main

    return main(args)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``redun oneshot`` (names follow the original redun's where they overlap)."""
    parser.add_argument(
        "key", metavar="KEY", help="call id of a lone job, or a-<token> of an array"
    )
    parser.add_argument(
        "--scratch",
        required=True,
        metavar="URL",
        help="the scratch root (directory, file://, s3://, gs://)",
    )
    parser.add_argument("-c", "--code", metavar="URL", help="code package to unpack first")
    parser.add_argument(
        "--code-dir", metavar="DIR", default=".", help="where to unpack it (default: here)"
    )
    parser.add_argument(
        "-p",
        "--import-path",
        action="append",
        default=[],
        metavar="PATH",
        help="an extra Python import path (repeatable)",
    )
    parser.add_argument(
        "--array-job", action="store_true", help="accepted for compatibility (KEY says it)"
    )
    parser.add_argument("--array-index", type=int, metavar="N", help="this array element's index")
    parser.add_argument(
        "--array-rank-env", metavar="VAR", help="environment variable holding the array index"
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="run even if this submission's result is already in the scratch",
    )
