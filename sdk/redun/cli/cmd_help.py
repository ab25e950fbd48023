"""``redun help [COMMAND]``: the top-level help (as ``redun --help``), or a command's."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from redun.cli.main import EXIT_OK
from redun.errors import UsageError


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "help",
        help="show this help, or a command's (redun help COMMAND)",
        description="Print the list of commands and global options, or COMMAND's options.",
    )
    parser.add_argument("topic", nargs="?", metavar="COMMAND", help="a command to describe")
    parser.set_defaults(handler=help_command)


def help_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.cli.main import COMMAND_MODULES, _subparser, build_parser

    parser = build_parser()  # every command, for the listing
    if args.topic:
        if args.topic not in COMMAND_MODULES:
            raise UsageError(
                f"no command {args.topic!r}; commands: {', '.join(sorted(COMMAND_MODULES))}"
            )
        parser = _subparser(parser, args.topic)
    sys.stdout.write(parser.format_help())
    sys.stdout.flush()
    return EXIT_OK
