"""Tasks: versions by hash or name, their usage, and name lookups."""

from __future__ import annotations

from typing import Any

from redun.backends.queries.base import ReaderBase
from redun.backends.queries.records import TaskRecord, TaskUsage, task_from_row
from redun.backends.queries.search import like_pattern, matching

__all__ = ["TaskQueries"]


class TaskQueries(ReaderBase):
    """Task versions and how they were used."""

    # -- tasks -------------------------------------------------------------------------
    def tasks(self, task_hashes: list[str]) -> dict[str, TaskRecord]:
        rows = self.query_in(
            "SELECT hash, fullname, namespace, name, version, source, code_parts "
            "FROM redun_task WHERE hash IN :hashes",
            "hashes",
            task_hashes,
        )
        return {row[0]: task_from_row(row) for row in rows}

    def task_names_like(self, name: str) -> list[str]:
        """Full task names equal to ``name`` or ending in ``.name``."""
        rows = self.query(
            "SELECT DISTINCT fullname FROM redun_task WHERE fullname = :name "
            "OR name = :name ORDER BY fullname",
            name=name,
        )
        return [row[0] for row in rows]

    # -- browsing ------------------------------------------------------------------------
    def task_names(
        self, *, text: str = "", namespace: str = "", limit: int = 100, offset: int = 0
    ) -> list[str]:
        """Full task names containing ``text`` (any case), of ``namespace`` if given, by name."""
        sql = "SELECT DISTINCT fullname FROM redun_task WHERE 1 = 1"
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if text:
            sql += " AND LOWER(fullname) LIKE :pattern ESCAPE '\\'"
            params["pattern"] = like_pattern(text)
        if namespace:
            sql += " AND namespace = :namespace"
            params["namespace"] = namespace
        rows = self.query(sql + " ORDER BY fullname LIMIT :limit OFFSET :offset", **params)
        return [row[0] for row in rows]

    def task_versions(
        self, names: list[str], *, include_source: bool = False
    ) -> dict[str, list[TaskRecord]]:
        """``{full name: [its versions]}`` (``source`` is None unless ``include_source``)."""
        source = "source" if include_source else "NULL"
        found: dict[str, list[TaskRecord]] = {}
        for row in self.query_in(
            f"SELECT hash, fullname, namespace, name, version, {source}, code_parts "
            "FROM redun_task WHERE fullname IN :names",
            "names",
            names,
        ):
            found.setdefault(row[1], []).append(task_from_row(row))
        return found

    def task_usage(self, names: list[str], *, include_jobs: bool = True) -> dict[str, TaskUsage]:
        """``{task hash: usage}`` of every version of these tasks (by full name).

        Calls come from the call index by task name; ``include_jobs`` adds when
        jobs last ran or reused each version (a scan of the jobs table).
        """
        usage: dict[str, TaskUsage] = {}
        for task_hash, count, first in self.query_in(
            "SELECT task_hash, COUNT(*), MIN(time) FROM redun_call_node "
            "WHERE task_name IN :names GROUP BY task_hash",
            "names",
            names,
        ):
            usage[task_hash] = TaskUsage(task_hash, int(count), first)
        if not include_jobs:
            return usage
        for task_hash, first, last in self.query_in(
            "SELECT task_hash, MIN(start_time), MAX(start_time) FROM redun_job "
            "WHERE task_name IN :names AND task_hash IS NOT NULL GROUP BY task_hash",
            "names",
            names,
        ):
            entry = usage.setdefault(task_hash, TaskUsage(task_hash))
            if first is not None and (entry.first_seen is None or first < entry.first_seen):
                entry.first_seen = first
            entry.last_used = last
        return usage

    # -- search ---------------------------------------------------------------------------
    def tasks_matching(self, terms: list[str], *, limit: int = 100) -> list[TaskRecord]:
        """Task versions whose full name holds the terms (without source), by name."""
        where, params = matching(terms, ("fullname",), "hash")
        rows = self.query(
            "SELECT hash, fullname, namespace, name, version, NULL, code_parts FROM redun_task "
            f"WHERE {where} ORDER BY fullname, hash LIMIT :limit",
            limit=limit,
            **params,
        )
        return [task_from_row(row) for row in rows]
