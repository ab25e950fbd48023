"""``redun log``: executions, job trees, jobs, values and lineage from the database.

::

    redun log                   recent executions
    redun log -                 the latest execution: its job tree
    redun log EXEC_ID           an execution (an id prefix is enough)
    redun log JOB_ID            a job: arguments, result, reason, source, timings
    redun log VALUE_HASH        a value and its lineage
    redun log FILE_PATH         the lineage of a file: producer, inputs, consumers
    redun log --job --task-name add --job-status CACHED
                                filtered listings (redun's options; see log_lists)
    redun log --all --count     how many records of each kind
    redun log ... --format json the same, for scripts
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from collections import Counter
from typing import Any

from redun.cli.main import EXIT_OK
from redun.errors import UsageError
from redun.scheduler.replay import REPLAY_REASON_PREFIX

_TREE_CHILDREN = 30  # children shown per job in a tree before the rest are summarized
_LINEAGE_PARTS = 10  # parts of an assembled value shown in text


def register(commands: Any) -> None:
    log = commands.add_parser(
        "log",
        help="show executions, jobs, values and lineage",
        description=(
            "With no argument, list recent executions. ID may be an execution, job, call, "
            "value or task id (or a unique prefix); '-' is the latest execution; a file "
            "path shows that file's lineage."
        ),
    )
    log.add_argument("target", nargs="?", metavar="ID|PATH|-", help="what to show")
    log.add_argument("--format", choices=("text", "json"), default="text")
    log.add_argument(
        "--limit", type=int, default=20, help="records to list per kind (default 20; 0: all)"
    )
    log.add_argument(
        "--all",
        action="store_true",
        help="with an execution: every job of its tree (default: summarize); "
        "without an id: list every kind of record",
    )
    log.add_argument(
        "--no-pager",
        action="store_true",
        help="accepted for redun's scripts; output is never paged here, so it changes nothing",
    )
    log.add_argument("--depth", type=int, default=20, help="lineage depth (default 20)")
    from redun.cli.log_lists import add_list_arguments

    add_list_arguments(log)
    log.set_defaults(handler=log_command)


def log_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.backends.queries import StoreReader
    from redun.cli.cmd_db import open_store

    backend = open_store(args)
    try:
        reader = StoreReader(backend)
        out = _Output(args.format)
        target = args.target
        from redun.cli.log_lists import lists_target, show_listing, wants_listing

        if (target is None and wants_listing(args)) or lists_target(args):
            show_listing(reader, out, args)
        elif target is None:
            show_executions(reader, out, args.limit if args.limit > 0 else 1 << 62)
        elif target == "-":
            execution = reader.latest_execution()
            if execution is None:
                raise UsageError("no execution recorded yet")
            show_execution(reader, out, execution.id, show_all=args.all)
        else:
            show_target(reader, out, target, args)
        out.flush()
    finally:
        backend.close()
    return EXIT_OK


def show_target(reader: Any, out: _Output, target: str, args: argparse.Namespace) -> None:
    """Resolve ``target`` (id prefix or path) and show it."""
    matches = reader.find_id(target)
    kinds = {kind for kind, _ in matches}
    if matches:
        for kind in ("execution", "job", "call", "value", "task"):
            found = [full for k, full in matches if k == kind]
            if not found:
                continue
            if len(found) > 1 or len(kinds) > 1 and len(target) < 8:
                listing = ", ".join(f"{k} {full[:12]}" for k, full in matches)
                raise UsageError(f"{target!r} is ambiguous: {listing}; give more characters")
            full = found[0]
            if kind == "execution":
                show_execution(reader, out, full, show_all=args.all)
            elif kind == "job":
                show_job(reader, out, full)
            elif kind == "call":
                show_call(reader, out, full)
            elif kind == "value":
                show_lineage(reader, out, full, args.depth)
            else:
                show_task(reader, out, full)
            return
    show_lineage(reader, out, target, args.depth)


# -- output ----------------------------------------------------------------------------


class _Output:
    """Collects text lines or one JSON document."""

    def __init__(self, fmt: str) -> None:
        self.json = fmt == "json"
        self.lines: list[str] = []
        self.data: Any = None

    def line(self, text: str = "") -> None:
        self.lines.append(text)

    def flush(self) -> None:
        if self.json:
            sys.stdout.write(json.dumps(self.data, indent=2, sort_keys=True, default=str) + "\n")
        else:
            sys.stdout.write("\n".join(self.lines) + ("\n" if self.lines else ""))
        sys.stdout.flush()


def fmt_time(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def execution_status(execution: Any) -> str:
    """``running``, or ``interrupted`` when the recording process on this host is gone."""
    status = execution.status or "running"
    if status == "running" and execution.pid and execution.host == socket.gethostname():
        try:
            os.kill(int(execution.pid), 0)
        except ProcessLookupError:
            return "interrupted"
        except (PermissionError, OSError, ValueError):
            pass
    return status


def _label(status: str) -> str:
    return f"[{status.upper():^11}]"


def _argv_text(argv: list[str]) -> str:
    return " ".join(argv) if argv else "(from Python)"


# -- executions ----------------------------------------------------------------------------


def show_executions(reader: Any, out: _Output, limit: int) -> None:
    executions = reader.executions(limit=limit)
    counts = reader.job_counts([e.id for e in executions])
    if out.json:
        out.data = [
            {**e.to_dict(), "status": execution_status(e), "job_counts": counts.get(e.id, {})}
            for e in executions
        ]
        return
    if not executions:
        out.line("No executions recorded yet.")
        return
    out.line("Recent executions:")
    out.line()
    for execution in executions:
        jobs = counts.get(execution.id, {})
        total = sum(jobs.values())
        summary = ", ".join(f"{state} {n}" for state, n in sorted(jobs.items()))
        out.line(
            f"Exec {execution.id[:8]} {_label(execution_status(execution))} "
            f"{fmt_time(execution.start_time)}  {_argv_text(execution.argv)}"
            + (f"  ({total} jobs: {summary})" if total else "")
        )


def show_execution(reader: Any, out: _Output, execution_id: str, *, show_all: bool) -> None:
    execution = reader.execution(execution_id)
    if execution is None:
        raise UsageError(f"no execution {execution_id!r}")
    jobs = reader.jobs_of_execution(execution.id)
    calls = reader.calls([j.call_hash for j in jobs if j.call_hash])
    arg_hashes: set[str] = set()
    for job in jobs:
        call = calls.get(job.call_hash or "")
        arg_hashes.update((call.arguments if call else job.arg_hashes or {}).values())
        if call is not None:
            arg_hashes.add(call.result_hash)
    values = reader.values(sorted(arg_hashes)) if arg_hashes else {}
    status = execution_status(execution)
    if out.json:
        out.data = {
            "execution": {**execution.to_dict(), "status": status},
            "jobs": [
                {
                    **job.to_dict(),
                    "arguments": _arguments_of(job, calls),
                    "result_hash": calls[job.call_hash].result_hash
                    if job.call_hash in calls
                    else None,
                }
                for job in jobs
            ],
        }
        return
    out.line(
        f"Exec {execution.id} {_label(status)} {fmt_time(execution.start_time)}:  "
        f"{_argv_text(execution.argv)}"
    )
    end = execution.end_time or max((j.end_time or 0.0 for j in jobs), default=0.0) or None
    duration = (end - execution.start_time) if end and execution.start_time else None
    out.line(
        f"Duration: {fmt_duration(duration)}  User: {execution.user or '-'}@{execution.host or '-'}"
        f"  Cwd: {execution.cwd or '-'}"
    )
    if execution.tags:
        out.line("Tags: " + ", ".join(f"{k}={v}" for k, v in sorted(execution.tags.items())))
    if execution.error:
        out.line(f"Error: {execution.error}")
    out.line()
    by_task: dict[str, Counter] = {}
    for job in jobs:
        by_task.setdefault(job.task_name, Counter())[job.state] += 1
    states = ["done", "cached", "failed", "running", "cancelled"]
    totals = Counter(job.state for job in jobs)
    if totals["queued"]:  # remote jobs waiting in their platform's queue
        states.insert(3, "queued")
    width = max([len(name) for name in by_task] + [4])
    out.line(f"  {'Task':<{width}}  " + "  ".join(f"{s:>9}" for s in [*states, "total"]))
    for name in sorted(by_task):
        counter = by_task[name]
        cells = [counter.get(s, 0) for s in states] + [sum(counter.values())]
        out.line(f"  {name:<{width}}  " + "  ".join(f"{c:>9}" for c in cells))
    queued = f", QUEUED: {totals['queued']}" if totals["queued"] else ""
    out.line()
    out.line(
        f"Jobs: {len(jobs)} (DONE: {totals['done']}, CACHED: {totals['cached']}, "
        f"FAILED: {totals['failed']}{queued}, RUNNING: {totals['running']})"
    )
    out.line("-" * 80)
    _job_tree(out, jobs, calls, values, execution.root_job_id, show_all)


def _arguments_of(job: Any, calls: dict) -> dict[str, str]:
    call = calls.get(job.call_hash or "")
    return dict(call.arguments) if call is not None else dict(job.arg_hashes or {})


def _call_text(job: Any, calls: dict, values: dict, limit: int = 60) -> str:
    args = _arguments_of(job, calls)
    parts = []
    for name, value_hash in args.items():
        record = values.get(value_hash)
        text = record.preview if record is not None and record.preview is not None else "?"
        if len(text) > 30:
            text = text[:27] + "..."
        parts.append(f"{name}={text}")
    joined = ", ".join(parts)
    if len(joined) > limit:
        joined = joined[: limit - 3] + "..."
    return f"{job.task_name}({joined})"


def _job_line(job: Any, calls: dict, values: dict) -> str:
    text = f"Job {job.id[:8]} {_label(job.state)} {fmt_duration(job.duration):>7}  "
    text += _call_text(job, calls, values)
    call = calls.get(job.call_hash or "")
    if call is not None:
        record = values.get(call.result_hash)
        if record is not None and record.preview is not None:
            preview = record.preview if len(record.preview) <= 40 else record.preview[:37] + "..."
            text += f" -> {preview}"
    if job.error:
        text += f"  !! {job.error[:80]}"
    elif job.cached and (job.reason or "").startswith(REPLAY_REASON_PREFIX):
        # From the cache, but its expression was evaluated again: the jobs below ran.
        text += "  (re-evaluated)"
    return text


def _job_tree(
    out: _Output, jobs: list, calls: dict, values: dict, root_id: str | None, show_all: bool
) -> None:
    children: dict[str | None, list] = {}
    for job in jobs:
        children.setdefault(job.parent_id, []).append(job)
    known = {job.id for job in jobs}
    roots = [job for job in jobs if job.parent_id is None or job.parent_id not in known]
    if root_id:
        roots.sort(key=lambda job: job.id != root_id)
    stack: list[tuple[Any, int]] = [(job, 0) for job in reversed(roots)]
    while stack:
        item, depth = stack.pop()
        indent = "  " * depth
        if isinstance(item, str):
            out.line(indent + item)
            continue
        out.line(indent + _job_line(item, calls, values))
        kids = children.get(item.id, [])
        if show_all or len(kids) <= _TREE_CHILDREN:
            shown, rest = kids, []
        else:
            # The first few, plus every failed job and every job of a rare task.
            per_task = Counter(kid.task_name for kid in kids)
            keep = {
                index
                for index, kid in enumerate(kids)
                if index < _TREE_CHILDREN or kid.state == "failed" or per_task[kid.task_name] <= 3
            }
            shown = [kid for index, kid in enumerate(kids) if index in keep]
            rest = [kid for index, kid in enumerate(kids) if index not in keep]
        if rest:
            summary = Counter(f"{j.task_name} {j.state}" for j in rest)
            text = ", ".join(f"{n} x {what}" for what, n in summary.most_common())
            stack.append((f"... {len(rest)} more: {text} (--all shows them)", depth + 1))
        for kid in reversed(shown):
            stack.append((kid, depth + 1))


# -- jobs, calls, tasks ----------------------------------------------------------------------


def show_job(reader: Any, out: _Output, job_id: str) -> None:
    job = reader.job(job_id)
    if job is None:
        raise UsageError(f"no job {job_id!r}")
    output = reader.job_log(job.id)
    calls = reader.calls([job.call_hash]) if job.call_hash else {}
    call = calls.get(job.call_hash or "")
    arguments = _arguments_of(job, calls)
    wanted = list(arguments.values()) + ([call.result_hash] if call else [])
    values = reader.values(wanted) if wanted else {}
    task = reader.tasks([job.task_hash]).get(job.task_hash) if job.task_hash else None
    children = [j for j in reader.jobs_of_execution(job.execution_id) if j.parent_id == job.id]
    if out.json:
        out.data = {
            "job": job.to_dict(),
            "arguments": {
                name: (values[h].to_dict() if h in values else {"hash": h})
                for name, h in arguments.items()
            },
            "result": values[call.result_hash].to_dict()
            if call is not None and call.result_hash in values
            else None,
            "call": call.to_dict() if call is not None else None,
            "task": task.to_dict() if task is not None else None,
            "children": [child.id for child in children],
            "output": [{"stream": stream, "text": text} for stream, text in output],
        }
        return
    out.line(f"Job {job.id} {_label(job.state)} {fmt_time(job.start_time)}:  {job.task_name}")
    out.line(f"  Execution: {job.execution_id}")
    if job.parent_id:
        out.line(f"  Parent job: {job.parent_id}")
    out.line(
        f"  Started: {fmt_time(job.start_time)}  Ended: {fmt_time(job.end_time)}  "
        f"Duration: {fmt_duration(job.duration)}"
    )
    cached = "no"
    if job.cached:
        replayed = (job.reason or "").startswith(REPLAY_REASON_PREFIX)
        cached = "yes, its returned expression re-evaluated" if replayed else "yes"
    out.line(f"  Executor: {job.executor or '-'}  Cached: {cached}")
    if job.tags:
        out.line("  Tags: " + ", ".join(f"{k}={v}" for k, v in sorted(job.tags.items())))
    if job.reason:
        out.line(f"  Reason: {job.reason}")
    if call is not None:
        out.line(
            f"  Call: {call.call_hash}  (task {call.task_hash[:8]}, eval {call.eval_hash[:8]})"
        )
    out.line()
    out.line("  Arguments:")
    if not arguments:
        out.line("    (none)")
    for name, value_hash in arguments.items():
        out.line(f"    {name} = {_value_text(values.get(value_hash), value_hash)}")
    if call is not None:
        out.line(f"  Result: {_value_text(values.get(call.result_hash), call.result_hash)}")
    if job.error:
        out.line(f"  Error: {job.error}")
    if job.traceback:
        out.line("  Traceback:")
        for text in job.traceback.rstrip().splitlines():
            out.line(f"    {text}")
    if output:
        out.line("  Output:")
        for text in "".join(text for _, text in output).rstrip("\n").splitlines():
            out.line(f"    {text}")
    if children:
        counts = Counter(child.state for child in children)
        out.line(
            f"  Child jobs: {len(children)} ("
            + ", ".join(f"{s} {n}" for s, n in sorted(counts.items()))
            + ")"
        )
    if task is not None:
        out.line()
        version = f" version {task.version}" if task.version else ""
        out.line(f"  Task {task.hash[:8]} {task.fullname}{version}")
        if task.source:
            out.line()
            for text in task.source.rstrip().splitlines():
                out.line(f"    {text}")


def _value_text(record: Any, value_hash: str) -> str:
    if record is None:
        return f"<value {value_hash[:8]} not recorded>"
    text = record.preview if record.preview is not None else f"<{record.type_name}>"
    extra = [record.type_name or "?"]
    if record.size is not None:
        extra.append(f"{record.size} bytes")
    if record.location == "store":
        extra.append("in the value store")
    elif record.location == "none":
        extra.append("not stored: unpicklable")
    return f"{text}  ({', '.join(extra)}; {value_hash[:8]})"


def show_call(reader: Any, out: _Output, call_hash: str) -> None:
    call = reader.call(call_hash)
    if call is None:
        raise UsageError(f"no call {call_hash!r}")
    job = reader.producing_job(call.call_hash)
    if job is not None and not out.json:
        out.line(f"Call {call.call_hash} of {call.task_name}, made by job {job.id[:8]}:")
        out.line()
    if job is not None:
        show_job(reader, out, job.id)
        return
    values = reader.values([*call.arguments.values(), call.result_hash])
    if out.json:
        out.data = {"call": call.to_dict()}
        return
    out.line(f"Call {call.call_hash} {call.task_name}")
    for name, value_hash in call.arguments.items():
        out.line(f"  {name} = {_value_text(values.get(value_hash), value_hash)}")
    out.line(f"  Result: {_value_text(values.get(call.result_hash), call.result_hash)}")


def show_task(reader: Any, out: _Output, task_hash: str) -> None:
    task = reader.tasks([task_hash]).get(task_hash)
    if task is None:
        raise UsageError(f"no task {task_hash!r}")
    if out.json:
        out.data = task.to_dict()
        return
    version = f" version {task.version}" if task.version else ""
    out.line(f"Task {task.hash} {task.fullname}{version}")
    if task.code_parts:
        out.line("  Code parts:")
        for label, digest in sorted(task.code_parts.items()):
            out.line(f"    {label}: {digest[:12]}")
    if task.source:
        out.line()
        for text in task.source.rstrip().splitlines():
            out.line(f"  {text}")


# -- lineage -----------------------------------------------------------------------------------


def show_lineage(reader: Any, out: _Output, target: str, depth: int) -> None:
    from redun.lineage import lineage

    info = lineage(reader.backend, target, depth=depth)
    if out.json:
        out.data = info.to_dict()
        return
    node = info.node
    value = node.value
    if value.file is not None:
        size = f", {value.file.size} bytes" if value.file.size is not None else ""
        out.line(
            f"{(value.file.kind or 'file').capitalize()} {value.file.path} "
            f"(hash {(value.file.file_hash or '?')[:8]}{size}; value {value.hash[:8]})"
        )
    else:
        out.line(f"Value {value.hash} {value.type_name or ''}")
        out.line(f"  {value.preview}")
    if info.other_versions:
        out.line(
            f"  ({len(info.other_versions)} other recorded version(s) of this path: "
            + ", ".join(v.hash[:8] for v in info.other_versions)
            + ")"
        )
    out.line()
    if node.producer is None:
        out.line(f"Produced by: no recorded job ({node.origin})")
    else:
        out.line("Upstream (what produced it, back to raw inputs):")
        _lineage_tree(out, node)
    out.line()
    if node.consumers:
        out.line("Consumed by:")
        for ref in node.consumers:
            names = ref.via
            out.line(
                f"  Job {ref.id[:8]} {ref.task_name} (argument {', '.join(names) or '?'}) "
                f"in exec {ref.execution_id[:8]} at {fmt_time(ref.start_time)}"
            )
    else:
        out.line("Consumed by: no recorded job")


def _lineage_tree(out: _Output, node: Any) -> None:
    stack: list[tuple[Any, int]] = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        indent = "  " * depth
        if isinstance(current, str):
            out.line(indent + current)
            continue
        preview = current.value.preview or "?"
        if len(preview) > 50:
            preview = preview[:47] + "..."
        if current.producer is not None:
            ref = current.producer
            out.line(
                f"{indent}{current.name} = {preview}  <- Job {ref.id[:8]} {ref.task_name} "
                f"(exec {ref.execution_id[:8]}, {fmt_time(ref.end_time)})"
                + (f" {current.origin}" if current.origin else "")
            )
        elif current.inputs:
            out.line(f"{indent}{current.name} = {preview}  [{current.origin}]")
        else:
            out.line(f"{indent}{current.name} = {preview}  [raw input: {current.origin}]")
        inputs = current.inputs
        if len(inputs) > _LINEAGE_PARTS:
            more = len(inputs) - _LINEAGE_PARTS
            stack.append((f"... {more} more (--format json lists them all)", depth + 1))
            inputs = inputs[:_LINEAGE_PARTS]
        for child in reversed(inputs):
            stack.append((child, depth + 1))
