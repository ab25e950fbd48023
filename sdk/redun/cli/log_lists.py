"""``redun log`` listings: records of each kind a set of filters keeps, listed, counted
(``--count``) or shown in full (``--detail``).

The kinds are redun's: ``--exec``, ``--job``, ``--call-node``, ``--task``,
``--value`` (``--all`` without an id: every kind), and ``--file`` (the paths of
the values that are files). A filter lists its own kind when no kind is given
(``--job-status`` jobs, ``--value-type`` values...), and narrows the kinds it
applies to (``--task-name``: jobs and tasks; ``--result``, ``--arg``: jobs).
``--exec-id`` and ``--exec-tag`` keep, of every kind, what the jobs of those
executions ran, reused, took or returned. With neither kind nor filter: executions.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from redun.backends.queries.listing import EXECUTION_STATUSES, JOB_STATUSES, KINDS, RecordFilter
from redun.errors import UsageError

KIND_FLAGS = {
    "exec_": "Execution",
    "job": "Job",
    "call_node": "CallNode",
    "task": "Task",
    "value": "Value",
}
_FILTERS = (
    "exec_status", "job_status", "task_name", "task_hash", "value_type", "file_path",
    "exec_id", "result", "arg", "tag", "exec_tag",
)  # fmt: skip
_HEX = re.compile(r"^[0-9a-fA-F]{1,40}$")


def add_list_arguments(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_argument_group("listings (one line a record; several kinds may be given)")
    kinds.add_argument("--exec", dest="exec_", action="store_true", help="list executions")
    kinds.add_argument("--job", action="store_true", help="list jobs, newest first")
    kinds.add_argument("--call-node", action="store_true", help="list call nodes, newest first")
    kinds.add_argument("--task", action="store_true", help="list tasks (each version)")
    kinds.add_argument("--value", action="store_true", help="list values")
    kinds.add_argument("--file", action="store_true", help="list the paths of recorded files")
    kinds.add_argument("--count", action="store_true", help="count the records of each kind")
    kinds.add_argument(
        "--detail", action="store_true", help="show each listed record in full (as `log ID`)"
    )
    filters = parser.add_argument_group("filters (all must match; repeat an option for any of)")
    filters.add_argument(
        "--exec-status",
        metavar="S[,S]",
        help="executions by status: " + ",".join(EXECUTION_STATUSES),
    )
    filters.add_argument(
        "--job-status",
        metavar="S[,S]",
        help="jobs by status: " + ",".join(JOB_STATUSES) + " (RUNNING includes pending, queued)",
    )
    filters.add_argument(
        "--task-name",
        action="append",
        default=[],
        metavar="NAME",
        help="jobs and tasks of this task (NAME in any namespace, or NAMESPACE.NAME)",
    )
    filters.add_argument(
        "--task-hash", action="append", default=[], metavar="HASH", help="jobs and tasks by hash"
    )
    filters.add_argument(
        "--value-type",
        action="append",
        default=[],
        metavar="TYPE",
        help="values of this type (builtins.int and int both work)",
    )
    filters.add_argument(
        "--file-path",
        action="append",
        default=[],
        metavar="PATTERN",
        help="values that are files at this path ('*' matches anything)",
    )
    filters.add_argument(
        "--exec-id",
        metavar="ID[,ID]",
        help="records of these executions (id prefixes; '-' the latest, '~N' the Nth latest)",
    )
    filters.add_argument(
        "--result",
        action="append",
        default=[],
        metavar="VALUE_HASH",
        help="jobs that returned this value (or a value holding it)",
    )
    filters.add_argument(
        "--arg",
        action="append",
        default=[],
        metavar="VALUE_HASH",
        help="jobs that took this value as an argument (or inside one)",
    )
    filters.add_argument(
        "-t",
        "--tag",
        action="append",
        default=[],
        metavar="KEY[=VALUE]",
        help="records carrying this tag",
    )
    filters.add_argument(
        "--exec-tag",
        action="append",
        default=[],
        metavar="KEY[=VALUE]",
        help="records of executions carrying this tag",
    )


def wants_listing(args: argparse.Namespace) -> bool:
    """Whether the options ask for a listing (``--all`` only does without an id)."""
    if any(getattr(args, flag, False) for flag in (*KIND_FLAGS, "file", "count")):
        return True
    if args.all and args.target is None:
        return True
    return any(getattr(args, name, None) for name in _FILTERS)


def lists_target(args: argparse.Namespace) -> bool:
    """An id prefix given with listing options narrows the listing (as in redun)."""
    return args.target is not None and bool(_HEX.match(args.target)) and wants_listing(args)


def plan(reader: Any, args: argparse.Namespace) -> tuple[list[str], RecordFilter]:
    """The kinds to list, in redun's order, and the filter every kind goes through."""
    from redun.tags import parse_tag_key_value

    exec_statuses = _statuses("--exec-status", args.exec_status, EXECUTION_STATUSES)
    job_statuses = _statuses("--job-status", args.job_status, JOB_STATUSES)
    try:
        tags = tuple(parse_tag_key_value(t, value_required=False) for t in args.tag)
        exec_tags = tuple(parse_tag_key_value(t, value_required=False) for t in args.exec_tag)
    except ValueError as error:
        raise UsageError(f"--tag/--exec-tag: {error}") from None
    flt = RecordFilter(
        exec_statuses=exec_statuses,
        job_statuses=job_statuses,
        task_names=tuple(args.task_name),
        task_hashes=tuple(_hashes("--task-hash", args.task_hash)),
        value_types=tuple(args.value_type),
        file_paths=tuple(args.file_path),
        execution_ids=_execution_ids(reader, args.exec_id) if args.exec_id else None,
        results=tuple(_hashes("--result", args.result)),
        args=tuple(_hashes("--arg", args.arg)),
        tags=tags,
        exec_tags=exec_tags,
        id_prefix=args.target.lower() if args.target else "",
        files_only=args.file,
    )
    kinds: set[str] = set()
    if exec_statuses:
        kinds.add("Execution")
    if job_statuses:
        kinds.add("Job")
    if flt.value_types or flt.file_paths:
        kinds.add("Value")
    if args.all and args.target is None:
        kinds.update(KINDS)
    kinds.update(kind for flag, kind in KIND_FLAGS.items() if getattr(args, flag))
    if args.file:
        kinds = {"Value"}
    if not kinds:
        if args.target is not None:
            kinds = set(KINDS)
        elif flt.results or flt.args or flt.task_names or flt.task_hashes:
            kinds = {"Job"}
        else:
            kinds = {"Execution"}
    if flt.task_names or flt.task_hashes:
        kinds &= {"Job", "Task"}
    if flt.results or flt.args:
        kinds &= {"Job"}
    return [kind for kind in KINDS if kind in kinds], flt


def _statuses(option: str, text: str | None, known: tuple[str, ...]) -> tuple[str, ...]:
    if not text:
        return ()
    statuses = tuple(part.strip().upper() for part in text.split(",") if part.strip())
    unknown = [status for status in statuses if status not in known]
    if unknown or not statuses:
        raise UsageError(f"{option}: unknown status {text!r}; use {','.join(known)}")
    return statuses


def _hashes(option: str, items: list[str]) -> list[str]:
    for item in items:
        if not _HEX.match(item):
            raise UsageError(f"{option}: {item!r} is not a hash (or a hash prefix)")
    return items


def _execution_ids(reader: Any, text: str) -> tuple[str, ...]:
    """Full execution ids from prefixes, ``-`` (the latest) and ``~N`` (the Nth latest)."""
    found: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if part == "-" or re.fullmatch(r"~\d+", part):
            index = 1 if part == "-" else int(part[1:])
            recent = reader.executions(limit=1, offset=index - 1) if index >= 1 else []
            if not recent:
                raise UsageError(f"--exec-id: no execution {part!r} recorded")
            found.append(recent[0].id)
            continue
        matches = reader.ids_with_prefix("execution", part)
        if not matches:
            raise UsageError(f"--exec-id: no execution starts with {part!r}")
        if len(matches) > 1:
            raise UsageError(f"--exec-id: {part!r} is ambiguous; give more characters")
        found.append(matches[0])
    return tuple(found)


# -- output ----------------------------------------------------------------------------


def show_listing(reader: Any, out: Any, args: argparse.Namespace) -> None:
    """Fill ``out`` (text lines or one JSON document) with the listing ``args`` ask for."""
    kinds, flt = plan(reader, args)
    if args.count:
        counts = {kind: reader.record_count(kind, flt) for kind in kinds}
        if out.json:
            out.data = counts
        for kind, count in counts.items():
            out.line(f"{count:>8} {kind}")
        return
    if args.file:
        _show_files(reader, out, flt, args.limit)
        return
    limit = args.limit if args.limit > 0 else None
    rows: list[dict[str, Any]] = []
    for kind in kinds:
        ids = reader.record_ids(kind, flt, limit=limit + 1 if limit else None)
        more = 0
        if limit is not None and len(ids) > limit:
            ids = ids[:limit]
            more = reader.record_count(kind, flt) - limit
        if args.detail:
            _show_details(reader, out, kind, ids, args, rows)
        else:
            for row, line in _records(reader, kind, ids):
                rows.append({"_type": kind, **row})
                out.line(line)
        if more and not out.json:
            out.line(f"... {more} more {kind} records (--limit 0 lists all)")
    if out.json:
        out.data = rows
    elif not out.lines:
        out.line("Nothing recorded matches.")


def _records(reader: Any, kind: str, ids: list[str]) -> list[tuple[dict[str, Any], str]]:
    """``(JSON row, text line)`` of each record, in ``ids`` order."""
    from redun.cli.cmd_log import execution_status, fmt_time

    found: list[tuple[dict[str, Any], str]] = []
    if kind == "Execution":
        executions = reader.executions_by_id(ids)
        for e in (executions[i] for i in ids if i in executions):
            status = execution_status(e)
            argv = " ".join(e.argv) if e.argv else "(from Python)"
            tags = " ".join(f"{k}={v}" for k, v in sorted(e.tags.items()))
            found.append(
                (
                    {**e.to_dict(), "status": status},
                    f"Exec {e.id[:8]} [{status.upper():^11}] {fmt_time(e.start_time)}  {argv}"
                    + (f"  [{tags}]" if tags else ""),
                )
            )
    elif kind == "Job":
        jobs = reader.jobs(ids)
        for job in (jobs[i] for i in ids if i in jobs):
            found.append(
                (
                    job.to_dict(),
                    f"Job {job.id[:8]} [{job.state.upper():^9}] {fmt_time(job.start_time)}  "
                    f"{job.task_name}  (exec {job.execution_id[:8]})",
                )
            )
    elif kind == "CallNode":
        calls = reader.calls(ids)
        for call in (calls[i] for i in ids if i in calls):
            found.append(
                (
                    call.to_dict(),
                    f"CallNode {call.call_hash[:8]} {fmt_time(call.time)}  {call.task_name} "
                    f"-> {call.result_hash[:8]}",
                )
            )
    elif kind == "Task":
        tasks = reader.tasks(ids)
        for task in (tasks[i] for i in ids if i in tasks):
            version = f" version {task.version}" if task.version else ""
            found.append((task.to_dict(), f"Task {task.hash[:8]} {task.fullname}{version}"))
    else:
        values = reader.values(ids)
        for value in (values[i] for i in ids if i in values):
            found.append(
                (
                    value.to_dict(),
                    f"Value {value.hash[:8]} {value.type_name or '-'}  {value.preview or ''}",
                )
            )
    return found


def _show_details(
    reader: Any, out: Any, kind: str, ids: list[str], args: argparse.Namespace, rows: list
) -> None:
    """Each record as ``redun log ID`` shows it; JSON: those documents, typed."""
    from redun.cli import cmd_log

    for record_id in ids:
        one = cmd_log._Output("json" if out.json else "text")
        if kind == "Execution":
            cmd_log.show_execution(reader, one, record_id, show_all=False)
        elif kind == "Job":
            cmd_log.show_job(reader, one, record_id)
        elif kind == "CallNode":
            cmd_log.show_call(reader, one, record_id)
        elif kind == "Task":
            cmd_log.show_task(reader, one, record_id)
        else:
            cmd_log.show_lineage(reader, one, record_id, args.depth)
        if out.json:
            rows.append({"_type": kind, **(one.data if isinstance(one.data, dict) else {})})
            continue
        if out.lines:
            out.line()
        for line in one.lines:
            out.line(line)


def _show_files(reader: Any, out: Any, flt: RecordFilter, limit: int) -> None:
    """Distinct paths of the file values ``flt`` keeps, by path."""
    if flt == RecordFilter(files_only=True):
        paths = reader.file_paths(limit=limit if limit > 0 else 1 << 62)
    else:
        hashes = reader.record_ids("Value", flt)
        files = reader.files_by_hash(hashes)
        paths = sorted({record.path for record in files.values()})
        paths = paths[:limit] if limit > 0 else paths
    if out.json:
        out.data = [{"_type": "File", "path": path} for path in paths]
        return
    for path in paths:
        out.line(f"File {path}")
    if not paths:
        out.line("Nothing recorded matches.")
