"""``redun explain JOB_ID|EXEC_ID|-``: why jobs ran instead of hitting the cache (or hit it)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import Any

from redun.cli.main import EXIT_OK
from redun.errors import UsageError

_PER_TASK = 5  # explanations shown per task when explaining a whole execution


def register(commands: Any) -> None:
    explain = commands.add_parser(
        "explain",
        help="say why a job ran or hit the cache",
        description=(
            "Explain a job: which argument, file or part of the code (which helper, which "
            "constant) changed since the closest earlier call of its task. Given an "
            "execution (or '-' for the latest), explain every job of it that ran."
        ),
    )
    explain.add_argument("target", metavar="JOB_ID|EXEC_ID|-", help="a job or execution id")
    explain.add_argument("--format", choices=("text", "json"), default="text")
    explain.add_argument(
        "--all", action="store_true", help="for an execution: every job, not a few per task"
    )
    explain.set_defaults(handler=explain_command)


def explain_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.backends.queries import StoreReader
    from redun.cli.cmd_db import open_store
    from redun.explain import explain_job

    backend = open_store(args)
    try:
        reader = StoreReader(backend)
        target = args.target
        if target == "-":
            latest = reader.latest_execution()
            if latest is None:
                raise UsageError("no execution recorded yet")
            target = latest.id
        matches = reader.find_id(target)
        jobs = [full for kind, full in matches if kind == "job"]
        executions = [full for kind, full in matches if kind == "execution"]
        if executions and not jobs:
            if len(executions) > 1:
                raise UsageError(f"execution id {target!r} is ambiguous: {', '.join(executions)}")
            return _explain_execution(reader, executions[0], args)
        if len(jobs) > 1:
            raise UsageError(f"job id {target!r} is ambiguous: {', '.join(jobs)}")
        if not jobs:
            raise UsageError(f"no job or execution {target!r} is recorded")
        explanation = explain_job(backend, jobs[0])
        if args.format == "json":
            print(json.dumps(explanation.to_dict(), indent=2, sort_keys=True))
        else:
            print(explanation.format())
    finally:
        backend.close()
    return EXIT_OK


def _explain_execution(reader: Any, execution_id: str, args: argparse.Namespace) -> int:
    from redun.explain import explain_job
    from redun.scheduler.replay import REPLAY_REASON_PREFIX

    jobs = reader.jobs_of_execution(execution_id)
    ran = [job for job in jobs if not job.cached and job.state in ("done", "failed")]
    cached = sum(1 for job in jobs if job.cached)
    replayed = [job for job in jobs if (job.reason or "").startswith(REPLAY_REASON_PREFIX)]
    shown: list[Any] = []
    per_task: Counter = Counter()
    for job in replayed + ran:
        if args.all or per_task[job.task_name] < _PER_TASK:
            shown.append(job)
        per_task[job.task_name] += 1
    explanations = [explain_job(reader.backend, job.id) for job in shown]
    if args.format == "json":
        print(json.dumps([e.to_dict() for e in explanations], indent=2, sort_keys=True))
        return EXIT_OK
    again = f" ({len(replayed)} of them re-evaluated the expression they returned)"
    print(
        f"Execution {execution_id[:8]}: {len(ran)} job(s) ran, {cached} hit the cache"
        f"{again if replayed else ''}."
    )
    for explanation in explanations:
        print()
        print(explanation.format())
    hidden = {name: n - _PER_TASK for name, n in per_task.items() if n > _PER_TASK}
    if hidden and not args.all:
        print()
        print(
            "Not shown: "
            + ", ".join(f"{n} more {name}" for name, n in sorted(hidden.items()))
            + " (--all shows every job)",
            file=sys.stdout,
        )
    return EXIT_OK
