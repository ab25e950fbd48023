"""``redun export [ID ...]``: the store's records as JSON lines (see ``redun import``).

::

    redun export > records.jsonl         every record
    redun export 3f2a 9bc1 -f run.jsonl  two executions (ids or prefixes; a job id
                                         stands for its execution) and what they reach

The format is described in :mod:`redun.backends.sync_records`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from redun.cli.main import EXIT_OK
from redun.errors import UsageError


def register(commands: Any) -> None:
    export = commands.add_parser(
        "export",
        help="write the store's records as JSON lines (for redun import)",
        description="Write every record of the store, or those of the executions given "
        "and what they reach, as JSON lines: one record a line, with _version and _type.",
    )
    export.add_argument(
        "ids", nargs="*", metavar="ID", help="execution (or job) ids or prefixes (default: all)"
    )
    export.add_argument("-f", "--file", default="-", help="write here instead of stdout")
    export.set_defaults(handler=export_command)


def resolve_executions(backend: Any, prefixes: list[str]) -> list[str]:
    """The execution ids that ids or prefixes of executions (or jobs) name.

    Raises:
        UsageError: one names nothing, or more than one execution.
    """
    from redun.backends.queries import StoreReader

    reader = StoreReader(backend)
    found: dict[str, None] = {}
    for prefix in prefixes:
        ids = reader.ids_with_prefix("execution", prefix)
        if not ids:
            jobs = reader.ids_with_prefix("job", prefix)
            if len(jobs) == 1:
                rows = backend.query(
                    "SELECT execution_id FROM redun_job WHERE id = :id", id=jobs[0]
                )
                ids = [rows[0][0]]
            elif jobs:
                raise UsageError(f"job id {prefix!r} is ambiguous; give more characters")
        if not ids:
            raise UsageError(f"no execution or job with id {prefix!r}")
        if len(ids) > 1:
            raise UsageError(
                f"execution id {prefix!r} is ambiguous ({', '.join(i[:8] for i in ids)}); "
                "give more characters"
            )
        found[ids[0]] = None
    return list(found)


def export_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.backends.sync import RecordReader
    from redun.backends.sync_records import to_json_line
    from redun.cli.cmd_db import open_store

    backend = open_store(args)
    out = sys.stdout if args.file == "-" else open(args.file, "w", encoding="utf-8")
    count = 0
    try:
        reader = RecordReader(backend)
        if args.ids:
            selection = reader.closure(resolve_executions(backend, args.ids))
        else:
            selection = reader.everything()
        for record in reader.records(selection):
            out.write(to_json_line(record))
            out.write("\n")
            count += 1
        out.flush()
    finally:
        backend.close()
        if out is not sys.stdout:
            out.close()
    if reader.missing_bytes:
        print(
            f"redun: warning: {reader.missing_bytes} value(s) kept in the value store "
            f"{backend.value_store.root} were not found there: exported without their bytes "
            '("missing": true); a run that needs them computes them again',
            file=sys.stderr,
        )
    if args.file != "-":
        print(f"Exported {count} record(s) to {args.file}", file=sys.stderr)
    return EXIT_OK
