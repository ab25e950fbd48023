"""``redun import [FILE]``: add the records of a ``redun export`` to the store.

Reads stdin by default. Idempotent: records the store has already are skipped
(a job or execution it holds as still running is brought up to date). All or
nothing: the records are written in one transaction, so a bad line (the error
names it) leaves the store as it was. The database is created if needed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from typing import IO, Any

from redun.cli.main import EXIT_OK


def register(commands: Any) -> None:
    imp = commands.add_parser(
        "import",
        help="add the records of a redun export to the store (idempotent)",
        description="Add the records of FILE (JSON lines from redun export; default: "
        "stdin) to the store, in one transaction. Records already there are skipped.",
    )
    imp.add_argument("file", nargs="?", metavar="FILE", help="the export (default: stdin)")
    imp.add_argument("-f", "--file", dest="file_option", metavar="FILE", help="same as FILE")
    imp.set_defaults(handler=import_command)


def read_records(stream: IO[str]) -> Iterator[dict[str, Any] | None]:
    from redun.backends.sync_records import parse_line

    for lineno, line in enumerate(stream, start=1):
        yield parse_line(line, lineno)


def describe(counts: Any, *, present: bool = True) -> str:
    """``12 new record(s) (3 CallNode, ...)``, and what was updated (or already there)."""
    text = f"{counts.total_new} new record(s)"
    if counts.total_new:
        text += f" ({counts.summary()})"
    extra = []
    if counts.updated:
        extra.append(f"{counts.updated} updated")
    if counts.present and present:
        extra.append(f"{counts.present} already present")
    return text + (f"; {', '.join(extra)}" if extra else "")


def import_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.backends.db import DbBackend
    from redun.backends.sync import RecordWriter
    from redun.cli.cmd_db import store_uri
    from redun.errors import UsageError

    path = args.file_option or args.file or "-"
    if args.file_option and args.file and args.file_option != args.file:
        raise UsageError("give the file once: FILE or -f FILE")
    uri, section = store_uri(args)
    backend = DbBackend(uri, section)
    try:
        stream = sys.stdin if path == "-" else open(path, encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
    try:
        backend.load()
        counts = RecordWriter(backend).write(read_records(stream))
    finally:
        backend.close()
        if stream is not sys.stdin:
            stream.close()
    print(f"Imported {describe(counts)}", file=sys.stderr)
    if counts.missing_bytes:
        print(
            f"redun: warning: {counts.missing_bytes} value(s) came without their bytes "
            "(not in the exporting store's value store); runs that need them compute them again",
            file=sys.stderr,
        )
    return EXIT_OK
