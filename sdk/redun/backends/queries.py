"""Read-side queries over a :class:`~redun.backends.db.DbBackend`, returning plain records.

:class:`StoreReader` answers what ``redun log``, lineage and ``redun explain``
ask: executions, an execution's jobs, a job, call nodes with their arguments,
values and files, who produced or consumed a value, and ids by prefix; and
what a browser asks (the daemon's ListTasks, ListValues, ListFiles and Search):
tasks with their usage, values and files page by page, and text matches. Every
query is batched (``IN`` over chunks), none is issued per row.
"""

from __future__ import annotations

import json
import pickle
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redun.backends.db import DbBackend

_HEX = re.compile(r"^[0-9a-f]{1,40}$")
# Shorter hex words are too common to search ids by (every hash starting "ab").
_MIN_SEARCH_PREFIX = 4
_ID_COLUMNS = {
    "execution": ("redun_execution", "id"),
    "job": ("redun_job", "id"),
    "call": ("redun_call_node", "call_hash"),
    "value": ("redun_value", "hash"),
    "task": ("redun_task", "hash"),
}


@dataclass
class ExecutionRecord:
    """One run of the scheduler."""

    id: str
    root_job_id: str | None
    argv: list[str]
    expr: str | None
    start_time: float | None
    end_time: float | None
    status: str
    error: str | None
    user: str | None
    host: str | None
    pid: int | None
    cwd: str | None
    tags: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class JobRecord:
    """One job: a task call in an execution (its call node is ``call_hash``)."""

    id: str
    execution_id: str
    parent_id: str | None
    task_name: str
    task_hash: str | None
    eval_hash: str | None
    call_hash: str | None
    state: str
    cached: bool
    reason: str | None
    executor: str | None
    start_time: float | None
    end_time: float | None
    error: str | None
    traceback: str | None
    arg_hashes: dict[str, str] | None = None

    @property
    def duration(self) -> float | None:
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CallRecordInfo:
    """A call node: what a task computed from which arguments."""

    call_hash: str
    task_hash: str
    task_name: str
    args_hash: str
    eval_hash: str
    result_hash: str
    time: float | None
    arguments: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FileRecord:
    """A File (or Dir) as recorded inside a value."""

    value_hash: str
    path: str
    file_hash: str | None
    size: int | None
    kind: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ValueRecord:
    """A recorded value: its type, size, where it is kept, and a short repr."""

    hash: str
    type_name: str | None
    location: str | None
    size: int | None
    preview: str | None
    file: FileRecord | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TaskRecord:
    """A task version: its source and the code parts its hash covers."""

    hash: str
    fullname: str
    namespace: str | None
    name: str | None
    version: str | None
    source: str | None
    code_parts: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TaskUsage:
    """How a task version was used: its calls, and the jobs that ran or reused them."""

    task_hash: str
    call_count: int = 0
    first_seen: float | None = None
    last_used: float | None = None


@dataclass
class ValueUse:
    """The latest job that made or took a value (directly, or inside a container)."""

    time: float | None
    cwd: str | None


_EXEC_COLS = (
    'id, root_job_id, argv, expr, start_time, end_time, status, error, "user", host, pid, cwd'
)
_JOB_COLS = (
    "id, execution_id, parent_id, task_name, task_hash, eval_hash, call_hash, state, "
    "cached, reason, executor, start_time, end_time, error, traceback, arg_hashes"
)
_CALL_COLS = "call_hash, task_hash, task_name, args_hash, eval_hash, result_hash, time"


def _execution(row: Any) -> ExecutionRecord:
    try:
        argv = json.loads(row[2] or "[]")
    except ValueError:
        argv = []
    return ExecutionRecord(
        row[0], row[1], argv, row[3], row[4], row[5], row[6] or "running", row[7],
        row[8], row[9], row[10], row[11],
    )  # fmt: skip


def _job(row: Any) -> JobRecord:
    arg_hashes = None
    if row[15]:
        try:
            arg_hashes = json.loads(row[15])
        except ValueError:
            arg_hashes = None
    return JobRecord(
        row[0], row[1], row[2], row[3] or "", row[4], row[5], row[6], row[7] or "pending",
        bool(row[8]), row[9], row[10], row[11], row[12], row[13], row[14], arg_hashes,
    )  # fmt: skip


def _prefix_range(prefix: str) -> tuple[str, str]:
    # A range, not LIKE: it uses the primary-key index on SQLite and PostgreSQL alike.
    return prefix, prefix + "g"


def _task(row: Any) -> TaskRecord:
    try:
        parts = json.loads(row[6] or "{}")
    except ValueError:
        parts = {}
    return TaskRecord(row[0], row[1], row[2], row[3], row[4], row[5], parts)


def like_pattern(text: str) -> str:
    """A ``LIKE`` pattern (escape character ``\\``) matching ``text`` anywhere, lower-cased."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matching(terms: list[str], columns: tuple[str, ...], id_column: str) -> tuple[str, dict]:
    """A WHERE clause: every term in one of ``columns`` (any case), or a lone hex term
    that starts ``id_column``."""
    params: dict[str, Any] = {}
    clauses = []
    for index, term in enumerate(terms):
        params[f"t{index}"] = like_pattern(term)
        either = " OR ".join(f"LOWER({column}) LIKE :t{index} ESCAPE '\\'" for column in columns)
        clauses.append(f"({either})")
    where = " AND ".join(clauses) if clauses and columns else "1 = 0"
    word = terms[0].lower() if len(terms) == 1 else ""
    if id_column and len(word) >= _MIN_SEARCH_PREFIX and _HEX.match(word):
        params["lo"], params["hi"] = _prefix_range(word)
        where = f"({where}) OR ({id_column} >= :lo AND {id_column} < :hi)"
    return where, params


class StoreReader:
    """Queries for ``redun log``, lineage and explain."""

    def __init__(self, backend: DbBackend) -> None:
        self.backend = backend
        self.query = backend.query
        self.query_in = backend.query_in

    # -- executions -----------------------------------------------------------
    def executions(self, limit: int = 20, offset: int = 0) -> list[ExecutionRecord]:
        """Executions, newest first."""
        rows = self.query(
            f"SELECT {_EXEC_COLS} FROM redun_execution ORDER BY start_time DESC, id "
            "LIMIT :limit OFFSET :offset",
            limit=limit,
            offset=offset,
        )
        records = [_execution(row) for row in rows]
        self._add_tags("execution", records)
        return records

    def execution(self, execution_id: str) -> ExecutionRecord | None:
        rows = self.query(
            f"SELECT {_EXEC_COLS} FROM redun_execution WHERE id = :id", id=execution_id
        )
        if not rows:
            return None
        record = _execution(rows[0])
        self._add_tags("execution", [record])
        return record

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
            f"SELECT {_JOB_COLS} FROM redun_job WHERE execution_id = :id ORDER BY start_time, id",
            id=execution_id,
        )
        return [_job(row) for row in rows]

    def job(self, job_id: str) -> JobRecord | None:
        rows = self.query(f"SELECT {_JOB_COLS} FROM redun_job WHERE id = :id", id=job_id)
        return _job(rows[0]) if rows else None

    def jobs(self, job_ids: list[str]) -> dict[str, JobRecord]:
        rows = self.query_in(f"SELECT {_JOB_COLS} FROM redun_job WHERE id IN :ids", "ids", job_ids)
        return {row[0]: _job(row) for row in rows}

    def jobs_for_calls(self, call_hashes: list[str]) -> dict[str, list[JobRecord]]:
        """Jobs that made or reused each call, oldest first."""
        found: dict[str, list[JobRecord]] = {}
        rows = self.query_in(
            f"SELECT {_JOB_COLS} FROM redun_job WHERE call_hash IN :hashes", "hashes", call_hashes
        )
        for row in rows:
            job = _job(row)
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

    # -- calls --------------------------------------------------------------------
    def calls(self, call_hashes: list[str]) -> dict[str, CallRecordInfo]:
        """Call nodes with their arguments (name -> value hash)."""
        calls = {
            row[0]: CallRecordInfo(*row)
            for row in self.query_in(
                f"SELECT {_CALL_COLS} FROM redun_call_node WHERE call_hash IN :hashes",
                "hashes",
                call_hashes,
            )
        }
        self._add_arguments(calls)
        return calls

    def call(self, call_hash: str) -> CallRecordInfo | None:
        return self.calls([call_hash]).get(call_hash)

    def _add_arguments(self, calls: dict[str, CallRecordInfo]) -> None:
        if not calls:
            return
        for call_hash, name, value_hash in self.query_in(
            "SELECT call_hash, name, value_hash FROM redun_argument WHERE call_hash IN :hashes",
            "hashes",
            list(calls),
        ):
            calls[call_hash].arguments[name] = value_hash

    def calls_of_task(
        self, task_name: str, *, before: float | None = None, limit: int = 2000
    ) -> list[CallRecordInfo]:
        """The newest calls of a task (by full name), newest first."""
        sql = f"SELECT {_CALL_COLS} FROM redun_call_node WHERE task_name = :name"
        params: dict[str, Any] = {"name": task_name, "limit": limit}
        if before is not None:
            sql += " AND time < :before"
            params["before"] = before
        rows = self.query(sql + " ORDER BY time DESC LIMIT :limit", **params)
        calls = {row[0]: CallRecordInfo(*row) for row in rows}
        self._add_arguments(calls)
        return list(calls.values())

    def calls_sharing_arguments(
        self,
        task_name: str,
        arg_hashes: dict[str, str],
        *,
        eval_hash: str | None = None,
        before: float | None = None,
        limit: int = 200,
    ) -> list[CallRecordInfo]:
        """Calls of a task with at least one of these argument values, or this eval hash."""
        found: dict[str, CallRecordInfo] = {}
        hashes = sorted(set(arg_hashes.values()))
        if hashes:
            sql = (
                f"SELECT DISTINCT {', '.join('c.' + c for c in _CALL_COLS.split(', '))} "
                "FROM redun_argument a JOIN redun_call_node c ON c.call_hash = a.call_hash "
                "WHERE a.value_hash IN :hashes AND c.task_name = :name"
            )
            params: dict[str, Any] = {"hashes": hashes, "name": task_name, "limit": limit}
            if before is not None:
                sql += " AND c.time < :before"
                params["before"] = before
            for row in self.query(sql + " ORDER BY c.time DESC LIMIT :limit", **params):
                found[row[0]] = CallRecordInfo(*row)
        if eval_hash:
            entry = self.cache_entry(eval_hash)
            if entry is not None and entry not in found:
                call = self.calls([entry]).get(entry)
                if call is not None and (before is None or (call.time or 0) < before):
                    found[entry] = call
        self._add_arguments({h: c for h, c in found.items() if not c.arguments})
        return list(found.values())

    def cache_entry(self, eval_hash: str) -> str | None:
        """The call the cache answers ``eval_hash`` with, if any."""
        rows = self.query(
            "SELECT call_hash FROM redun_evaluation WHERE eval_hash = :h", h=eval_hash
        )
        return rows[0][0] if rows else None

    def child_calls(self, call_hashes: list[str]) -> dict[str, list[str]]:
        edges: dict[str, list[tuple[int, str]]] = {}
        for parent, position, child in self.query_in(
            "SELECT parent_call_hash, position, child_call_hash FROM redun_call_edge "
            "WHERE parent_call_hash IN :hashes",
            "hashes",
            call_hashes,
        ):
            edges.setdefault(parent, []).append((position, child))
        return {parent: [c for _, c in sorted(items)] for parent, items in edges.items()}

    def ancestor_calls(self, call_hashes: list[str]) -> list[str]:
        """Every call above these calls (found through the jobs that made them)."""
        seen: set[str] = set(call_hashes)
        frontier = list(call_hashes)
        ancestors: list[str] = []
        while frontier:
            parent_ids = {
                row[0]
                for row in self.query_in(
                    "SELECT parent_id FROM redun_job WHERE call_hash IN :hashes "
                    "AND parent_id IS NOT NULL",
                    "hashes",
                    frontier,
                )
            }
            frontier = []
            for (call_hash,) in self.query_in(
                "SELECT call_hash FROM redun_job WHERE id IN :ids AND call_hash IS NOT NULL",
                "ids",
                list(parent_ids),
            ):
                if call_hash not in seen:
                    seen.add(call_hash)
                    ancestors.append(call_hash)
                    frontier.append(call_hash)
        return ancestors

    # -- values and files -------------------------------------------------------------
    def values(self, value_hashes: list[str]) -> dict[str, ValueRecord]:
        values = {
            row[0]: ValueRecord(*row)
            for row in self.query_in(
                "SELECT hash, type_name, location, size, preview FROM redun_value "
                "WHERE hash IN :hashes",
                "hashes",
                value_hashes,
            )
        }
        for record in self.files_by_hash(list(values)).values():
            values[record.value_hash].file = record
        return values

    def load_value(self, value_hash: str) -> Any:
        """The value itself (unpickled), or raises KeyError."""
        rows = self.query("SELECT location, data FROM redun_value WHERE hash = :h", h=value_hash)
        if not rows:
            raise KeyError(value_hash)
        location, data = rows[0]
        if data is not None:
            return pickle.loads(data)
        if location == "store":
            return self.backend.value_store.load(value_hash)
        raise KeyError(value_hash)

    def files_by_hash(self, value_hashes: list[str]) -> dict[str, FileRecord]:
        return {
            row[0]: FileRecord(*row)
            for row in self.query_in(
                "SELECT value_hash, path, file_hash, size, kind FROM redun_file "
                "WHERE value_hash IN :hashes",
                "hashes",
                value_hashes,
            )
        }

    def files_by_path(self, paths: list[str]) -> list[FileRecord]:
        return [
            FileRecord(*row)
            for row in self.query_in(
                "SELECT value_hash, path, file_hash, size, kind FROM redun_file WHERE path IN :paths",
                "paths",
                paths,
            )
        ]

    def containers_of(self, value_hashes: list[str]) -> dict[str, list[str]]:
        """For each value, the recorded values that hold it (a list of files...)."""
        found: dict[str, list[str]] = {}
        for parent, child in self.query_in(
            "SELECT parent_hash, child_hash FROM redun_subvalue WHERE child_hash IN :hashes",
            "hashes",
            value_hashes,
        ):
            found.setdefault(child, []).append(parent)
        return found

    def calls_with_result(self, value_hashes: list[str]) -> list[CallRecordInfo]:
        rows = self.query_in(
            f"SELECT {_CALL_COLS} FROM redun_call_node WHERE result_hash IN :hashes",
            "hashes",
            value_hashes,
        )
        calls = {row[0]: CallRecordInfo(*row) for row in rows}
        self._add_arguments(calls)
        return list(calls.values())

    def calls_with_argument(self, value_hashes: list[str]) -> dict[str, list[str]]:
        """``{call hash: [argument names]}`` of calls taking one of these values."""
        found: dict[str, list[str]] = {}
        for call_hash, name in self.query_in(
            "SELECT call_hash, name FROM redun_argument WHERE value_hash IN :hashes",
            "hashes",
            value_hashes,
        ):
            found.setdefault(call_hash, []).append(name)
        return found

    # -- tasks -------------------------------------------------------------------------
    def tasks(self, task_hashes: list[str]) -> dict[str, TaskRecord]:
        rows = self.query_in(
            "SELECT hash, fullname, namespace, name, version, source, code_parts "
            "FROM redun_task WHERE hash IN :hashes",
            "hashes",
            task_hashes,
        )
        return {row[0]: _task(row) for row in rows}

    def task_names_like(self, name: str) -> list[str]:
        """Full task names equal to ``name`` or ending in ``.name``."""
        rows = self.query(
            "SELECT DISTINCT fullname FROM redun_task WHERE fullname = :name "
            "OR name = :name ORDER BY fullname",
            name=name,
        )
        return [row[0] for row in rows]

    # -- ids ---------------------------------------------------------------------------
    def find_id(self, prefix: str) -> list[tuple[str, str]]:
        """``(kind, full id)`` of executions, jobs, calls, values and tasks matching ``prefix``."""
        return [(kind, full) for kind in _ID_COLUMNS for full in self.ids_with_prefix(kind, prefix)]

    def ids_with_prefix(self, kind: str, prefix: str, limit: int = 5) -> list[str]:
        """Full ids of one kind (``execution``, ``job``, ``call``, ``value``, ``task``)
        starting with the hex ``prefix``, in order."""
        prefix = prefix.lower()
        if not _HEX.match(prefix):
            return []
        table, column = _ID_COLUMNS[kind]
        lo, hi = _prefix_range(prefix)
        rows = self.query(
            f"SELECT {column} FROM {table} WHERE {column} >= :lo AND {column} < :hi "
            f"ORDER BY {column} LIMIT :limit",
            lo=lo,
            hi=hi,
            limit=limit,
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
            found.setdefault(row[1], []).append(_task(row))
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

    def recent_values(
        self, *, type_name: str = "", limit: int = 100, offset: int = 0
    ) -> list[ValueRecord]:
        """Values, most recently made or taken by a call first (then those no call touched)."""
        sql = (
            "SELECT v.hash, v.type_name, v.location, v.size, v.preview FROM redun_value v "
            "LEFT JOIN (SELECT hash, MAX(t) AS t FROM ("
            "SELECT result_hash AS hash, time AS t FROM redun_call_node UNION ALL "
            "SELECT a.value_hash, c.time FROM redun_argument a "
            "JOIN redun_call_node c ON c.call_hash = a.call_hash"
            ") uses GROUP BY hash) used ON used.hash = v.hash"
        )
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if type_name:
            sql += " WHERE v.type_name = :type_name"
            params["type_name"] = type_name
        sql += " ORDER BY used.t IS NULL, used.t DESC, v.hash LIMIT :limit OFFSET :offset"
        return self._with_files([ValueRecord(*row) for row in self.query(sql, **params)])

    def _with_files(self, records: list[ValueRecord]) -> list[ValueRecord]:
        files = self.files_by_hash([record.hash for record in records])
        for record in records:
            record.file = files.get(record.hash)
        return records

    def value_uses(self, value_hashes: list[str]) -> dict[str, ValueUse]:
        """The latest job that made or took each value, and its run's working directory.

        A value no call touched directly (a file inside a returned list) gets
        the latest use of the values holding it.
        """
        uses = self._direct_uses(value_hashes)
        missing = [value_hash for value_hash in value_hashes if value_hash not in uses]
        containers = self.containers_of(missing) if missing else {}
        outer = self._direct_uses(sorted({p for parents in containers.values() for p in parents}))
        for child, parents in containers.items():
            found = [outer[parent] for parent in parents if parent in outer]
            if found:
                uses[child] = max(found, key=lambda use: use.time or 0.0)
        return uses

    def _direct_uses(self, value_hashes: list[str]) -> dict[str, ValueUse]:
        uses: dict[str, ValueUse] = {}
        for sql in (
            "SELECT c.result_hash, x.cwd, MAX(j.start_time) FROM redun_call_node c "
            "JOIN redun_job j ON j.call_hash = c.call_hash "
            "JOIN redun_execution x ON x.id = j.execution_id "
            "WHERE c.result_hash IN :hashes GROUP BY c.result_hash, x.cwd",
            "SELECT a.value_hash, x.cwd, MAX(j.start_time) FROM redun_argument a "
            "JOIN redun_job j ON j.call_hash = a.call_hash "
            "JOIN redun_execution x ON x.id = j.execution_id "
            "WHERE a.value_hash IN :hashes GROUP BY a.value_hash, x.cwd",
        ):
            for value_hash, cwd, time in self.query_in(sql, "hashes", value_hashes):
                known = uses.get(value_hash)
                if known is None or (time or 0.0) > (known.time or 0.0):
                    uses[value_hash] = ValueUse(time, cwd)
        return uses

    def file_paths(self, *, prefix: str = "", limit: int = 100, offset: int = 0) -> list[str]:
        """Distinct recorded file paths starting with ``prefix`` (case matters), in order."""
        # SUBSTR, not a range or LIKE: exact under any collation, and case-sensitive on SQLite.
        sql = "SELECT DISTINCT path FROM redun_file"
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if prefix:
            sql += " WHERE SUBSTR(path, 1, :length) = :prefix"
            params.update(length=len(prefix), prefix=prefix)
        rows = self.query(sql + " ORDER BY path LIMIT :limit OFFSET :offset", **params)
        return [row[0] for row in rows]

    # -- search ---------------------------------------------------------------------------
    # Each takes lower-case terms, all of which must match (any case); a lone hex
    # term of 4+ digits also matches ids starting with it.
    def executions_matching(self, terms: list[str], *, limit: int = 100) -> list[ExecutionRecord]:
        """Executions whose command line or expression holds the terms, newest first."""
        where, params = _matching(terms, ("argv", "expr"), "id")
        rows = self.query(
            f"SELECT {_EXEC_COLS} FROM redun_execution WHERE {where} "
            "ORDER BY start_time DESC, id LIMIT :limit",
            limit=limit,
            **params,
        )
        return [_execution(row) for row in rows]

    def jobs_matching(self, terms: list[str], *, limit: int = 100) -> list[JobRecord]:
        """Jobs whose id starts with the lone hex term (jobs are found by task through tasks)."""
        where, params = _matching(terms, (), "id")
        rows = self.query(
            f"SELECT {_JOB_COLS} FROM redun_job WHERE {where} ORDER BY id LIMIT :limit",
            limit=limit,
            **params,
        )
        return [_job(row) for row in rows]

    def tasks_matching(self, terms: list[str], *, limit: int = 100) -> list[TaskRecord]:
        """Task versions whose full name holds the terms (without source), by name."""
        where, params = _matching(terms, ("fullname",), "hash")
        rows = self.query(
            "SELECT hash, fullname, namespace, name, version, NULL, code_parts FROM redun_task "
            f"WHERE {where} ORDER BY fullname, hash LIMIT :limit",
            limit=limit,
            **params,
        )
        return [_task(row) for row in rows]

    def values_matching(self, terms: list[str], *, limit: int = 100) -> list[ValueRecord]:
        """Values whose preview or type name holds the terms, by hash."""
        where, params = _matching(terms, ("preview", "type_name"), "hash")
        rows = self.query(
            "SELECT hash, type_name, location, size, preview FROM redun_value "
            f"WHERE {where} ORDER BY hash LIMIT :limit",
            limit=limit,
            **params,
        )
        return self._with_files([ValueRecord(*row) for row in rows])

    def files_matching(self, terms: list[str], *, limit: int = 100) -> list[FileRecord]:
        """Files whose path holds the terms, by path."""
        where, params = _matching(terms, ("path",), "value_hash")
        rows = self.query(
            "SELECT value_hash, path, file_hash, size, kind FROM redun_file "
            f"WHERE {where} ORDER BY path, value_hash LIMIT :limit",
            limit=limit,
            **params,
        )
        return [FileRecord(*row) for row in rows]
