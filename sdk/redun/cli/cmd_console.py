"""``redun console``: browse the local store in the terminal UI (no daemon needed)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from redun.cli.main import EXIT_FAILED


def register(commands: Any) -> None:
    console = commands.add_parser(
        "console",
        help="browse executions, jobs, values and lineage of the local store in the TUI",
        description="Open redun-tui read-only on this project's database (the config "
        "directory's). For live runs through the daemon, run redun-tui itself.",
    )
    console.set_defaults(handler=console_command)


def console_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    import importlib

    from redun.config import find_config_dir

    try:
        tui = importlib.import_module("redun_tui.__main__")
    except ImportError as error:
        print(f"redun: error: the terminal UI is not installed ({error})", file=sys.stderr)
        return EXIT_FAILED
    return int(tui.main(["--read-only", "--home", find_config_dir(args.config)]))
