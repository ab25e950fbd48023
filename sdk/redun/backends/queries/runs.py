"""Runs: executions (with their tags and job counts) and jobs."""

from __future__ import annotations

import json
from typing import Any

from redun.backends.queries.base import ReaderBase
from redun.backends.queries.records import (
    EXEC_COLS,
    JOB_COLS,
    ExecutionRecord,
    JobRecord,
    execution_from_row,
    job_from_row,
)
from redun.backends.queries.search import matching

__all__ = ["RunQueries"]


class RunQueries(ReaderBase):
    """Executions and jobs."""

    # -- executions -----------------------------------------------------------
    def executions(self, limit: int = 20, offset: int = 0) -> list[ExecutionRecord]:
        """Executions, newest first."""
        rows = self.query(
            f"SELECT {EXEC_COLS} FROM redun_execution ORDER BY start_time DESC, id "
            "LIMIT :limit OFFSET :offset",
            limit=limit,
            offset=offset,
        )
        records = [execution_from_row(row) for row in rows]
        self._add_tags("execution", records)
        return records

    def execution(self, execution_id: str) -> ExecutionRecord | None:
        rows = self.query(
            f"SELECT {EXEC_COLS} FROM redun_execution WHERE id = :id", id=execution_id
        )
        if not rows:
            return None
        record = execution_from_row(rows[0])
        self._add_tags("execution", [record])
        return record

    def executions_by_id(self, execution_ids: list[str]) -> dict[str, ExecutionRecord]:
        """``{id: execution}`` of those recorded, with their tags."""
        records = [
            execution_from_row(row)
            for row in self.query_in(
                f"SELECT {EXEC_COLS} FROM redun_execution WHERE id IN :ids", "ids", execution_ids
            )
        ]
        self._add_tags("execution", records)
        return {record.id: record for record in records}

    def latest_execution(self) -> ExecutionRecord | None:
        records = self.executions(limit=1)
        return records[0] if records else None

    def job_counts(self, execution_ids: list[str]) -> dict[str, dict[str, int]]:
        """``{execution id: {state: count}}``."""
        counts: dict[str, dict[str, int]] = {}
        for execution_id, state, count in self.query_in(
            "SELECT execution_id, state, COUNT(*) FROM redun_job "
            "WHERE execution_id IN :ids GROUP BY execution_id, state",
            "ids",
            execution_ids,
        ):
            counts.setdefault(execution_id, {})[state] = int(count)
        return counts

    def _add_tags(self, entity_type: str, records: list[Any]) -> None:
        if not records:
            return
        by_id = {record.id: record for record in records}
        for entity_id, key, value in self.query_in(
            "SELECT entity_id, key, value FROM redun_tag "
            "WHERE entity_type = :kind AND entity_id IN :ids",
            "ids",
            list(by_id),
            kind=entity_type,
        ):
            try:
                by_id[entity_id].tags[key] = json.loads(value)
            except ValueError:
                by_id[entity_id].tags[key] = value

    # -- jobs -------------------------------------------------------------------
    def jobs_of_execution(self, execution_id: str) -> list[JobRecord]:
        rows = self.query(
            f"SELECT {JOB_COLS} FROM redun_job WHERE execution_id = :id ORDER BY start_time, id",
            id=execution_id,
        )
        return [job_from_row(row) for row in rows]

    def job(self, job_id: str) -> JobRecord | None:
        """The job ``job_id`` with its tags (None if there is none)."""
        rows = self.query(f"SELECT {JOB_COLS} FROM redun_job WHERE id = :id", id=job_id)
        if not rows:
            return None
        record = job_from_row(rows[0])
        self._add_tags("job", [record])
        return record

    def job_log(self, job_id: str) -> list[tuple[str, str]]:
        """What the job wrote, as ``(stream, text)`` chunks in order (empty if nothing)."""
        rows = self.query(
            "SELECT stream, text FROM redun_job_log WHERE job_id = :id ORDER BY position",
            id=job_id,
        )
        return [(row[0] or "stdout", row[1] or "") for row in rows]

    def jobs(self, job_ids: list[str]) -> dict[str, JobRecord]:
        rows = self.query_in(f"SELECT {JOB_COLS} FROM redun_job WHERE id IN :ids", "ids", job_ids)
        return {row[0]: job_from_row(row) for row in rows}

    def jobs_for_calls(self, call_hashes: list[str]) -> dict[str, list[JobRecord]]:
        """Jobs that made or reused each call, oldest first."""
        found: dict[str, list[JobRecord]] = {}
        rows = self.query_in(
            f"SELECT {JOB_COLS} FROM redun_job WHERE call_hash IN :hashes", "hashes", call_hashes
        )
        for row in rows:
            job = job_from_row(row)
            found.setdefault(job.call_hash or "", []).append(job)
        for jobs in found.values():
            jobs.sort(key=lambda job: (job.start_time or 0.0, job.id))
        return found

    def producing_job(self, call_hash: str) -> JobRecord | None:
        """The job that computed ``call_hash`` (not a cache hit), else the first that reused it."""
        jobs = self.jobs_for_calls([call_hash]).get(call_hash, [])
        ran = [job for job in jobs if not job.cached]
        chosen = ran or jobs
        return chosen[0] if chosen else None

    # -- search ---------------------------------------------------------------------------
    def executions_matching(self, terms: list[str], *, limit: int = 100) -> list[ExecutionRecord]:
        """Executions whose command line or expression holds the terms, newest first."""
        where, params = matching(terms, ("argv", "expr"), "id")
        rows = self.query(
            f"SELECT {EXEC_COLS} FROM redun_execution WHERE {where} "
            "ORDER BY start_time DESC, id LIMIT :limit",
            limit=limit,
            **params,
        )
        return [execution_from_row(row) for row in rows]

    def jobs_matching(self, terms: list[str], *, limit: int = 100) -> list[JobRecord]:
        """Jobs whose id starts with the lone hex term (jobs are found by task through tasks)."""
        where, params = matching(terms, (), "id")
        rows = self.query(
            f"SELECT {JOB_COLS} FROM redun_job WHERE {where} ORDER BY id LIMIT :limit",
            limit=limit,
            **params,
        )
        return [job_from_row(row) for row in rows]
