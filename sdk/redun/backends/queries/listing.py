"""Filtered listings across record kinds, as ``redun log`` filters ask for them.

A :class:`RecordFilter` says which records to keep; :class:`ListingQueries`
turns it into one ``WHERE`` clause per kind (executions, jobs, call nodes,
tasks, values) and returns ids or counts. A filter applies to the kinds it
names; scope filters (execution ids, execution tags) reach the other kinds
through the jobs of those executions: their call nodes, tasks, and the values
their calls took or returned (and the values inside those).

Statuses are redun's names: executions ``RUNNING``, ``DONE``, ``FAILED`` (and
``CANCELLED``, ours); jobs ``RUNNING`` (pending, queued or running), ``CACHED``
(a cache hit), ``DONE`` (ran, not from the cache), ``FAILED`` (and
``CANCELLED``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redun.backends.queries.base import ReaderBase
from redun.tags import ANY_VALUE

__all__ = [
    "EXECUTION_STATUSES",
    "JOB_STATUSES",
    "KINDS",
    "ListingQueries",
    "RecordFilter",
]

KINDS = ("Execution", "Job", "CallNode", "Task", "Value")
# redun's status names -> ours (redun_execution.status; redun_job.state and cached).
EXECUTION_STATUSES = ("RUNNING", "DONE", "FAILED", "CANCELLED")
JOB_STATUSES = ("RUNNING", "CACHED", "DONE", "FAILED", "CANCELLED")

_TABLES = {
    "Execution": ("redun_execution", "id", "start_time DESC, id"),
    "Job": ("redun_job", "id", "start_time DESC, id"),
    "CallNode": ("redun_call_node", "call_hash", "time DESC, call_hash"),
    "Task": ("redun_task", "hash", "fullname, hash"),
    "Value": ("redun_value", "hash", "hash"),
}


@dataclass(frozen=True)
class RecordFilter:
    """What to keep; every field given must match (within a field, any item may).

    Hashes (``task_hashes``, ``results``, ``args``) match as prefixes; a full hash
    matches itself. ``tags`` and ``exec_tags`` hold ``(key, value)`` pairs, the value
    :data:`~redun.tags.ANY_VALUE` for any value.
    """

    exec_statuses: tuple[str, ...] = ()
    job_statuses: tuple[str, ...] = ()
    task_names: tuple[str, ...] = ()
    task_hashes: tuple[str, ...] = ()
    value_types: tuple[str, ...] = ()
    file_paths: tuple[str, ...] = ()
    execution_ids: tuple[str, ...] | None = None
    results: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    tags: tuple[tuple[str, Any], ...] = ()
    exec_tags: tuple[tuple[str, Any], ...] = ()
    id_prefix: str = ""
    files_only: bool = False  # values that are files (or directories)


class _Where:
    """Clauses joined by AND, with their numbered parameters."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: dict[str, Any] = {}

    def param(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    def add(self, clause: str) -> None:
        self.clauses.append(clause)

    def any_prefix(self, column: str, prefixes: tuple[str, ...]) -> str:
        # Ranges, not LIKE: indexed and exact under any collation.
        return (
            "("
            + " OR ".join(
                f"({column} >= {self.param(p.lower())} AND {column} < {self.param(p.lower() + 'g')})"
                for p in prefixes
            )
            + ")"
        )

    def tag(self, kind: str, id_column: str, key: str, value: Any) -> str:
        clause = (
            f"EXISTS (SELECT 1 FROM redun_tag WHERE entity_type = {self.param(kind)} "
            f"AND entity_id = {id_column} AND key = {self.param(key)}"
        )
        if value is not ANY_VALUE:
            clause += f" AND value = {self.param(json.dumps(value, sort_keys=True))}"
        return clause + ")"

    def sql(self) -> str:
        return " AND ".join(self.clauses) if self.clauses else "1 = 1"


def _quoted(value_hash: str) -> str:
    """A LIKE pattern for a JSON string starting with ``value_hash`` (hex: nothing to escape)."""
    return '%"' + value_hash.lower() + "%"


def _like(path: str) -> str:
    escaped = path.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


class ListingQueries(ReaderBase):
    """Ids and counts of the records a :class:`RecordFilter` keeps, by kind."""

    def record_ids(self, kind: str, flt: RecordFilter, *, limit: int | None = None) -> list[str]:
        """Ids (hashes) of ``kind`` records ``flt`` keeps: executions and jobs newest
        first, call nodes by time, tasks by name, values by hash."""
        table, key, order = _TABLES[kind]
        where = self._where(kind, flt)
        sql = f"SELECT t.{key} FROM {table} t WHERE {where.sql()} ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {where.param(limit)}"
        return [row[0] for row in self.query(sql, **where.params)]

    def record_count(self, kind: str, flt: RecordFilter) -> int:
        table, _, _ = _TABLES[kind]
        where = self._where(kind, flt)
        rows = self.query(f"SELECT COUNT(*) FROM {table} t WHERE {where.sql()}", **where.params)
        return int(rows[0][0]) if rows else 0

    # -- per kind -------------------------------------------------------------------------
    def _where(self, kind: str, flt: RecordFilter) -> _Where:
        where = _Where()
        getattr(self, f"_where_{kind.lower()}")(where, flt)
        if flt.id_prefix:
            _, key, _ = _TABLES[kind]
            prefix = where.any_prefix(f"t.{key}", (flt.id_prefix,))
            if kind == "Task":  # redun also takes a task's name for its id
                prefix = f"({prefix} OR t.name = {where.param(flt.id_prefix)})"
            where.add(prefix)
        return where

    def _where_execution(self, where: _Where, flt: RecordFilter) -> None:
        if flt.exec_statuses:
            states = [s.lower() for s in flt.exec_statuses]
            clause = f"t.status IN {where.param(states)}"
            if "running" in states:  # recorded before the status was
                clause = f"({clause} OR t.status IS NULL)"
            where.add(clause)
        self._exec_scope(where, flt, "t.id")
        for key, value in flt.tags:
            where.add(where.tag("execution", "t.id", key, value))

    def _where_job(self, where: _Where, flt: RecordFilter) -> None:
        if flt.job_statuses:
            where.add("(" + " OR ".join(_job_status(where, s) for s in flt.job_statuses) + ")")
        if flt.task_names:
            where.add(_task_names(where, flt.task_names, "t.task_name", fullname=True))
        if flt.task_hashes:
            where.add(where.any_prefix("t.task_hash", flt.task_hashes))
        self._exec_scope(where, flt, "t.execution_id")
        if flt.results:
            inside = where.any_prefix("s.child_hash", flt.results)
            where.add(
                "EXISTS (SELECT 1 FROM redun_call_node c WHERE c.call_hash = t.call_hash AND ("
                f"{where.any_prefix('c.result_hash', flt.results)} OR c.result_hash IN "
                f"(SELECT s.parent_hash FROM redun_subvalue s WHERE {inside})))"
            )
        if flt.args:
            inside = where.any_prefix("s.child_hash", flt.args)
            # Jobs without a call node (failed, unfinished) keep their arguments' hashes.
            loose = " OR ".join(f"t.arg_hashes LIKE {where.param(_quoted(h))}" for h in flt.args)
            where.add(
                "(EXISTS (SELECT 1 FROM redun_argument a WHERE a.call_hash = t.call_hash AND ("
                f"{where.any_prefix('a.value_hash', flt.args)} OR a.value_hash IN "
                f"(SELECT s.parent_hash FROM redun_subvalue s WHERE {inside})))"
                f" OR (t.call_hash IS NULL AND ({loose})))"
            )
        for key, value in flt.tags:
            where.add(where.tag("job", "t.id", key, value))

    def _where_callnode(self, where: _Where, flt: RecordFilter) -> None:
        scope = self._job_scope(where, flt, "j")
        if scope:
            where.add(f"EXISTS (SELECT 1 FROM redun_job j WHERE j.call_hash = t.call_hash{scope})")
        for key, value in flt.tags:
            where.add(where.tag("call_node", "t.call_hash", key, value))

    def _where_task(self, where: _Where, flt: RecordFilter) -> None:
        if flt.task_names:
            where.add(_task_names(where, flt.task_names, "t.fullname", fullname=False))
        if flt.task_hashes:
            where.add(where.any_prefix("t.hash", flt.task_hashes))
        scope = self._job_scope(where, flt, "j")
        if scope:
            where.add(f"EXISTS (SELECT 1 FROM redun_job j WHERE j.task_hash = t.hash{scope})")
        for key, value in flt.tags:
            where.add(where.tag("task", "t.hash", key, value))

    def _where_value(self, where: _Where, flt: RecordFilter) -> None:
        if flt.value_types:
            # redun names builtins "builtins.int"; this store records "int".
            names = {name for t in flt.value_types for name in (t, t.removeprefix("builtins."))}
            where.add(f"t.type_name IN {where.param(sorted(names))}")
        if flt.files_only and not flt.file_paths:
            where.add("EXISTS (SELECT 1 FROM redun_file f WHERE f.value_hash = t.hash)")
        if flt.file_paths:
            likes = " OR ".join(
                f"f.path LIKE {where.param(_like(p))} ESCAPE '\\'" for p in flt.file_paths
            )
            where.add(
                f"EXISTS (SELECT 1 FROM redun_file f WHERE f.value_hash = t.hash AND ({likes}))"
            )
        scope = self._job_scope(where, flt, "j")
        if scope:
            used = (
                "SELECT c.result_hash FROM redun_job j JOIN redun_call_node c "
                f"ON c.call_hash = j.call_hash WHERE 1 = 1{scope} UNION "
                "SELECT a.value_hash FROM redun_job j JOIN redun_argument a "
                f"ON a.call_hash = j.call_hash WHERE 1 = 1{scope}"
            )
            loose = self._loose_arguments(flt)
            clause = (
                f"t.hash IN ({used}) OR t.hash IN "
                f"(SELECT s.child_hash FROM redun_subvalue s WHERE s.parent_hash IN ({used}))"
            )
            if loose:
                clause += f" OR t.hash IN {where.param(loose)}"
            where.add(f"({clause})")
        for key, value in flt.tags:
            where.add(where.tag("value", "t.hash", key, value))

    # -- execution scope ----------------------------------------------------------------------
    def _exec_scope(self, where: _Where, flt: RecordFilter, exec_column: str) -> None:
        if flt.execution_ids is not None:
            where.add(f"{exec_column} IN {where.param(list(flt.execution_ids) or [''])}")
        for key, value in flt.exec_tags:
            where.add(where.tag("execution", exec_column, key, value))

    def _job_scope(self, where: _Where, flt: RecordFilter, alias: str) -> str:
        """`` AND ...`` keeping jobs (``alias``) of the executions in scope, or ''."""
        scoped = _Where()
        scoped.params = where.params  # one numbering
        self._exec_scope(scoped, flt, f"{alias}.execution_id")
        return "".join(f" AND {clause}" for clause in scoped.clauses)

    def _loose_arguments(self, flt: RecordFilter) -> list[str]:
        """Argument hashes of the jobs in scope that have no call node (failed, unfinished)."""
        where = _Where()
        self._exec_scope(where, flt, "execution_id")
        rows = self.query(
            f"SELECT arg_hashes FROM redun_job WHERE call_hash IS NULL AND arg_hashes IS NOT NULL "
            f"AND {where.sql()}",
            **where.params,
        )
        found: set[str] = set()
        for (text,) in rows:
            try:
                found.update(str(h) for h in json.loads(text).values())
            except (ValueError, AttributeError):
                continue
        return sorted(found)


def _job_status(where: _Where, status: str) -> str:
    if status == "RUNNING":
        return f"t.state IN {where.param(['pending', 'queued', 'running'])}"
    if status == "CACHED":
        return f"t.cached = {where.param(True)}"
    if status == "DONE":
        return (
            f"(t.state = {where.param('done')} AND "
            f"(t.cached IS NULL OR t.cached = {where.param(False)}))"
        )
    return f"t.state = {where.param(status.lower())}"  # FAILED, CANCELLED


def _task_names(where: _Where, names: tuple[str, ...], column: str, *, fullname: bool) -> str:
    """redun's rule: ``ns.name`` is that task; a bare ``name`` is that name in any namespace."""
    terms = []
    for name in names:
        if "." in name:
            terms.append(f"{column} = {where.param(name)}")
        elif fullname:  # a job's full name: "name", or "<namespace>.name"
            escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            terms.append(
                f"({column} = {where.param(name)} OR "
                f"{column} LIKE {where.param('%.' + escaped)} ESCAPE '\\')"
            )
        else:
            terms.append(f"t.name = {where.param(name)}")
    return "(" + " OR ".join(terms) + ")"
