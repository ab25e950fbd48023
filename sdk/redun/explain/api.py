"""The entry points: explain a recorded job, live jobs of a run, or a whole run as text."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from redun.errors import UsageError
from redun.explain.explainer import Explainer
from redun.explain.model import Explanation, Subject

if TYPE_CHECKING:
    from redun.scheduler.job import Job

__all__ = ["explain_job", "explain_jobs", "report_run"]


def explain_job(backend: Any, job_id: str) -> Explanation:
    """Explain a recorded job (``job_id`` may be a unique prefix).

    Raises:
        UsageError: no such job, or the prefix is ambiguous.
    """
    from redun.backends.queries import StoreReader

    reader = StoreReader(backend)
    job = reader.job(job_id)
    if job is None:
        matches = [full for kind, full in reader.find_id(job_id) if kind == "job"]
        if not matches:
            raise UsageError(f"no job {job_id!r} in {_describe(backend)}")
        if len(matches) > 1:
            raise UsageError(f"job id {job_id!r} is ambiguous: {', '.join(matches)}")
        job = reader.job(matches[0])
        assert job is not None
    arg_hashes = dict(job.arg_hashes or {})
    if job.call_hash:
        call = reader.call(job.call_hash)
        if call is not None:
            arg_hashes = call.arguments or arg_hashes
    subject = Subject(
        task_name=job.task_name,
        task_hash=job.task_hash or "",
        eval_hash=job.eval_hash or "",
        arg_hashes=arg_hashes,
        state=job.state,
        cached=job.cached,
        reason=job.reason or "",
        call_hash=job.call_hash,
        job_id=job.id,
        before=job.start_time,
    )
    return Explainer(reader).explain([subject])[0]


def explain_jobs(backend: Any, jobs: Iterable[Job], *, dryrun: bool = False) -> list[Explanation]:
    """Explain live jobs of a run, comparing each with calls recorded before the run.

    Args:
        backend: the scheduler's backend (a database; other backends explain
            only what the scheduler itself knows).
        jobs: the jobs, e.g. ``scheduler.jobs()`` after a run, or the jobs a
            dry run would run.
        dryrun: the jobs did not run (their outcome is ``would run``).
    """
    from redun.backends.queries import StoreReader
    from redun.expression import format_arguments

    subjects = []
    for job in jobs:
        task = job.task
        try:
            parts = dict(task.code_hash.parts) if task.version is None else {}
        except Exception:
            parts = {}
        try:
            from redun.scheduler.binding import bind_arguments

            live = bind_arguments(task, job.call_args, job.kwargs)
        except Exception:
            live = {}
        state = "would run" if dryrun else job.state.value
        execution = job.execution
        subjects.append(
            Subject(
                task_name=task.fullname,
                task_hash=task.hash,
                eval_hash=job.eval_hash,
                arg_hashes=dict(job.arg_hashes),
                state=state,
                cached=job.cached,
                reason=job.reason or "",
                code_parts=parts,
                version=task.version,
                call_hash=job.call_hash,
                job_id=None if dryrun else job.id,
                before=execution.start_time if execution is not None else job.start_time,
                live_args=live,
                call_text=f"{task.fullname}({format_arguments(job.call_args, job.kwargs, limit=40)})",
            )
        )
    if not hasattr(backend, "query"):
        return [_without_store(subject) for subject in subjects]
    return Explainer(StoreReader(backend)).explain(subjects)


def report_run(
    backend: Any, jobs: Iterable[Job], *, dryrun: bool = False, per_task: int = 5
) -> str:
    """Text for ``redun run --explain``: why each job ran (a few per task) and what hit.

    Args:
        backend: the scheduler's backend.
        jobs: every job of the run (``scheduler.jobs()``), or those a dry run would run.
        dryrun: the jobs did not run.
        per_task: explanations shown per task; the rest are counted.
    """
    jobs = list(jobs)
    ran = [job for job in jobs if dryrun or (not job.cached and job.state.value != "pending")]
    cached = 0 if dryrun else sum(1 for job in jobs if job.cached)
    # Cached calls whose returned expression was evaluated again: why is worth showing.
    replayed = [] if dryrun else [job for job in jobs if job.replayed]
    shown: list[Job] = []
    counts: dict[str, int] = {}
    for job in replayed + ran:
        name = job.task.fullname
        if counts.get(name, 0) < per_task:
            shown.append(job)
        counts[name] = counts.get(name, 0) + 1
    if dryrun:  # what a dry run found cached is not among its jobs
        header = f"[redun] explain: {len(ran)} job(s) would run"
    else:
        header = f"[redun] explain: {len(ran)} job(s) ran, {cached} hit the cache"
    if replayed:
        header += f" ({len(replayed)} of them re-evaluated the expression they returned)"
    lines = [header]
    for explanation in explain_jobs(backend, shown, dryrun=dryrun):
        lines.append(explanation.format(indent="  "))
    hidden = {name: n - per_task for name, n in counts.items() if n > per_task}
    if hidden:
        lines.append(
            "  not shown: " + ", ".join(f"{n} more {name}" for name, n in sorted(hidden.items()))
        )
    return "\n".join(lines)


def _without_store(subject: Subject) -> Explanation:
    if subject.cached:
        return Explanation(subject.task_name, "cached", "hit the in-memory cache", subject.job_id)
    return Explanation(
        subject.task_name,
        "ran" if subject.state == "done" else subject.state,
        subject.reason or "no earlier call with this code and these arguments",
        subject.job_id,
        call=subject.call_text,
    )


def _describe(backend: Any) -> str:
    from redun.backends.engine import mask_uri

    return mask_uri(getattr(backend, "db_uri", "the database"))
