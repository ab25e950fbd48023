"""The daemon's small read API over the home's database (and the few writes it owns).

Everything the daemon did not see itself (past executions, executions of
``redun run``, runs from before a restart) comes from here. It uses only the
SDK's public pieces: :class:`redun.backends.db.DbBackend` for the engine, the
tables of :mod:`redun.backends.schema`, and the SDK's read API
(:class:`redun.backends.queries.StoreReader`, :attr:`Store.reader`) for what
the browsing RPCs ask. Methods are blocking; the daemon calls them from worker
threads.
"""

from __future__ import annotations

import json
import os
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from redun.backends import schema
from redun.errors import BackendError
from redund.model import (
    JOB_STATES,
    ErrorInfo,
    ExecutionRecord,
    ExecutionStatus,
    JobCounts,
    JobRecord,
    RunSpec,
    ValuePreview,
)

if TYPE_CHECKING:
    from redun.backends.queries import StoreReader

_X = schema.execution
_J = schema.job


class Store:
    """Reads executions, jobs and values; marks executions finished.

    Args:
        backend: a ``DbBackend`` (or None when the home has no database: every
            read is empty).
    """

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    @classmethod
    def for_home(cls, home: str) -> Store:
        from redun.config import load_config

        config = load_config(home)
        uri = (config.get("backend") or {}).get("db_uri")
        if not uri or uri in ("sqlite://", "sqlite:///:memory:", "memory"):
            return cls(None)
        from redun.backends.db import DbBackend

        return cls(DbBackend(uri, config=config.get("backend")))

    @property
    def enabled(self) -> bool:
        return self.backend is not None

    @cached_property
    def reader(self) -> StoreReader | None:
        """The SDK's read API over the same database (None without one)."""
        if self.backend is None:
            return None
        from redun.backends.queries import StoreReader

        return StoreReader(self.backend)

    def _rows(self, statement: Any) -> list[Any]:
        if self.backend is None:
            return []
        try:
            with self.backend.engine.connect() as conn:
                return list(conn.execute(statement))
        except sa.exc.SQLAlchemyError as exc:
            raise BackendError(f"reading the database failed: {exc}") from exc

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()

    # -- executions ------------------------------------------------------------
    def list_executions(
        self, *, limit: int, offset: int = 0, statuses: list[str] | None = None, task: str = ""
    ) -> list[ExecutionRecord]:
        query = sa.select(_X).order_by(_X.c.start_time.desc(), _X.c.id).limit(limit).offset(offset)
        if statuses:
            query = query.where(_X.c.status.in_(statuses))
        if task:
            query = query.where(_X.c.argv.like(f'%"{task}"%'))
        records = [_execution_from_row(row) for row in self._rows(query)]
        self._fill_counts(records)
        return records

    def get_execution(self, execution_id: str) -> ExecutionRecord | None:
        rows = self._rows(sa.select(_X).where(_X.c.id == execution_id))
        if not rows:
            return None
        record = _execution_from_row(rows[0])
        self._fill_counts([record])
        root = self._rows(
            sa.select(_J.c.id).where(_J.c.execution_id == execution_id, _J.c.parent_id.is_(None))
        )
        if root:
            record.root_job_id = root[0][0]
        return record

    def _fill_counts(self, records: list[ExecutionRecord]) -> None:
        if not records:
            return
        by_id = {record.id: record for record in records}
        rows = self._rows(
            sa.select(_J.c.execution_id, _J.c.state, sa.func.count())
            .where(_J.c.execution_id.in_(list(by_id)))
            .group_by(_J.c.execution_id, _J.c.state)
        )
        for execution_id, state, count in rows:
            counts = by_id[execution_id].counts
            counts.total += count
            if state in JOB_STATES:
                setattr(counts, state, getattr(counts, state) + count)

    def finish_execution(
        self,
        record: ExecutionRecord,
        status: ExecutionStatus,
        error: ErrorInfo | None,
    ) -> None:
        """Record that ``record`` ended, unless the database already says it did.

        The runner records its own end; this covers runs whose runner died, was
        killed, or never started the scheduler (the row is created if missing).
        In the same transaction, jobs the runner left pending or running are
        closed (see :func:`_close_open_jobs`): a run that is over has no
        running jobs.

        Raises:
            BackendError: the database could not be updated (nothing was).
        """
        if self.backend is None:
            return
        engine = self.backend.engine
        insert = _insert_ignore(engine)
        end_time = record.end_time or time.time()
        try:
            with engine.begin() as conn:
                conn.execute(
                    insert(_X).values(
                        id=record.id,
                        argv=json.dumps(record.spec.exec_argv()),
                        start_time=record.start_time,
                        status="running",
                        cwd=record.spec.working_dir,
                    )
                )
                conn.execute(
                    _X.update()
                    .where(_X.c.id == record.id, _X.c.status == "running")
                    .values(
                        status=status.value,
                        end_time=end_time,
                        error=error.text() if error is not None else None,
                    )
                )
                for statement in _close_open_jobs(record.id, status, error, end_time):
                    conn.execute(statement)
        except sa.exc.SQLAlchemyError as exc:
            raise BackendError(f"recording execution {record.id} failed: {exc}") from exc

    def mark_interrupted(
        self, execution_id: str, spec: RunSpec, start_time: float, why: str
    ) -> None:
        record = ExecutionRecord(execution_id, spec)
        record.start_time = start_time
        self.finish_execution(record, ExecutionStatus.INTERRUPTED, ErrorInfo("Interrupted", why))

    # -- jobs --------------------------------------------------------------------
    def list_jobs(
        self,
        execution_id: str,
        *,
        parent_id: str | None = None,
        states: list[str] | None = None,
        task: str = "",
        text: str = "",
        limit: int = 1000,
        offset: int = 0,
    ) -> list[JobRecord]:
        query = sa.select(_J).where(_J.c.execution_id == execution_id)
        if parent_id is not None:
            query = query.where(
                _J.c.parent_id.is_(None) if parent_id == "" else _J.c.parent_id == parent_id
            )
        if states:
            query = query.where(_J.c.state.in_(states))
        if task:
            query = query.where(_J.c.task_name == task)
        if text:
            query = query.where(_J.c.task_name.contains(text))
        query = query.order_by(_J.c.start_time, _J.c.id).limit(limit).offset(offset)
        jobs = [_job_from_row(row) for row in self._rows(query)]
        self._fill_child_counts(jobs)
        return jobs

    def get_job(self, job_id: str) -> JobRecord | None:
        rows = self._rows(sa.select(_J).where(_J.c.id == job_id))
        if not rows:
            return None
        job = _job_from_row(rows[0])
        self._fill_child_counts([job])
        if job.call_hash:
            job.result = self.result_preview_of_call(job.call_hash)
        return job

    def _fill_child_counts(self, jobs: list[JobRecord]) -> None:
        if not jobs:
            return
        by_id = {job.id: job for job in jobs}
        for parent_id, count in self._rows(
            sa.select(_J.c.parent_id, sa.func.count())
            .where(_J.c.parent_id.in_(list(by_id)))
            .group_by(_J.c.parent_id)
        ):
            by_id[parent_id].child_count = count

    # -- values --------------------------------------------------------------------
    def job_log(self, job_id: str) -> list[tuple[str, str]]:
        """A recorded job's output, ``(stream, text)`` chunks in order."""
        reader = self.reader
        if reader is None:
            return []
        try:
            return reader.job_log(job_id)
        except sa.exc.SQLAlchemyError as exc:
            raise BackendError(f"reading the database failed: {exc}") from exc

    def result_preview_of_call(self, call_hash: str) -> ValuePreview | None:
        rows = self._rows(
            sa.select(schema.call_node.c.result_hash).where(
                schema.call_node.c.call_hash == call_hash
            )
        )
        return self.value_preview(rows[0][0]) if rows else None

    def value_preview(self, value_hash: str) -> ValuePreview | None:
        v = schema.value
        rows = self._rows(
            sa.select(v.c.hash, v.c.type_name, v.c.size, v.c.preview).where(v.c.hash == value_hash)
        )
        if not rows:
            return None
        hash_, type_name, size, preview = rows[0]
        return ValuePreview(type_name or "", hash_, preview or "", False, size or 0, "")

    def value_pickle(self, value_hash: str) -> bytes:
        """The pickled value (b"" if unknown): inline in the table, else from the value store."""
        read = getattr(self.backend, "value_bytes", None)
        if read is not None:
            return read(value_hash) or b""
        rows = self._rows(sa.select(schema.value.c.data).where(schema.value.c.hash == value_hash))
        return bytes(rows[0][0]) if rows and rows[0][0] is not None else b""

    def execution_result(self, execution_id: str) -> tuple[ValuePreview | None, bytes]:
        rows = self._rows(
            sa.select(schema.call_node.c.result_hash)
            .select_from(_J.join(schema.call_node, schema.call_node.c.call_hash == _J.c.call_hash))
            .where(_J.c.execution_id == execution_id, _J.c.parent_id.is_(None))
        )
        if not rows:
            return None, b""
        value_hash = rows[0][0]
        return self.value_preview(value_hash), self.value_pickle(value_hash)


_OPEN_JOB_STATES = ("pending", "running", "queued")


def _close_open_jobs(
    execution_id: str, status: ExecutionStatus, error: ErrorInfo | None, end_time: float
) -> list[Any]:
    """Updates that close an ended execution's jobs still pending or running.

    As the daemon closes them in memory: a running job of a failed run failed
    with the run's error; every other open job is cancelled (for an
    interrupted run the error says so).
    """
    text = error.text() if error is not None else None
    if status is ExecutionStatus.INTERRUPTED:
        text = f"Interrupted: {error.message if error is not None else 'the run was interrupted'}"
    statements = []
    if status is ExecutionStatus.FAILED:
        statements.append(
            _J.update()
            .where(_J.c.execution_id == execution_id, _J.c.state == "running")
            .values(state="failed", end_time=end_time, error=text)
        )
    statements.append(
        _J.update()
        .where(_J.c.execution_id == execution_id, _J.c.state.in_(_OPEN_JOB_STATES))
        .values(state="cancelled", end_time=end_time, error=text)
    )
    return statements


def _insert_ignore(engine: Any) -> Any:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return lambda table: pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return lambda table: sqlite_insert(table).on_conflict_do_nothing()


def spec_from_argv(argv: list[str], cwd: str) -> RunSpec:
    """The RunSpec of a recorded command line (``redun [opts] run [opts] FILE TASK args``)."""
    try:
        start = argv.index("run") + 1
    except ValueError:
        return RunSpec(workflow_path="", task="", working_dir=cwd or "")
    positional: list[str] = []
    no_cache = dryrun = False
    index = start
    while index < len(argv) and len(positional) < 2:
        item = argv[index]
        if item == "--context":
            index += 2
            continue
        if item == "--no-cache":
            no_cache = True
        elif item in ("--dryrun", "--dry-run"):
            dryrun = True
        elif not item.startswith("-"):
            positional.append(item)
        index += 1
    path = positional[0] if positional else ""
    if path and cwd and path.endswith(".py") and not os.path.isabs(path):
        path = os.path.join(cwd, path)
    return RunSpec(
        workflow_path=path,
        task=positional[1] if len(positional) > 1 else "",
        argv=list(argv[index:]),
        working_dir=cwd or "",
        no_cache=no_cache,
        dryrun=dryrun,
    )


def _execution_from_row(row: Any) -> ExecutionRecord:
    data = row._mapping
    try:
        argv = json.loads(data["argv"] or "[]")
    except ValueError:
        argv = []
    record = ExecutionRecord(data["id"], spec_from_argv(argv, data["cwd"] or ""))
    try:
        record.status = ExecutionStatus(data["status"] or "running")
    except ValueError:
        record.status = ExecutionStatus.FAILED
    record.start_time = data["start_time"] or 0.0
    record.end_time = data["end_time"] or 0.0
    record.root_job_id = data["root_job_id"] or ""
    if data["error"]:
        kind, sep, message = str(data["error"]).partition(": ")
        record.error = (
            ErrorInfo(kind, message) if sep and " " not in kind else ErrorInfo("", data["error"])
        )
    record.counts = JobCounts()
    return record


def _job_from_row(row: Any) -> JobRecord:
    data = row._mapping
    job = JobRecord(
        data["id"], data["execution_id"], data["parent_id"] or "", data["task_name"] or ""
    )
    job.state = data["state"] or "pending"
    job.executor = data["executor"] or ""
    job.cached = bool(data["cached"])
    job.reason = data["reason"] or ""
    job.call_hash = data["call_hash"] or ""
    job.task_hash = data["task_hash"] or ""
    job.create_time = data["start_time"] or 0.0
    job.start_time = data["start_time"] or 0.0
    job.end_time = data["end_time"] or 0.0
    if data["error"]:
        kind, sep, message = str(data["error"]).partition(": ")
        job.error = ErrorInfo(kind, message) if sep else ErrorInfo("", data["error"])
    return job
