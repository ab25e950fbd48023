"""``redun log`` listings by kind: ``--exec``, ``--job``, ``--value``, ``--call-node``,
``--file``, each narrowed by ``--tag KEY[=VALUE]`` (repeatable; all must match)."""

from __future__ import annotations

import argparse
from typing import Any

from redun.errors import UsageError

LIST_FLAGS = ("exec_", "job", "value", "call_node", "file")


def add_list_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("listings")
    group.add_argument("--exec", dest="exec_", action="store_true", help="list executions")
    group.add_argument("--job", action="store_true", help="list jobs, newest first")
    group.add_argument("--value", action="store_true", help="list values, most recent first")
    group.add_argument("--call-node", action="store_true", help="list call nodes, newest first")
    group.add_argument("--file", action="store_true", help="list recorded file paths")
    group.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="KEY[=VALUE]",
        help="only what carries this tag (repeatable; executions unless a kind is given)",
    )


def wants_listing(args: argparse.Namespace) -> bool:
    return bool(args.tag) or any(getattr(args, flag, False) for flag in LIST_FLAGS)


def show_listing(reader: Any, out: Any, args: argparse.Namespace) -> None:
    """Fill ``out`` (text lines or JSON) with the listing the flags ask for."""
    from redun.cli.cmd_log import execution_status, fmt_time
    from redun.cli.tag_store import find_tagged
    from redun.tags import parse_tag_key_value

    try:
        tags = [parse_tag_key_value(item, value_required=False) for item in args.tag]
    except ValueError as error:
        raise UsageError(f"--tag: {error}") from None
    kind = next((flag for flag in LIST_FLAGS if getattr(args, flag, False)), "exec_")
    entity = {"exec_": "execution", "job": "job", "value": "value"}.get(kind)
    if tags and entity is None:
        raise UsageError("--tag narrows --exec, --job or --value listings")
    only: set[str] | None = None
    if tags:
        only = {entity_id for _, entity_id in find_tagged(reader.backend, tags, entity)}
    limit = args.limit
    rows: list[dict[str, Any]] = []
    lines: list[str] = []
    if kind == "exec_":
        if only is not None:
            executions = [e for e in (reader.execution(i) for i in sorted(only)) if e is not None]
            executions.sort(key=lambda e: e.start_time or 0.0, reverse=True)
            executions = executions[:limit]
        else:
            executions = reader.executions(limit=limit)
        for e in executions:
            status = execution_status(e)
            rows.append({**e.to_dict(), "status": status})
            argv = " ".join(e.argv) if e.argv else "(from Python)"
            tag_text = " ".join(f"{k}={v}" for k, v in sorted(e.tags.items()))
            lines.append(
                f"Exec {e.id[:8]} [{status.upper():^11}] {fmt_time(e.start_time)}  {argv}"
                + (f"  [{tag_text}]" if tag_text else "")
            )
    elif kind == "job":
        if only is not None:
            jobs = list(reader.jobs(sorted(only)).values())
        else:
            jobs = [
                job
                for (job_id,) in reader.query(
                    "SELECT id FROM redun_job ORDER BY start_time DESC, id LIMIT :limit",
                    limit=limit,
                )
                for job in [reader.job(job_id)]
                if job is not None
            ]
        jobs.sort(key=lambda job: job.start_time or 0.0, reverse=True)
        for job in jobs[:limit]:
            rows.append(job.to_dict())
            lines.append(
                f"Job {job.id[:8]} [{job.state.upper():^9}] {fmt_time(job.start_time)}  "
                f"{job.task_name}  (exec {job.execution_id[:8]})"
            )
    elif kind == "value":
        if only is not None:
            values = list(reader.values(sorted(only)).values())[:limit]
        else:
            values = reader.recent_values(limit=limit)
        for value in values:
            rows.append(value.to_dict())
            lines.append(f"Value {value.hash[:8]} {value.type_name or '-'}  {value.preview or ''}")
    elif kind == "call_node":
        for row in reader.query(
            "SELECT call_hash, task_name, result_hash, time FROM redun_call_node "
            "ORDER BY time DESC, call_hash LIMIT :limit",
            limit=limit,
        ):
            call_hash, task_name, result_hash, when = row
            rows.append(
                {
                    "call_hash": call_hash,
                    "task_name": task_name,
                    "result_hash": result_hash,
                    "time": when,
                }
            )
            lines.append(
                f"CallNode {call_hash[:8]} {fmt_time(when)}  {task_name} -> {result_hash[:8]}"
            )
    else:
        for path in reader.file_paths(limit=limit):
            rows.append({"path": path})
            lines.append(f"File {path}")
    if out.json:
        out.data = rows
        return
    if not lines:
        out.line("Nothing recorded matches.")
    for line in lines:
        out.line(line)
