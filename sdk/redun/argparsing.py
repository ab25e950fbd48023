"""argparse's parser and help formatter, sized without importing :mod:`shutil`.

argparse builds a help formatter on every ``add_argument`` (to check metavars),
and the stock one imports shutil (with bz2, lzma and fnmatch) to size itself:
about 2 ms of every ``redun run`` that never prints help. Every parser a run
builds (the command line, and each task's own arguments) uses these.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def _terminal_columns() -> int:
    """The terminal's width as :func:`shutil.get_terminal_size` finds it ($COLUMNS,
    else stdout's terminal, else 80), without importing shutil."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.HelpFormatter):
    """argparse's help formatter, as wide as the terminal (less 2), as the stock one."""

    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        if width is None:
            width = _terminal_columns() - 2
        super().__init__(prog, indent_increment, max_help_position, width)


class ArgumentParser(argparse.ArgumentParser):
    """The parser class of ``redun`` and its commands (subparsers take the parent's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
