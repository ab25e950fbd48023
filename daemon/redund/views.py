"""The read side: executions, jobs and event histories, from memory or the database.

Live executions (and recently finished ones) are answered from the
:class:`~redund.runs.RunManager`'s records, everything else from the
:class:`~redund.store.Store`. Plain functions: the servicer converts.
"""

from __future__ import annotations

import asyncio

from redund.errors import InvalidRequest, NotFoundError
from redund.model import (
    Event,
    ExecutionFinishedData,
    ExecutionRecord,
    ExecutionStartedData,
    JobRecord,
    JobStateData,
    LogData,
)
from redund.runs import RunManager

DEFAULT_PAGE = 100
MAX_PAGE = 10_000
DB_JOB_LIMIT = 1_000_000


def page_bounds(page_size: int, page_token: str, default: int = DEFAULT_PAGE) -> tuple[int, int]:
    """(limit, offset) of a page request."""
    limit = min(page_size or default, MAX_PAGE)
    if not page_token:
        return limit, 0
    try:
        offset = int(page_token)
        if offset < 0:
            raise ValueError
    except ValueError:
        raise InvalidRequest(
            f"bad page_token {page_token!r}: pass a previous next_page_token"
        ) from None
    return limit, offset


def next_token(offset: int, limit: int, got: int) -> str:
    return str(offset + limit) if got >= limit else ""


async def list_executions(
    runs: RunManager,
    *,
    page_size: int = 0,
    page_token: str = "",
    statuses: list[str] | None = None,
    watch_id: str = "",
    task: str = "",
) -> tuple[list[ExecutionRecord], str]:
    limit, offset = page_bounds(page_size, page_token)

    def wanted(record: ExecutionRecord) -> bool:
        return (
            (not statuses or record.status.value in statuses)
            and (not watch_id or record.watch_id == watch_id)
            and (not task or record.spec.task == task or task in record.spec.task)
        )

    if watch_id:
        live = [r for r in reversed(runs.records.values()) if wanted(r)]
        page = live[offset : offset + limit]
        return page, next_token(offset, limit, len(page))
    stored = await asyncio.to_thread(
        runs.store.list_executions, limit=limit, offset=offset, statuses=statuses, task=task
    )
    merged = {record.id: runs.live(record.id) or record for record in stored}
    if offset == 0:
        for record in runs.records.values():
            if record.id not in merged and wanted(record) and not record.status.is_final:
                merged[record.id] = record
    page = sorted(merged.values(), key=lambda r: r.start_time, reverse=True)[:limit]
    return page, next_token(offset, limit, len(stored))


async def get_execution(runs: RunManager, execution_id: str) -> ExecutionRecord:
    if not execution_id:
        raise InvalidRequest("execution_id is empty")
    record = runs.live(execution_id)
    if record is not None:
        return record
    stored = await asyncio.to_thread(runs.store.get_execution, execution_id)
    if stored is None:
        raise NotFoundError(f"no execution {execution_id!r}")
    return stored


async def list_jobs(
    runs: RunManager,
    execution_id: str,
    *,
    parent_id: str | None = None,
    states: list[str] | None = None,
    task: str = "",
    text: str = "",
    page_size: int = 0,
    page_token: str = "",
) -> tuple[list[JobRecord], str]:
    limit, offset = page_bounds(page_size, page_token, default=1000)
    record = await get_execution(runs, execution_id)
    if record.jobs or runs.live(execution_id) is not None:
        jobs = [
            job
            for job in record.jobs.values()
            if (parent_id is None or job.parent_id == parent_id)
            and (not states or job.state in states)
            and (not task or job.task == task)
            and (not text or text in job.task or text in job.args_summary)
        ]
        page = jobs[offset : offset + limit]
        return page, next_token(offset, limit, len(page))
    page = await asyncio.to_thread(
        runs.store.list_jobs,
        execution_id,
        parent_id=parent_id,
        states=states,
        task=task,
        text=text,
        limit=limit,
        offset=offset,
    )
    return page, next_token(offset, limit, len(page))


async def all_jobs(runs: RunManager, record: ExecutionRecord) -> list[JobRecord]:
    if record.jobs or runs.live(record.id) is not None:
        return list(record.jobs.values())
    return await asyncio.to_thread(runs.store.list_jobs, record.id, limit=DB_JOB_LIMIT)


async def get_job(runs: RunManager, job_id: str) -> JobRecord:
    if not job_id:
        raise InvalidRequest("job_id is empty")
    job = runs.live_job(job_id)
    if job is not None:
        if job.call_hash and job.result is None and job.state in ("done", "cached"):
            job.result = await asyncio.to_thread(runs.store.result_preview_of_call, job.call_hash)
        return job
    stored = await asyncio.to_thread(runs.store.get_job, job_id)
    if stored is None:
        raise NotFoundError(f"no job {job_id!r}")
    return stored


def replay_live(record: ExecutionRecord, *, include_logs: bool) -> list[Event]:
    """An execution's history as events: its start, each job's latest state, its logs, its end.

    Superseded job states are left out (the stream is coalesced), so a late
    client sees the whole picture in as many events as there are jobs.
    """
    events = [job.event for job in record.jobs.values() if job.event is not None]
    if include_logs:
        events += record.logs
    events.sort(key=lambda event: event.seq)
    if record.started_event is not None:
        events.insert(0, record.started_event)
    if record.finished_event is not None:
        events.append(record.finished_event)
    return events


def synthesize(record: ExecutionRecord, jobs: list[JobRecord]) -> list[Event]:
    """The history of an execution known only from the database."""
    seq = 1
    events = [Event(record.id, seq, record.start_time, ExecutionStartedData(record.spec))]
    for order, job in enumerate(sorted(jobs, key=lambda j: (j.create_time, j.id)), start=1):
        job.call_order = job.call_order or order
        seq += 1
        events.append(Event(record.id, seq, job.end_time or job.create_time, JobStateData.of(job)))
    if record.status.is_final:
        seq += 1
        data = ExecutionFinishedData(
            record.status, record.error, record.result, record.duration, record.counts
        )
        events.append(Event(record.id, seq, record.end_time or record.start_time, data))
    return events


def job_logs(record: ExecutionRecord, job_id: str) -> list[LogData]:
    return [
        event.data  # type: ignore[misc]
        for event in record.logs
        if type(event.data) is LogData and event.data.job_id == job_id
    ]
