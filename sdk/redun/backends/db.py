"""A SQL backend through SQLAlchemy: SQLite by default, PostgreSQL for teams.

Reads (cache lookups) are batched queries on the scheduler's thread. Writes go
through :class:`DbRecorder`, an event subscriber that hands records to its own
thread, which commits them in batches at least every ``flush_interval``
seconds: the scheduler never waits on the disk, and a killed run loses at most
the last fraction of a second of finished jobs.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from queue import Empty, SimpleQueue
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from redun.backends import schema
from redun.backends.base import (
    Backend,
    CallRecord,
    call_record_for,
    dumps_value,
    loads_value,
    needs_validity_check,
    type_name_of,
)
from redun.errors import BackendError
from redun.events import Event, ExecutionFinished, ExecutionStarted, JobStateChanged
from redun.scheduler.job import JobState

_CHUNK = 500


def mask_uri(uri: str) -> str:
    """The URI with any password replaced by ***."""
    try:
        return sa.engine.make_url(uri).render_as_string(hide_password=True)
    except Exception:
        return uri


def _chunks(items: list[str], size: int = _CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class DbBackend(Backend):
    """Calls, values, jobs and executions in a SQL database.

    Args:
        db_uri: a SQLAlchemy URL, e.g. ``sqlite:///.redun/redun.db`` or
            ``postgresql://user@host/db``.
        config: the ``[backend]`` section (``flush_interval`` in seconds).
    """

    def __init__(self, db_uri: str, config: dict | None = None) -> None:
        self.db_uri = db_uri
        self.config = dict(config or {})
        self.flush_interval = float(self.config.get("flush_interval", 0.25))
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    # -- connection ------------------------------------------------------
    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self.load()
        assert self._engine is not None
        return self._engine

    def load(self, migrate: bool | None = None) -> None:
        with self._lock:
            if self._engine is not None:
                return
            self._engine = self._create_engine()
            self._ensure_schema()

    def _create_engine(self) -> Engine:
        try:
            url = sa.engine.make_url(self.db_uri)
        except Exception as exc:
            raise BackendError(f"invalid database URL {mask_uri(self.db_uri)!r}: {exc}") from exc
        if url.get_backend_name() == "sqlite":
            database = url.database or ""
            if database and database != ":memory:":
                directory = os.path.dirname(os.path.abspath(database))
                os.makedirs(directory, exist_ok=True)
            engine = sa.create_engine(
                url,
                connect_args={"timeout": 60, "check_same_thread": False},
            )

            @sa.event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection: Any, record: Any) -> None:
                # Autocommit at the driver level; SQLAlchemy issues BEGIN itself.
                dbapi_connection.isolation_level = None
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA busy_timeout=60000")
                cursor.close()

            @sa.event.listens_for(engine, "begin")
            def _begin(connection: Any) -> None:
                # Writers take the lock up front (no deadlocking upgrades); readers do not.
                mode = "IMMEDIATE" if connection.info.get("redun_writer") else "DEFERRED"
                connection.exec_driver_sql(f"BEGIN {mode}")

            return engine
        try:
            return sa.create_engine(url, pool_pre_ping=True)
        except Exception as exc:
            raise BackendError(f"cannot open database {mask_uri(self.db_uri)}: {exc}") from exc

    def _ensure_schema(self) -> None:
        engine = self._engine
        assert engine is not None
        for attempt in range(5):
            try:
                with engine.connect() as conn, _writing(conn):
                    if conn.dialect.name == "postgresql":
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock(7265646)"))
                    schema.metadata.create_all(conn, checkfirst=True)
                    row = conn.execute(sa.select(schema.schema_version.c.version)).first()
                    if row is None:
                        conn.execute(
                            schema.schema_version.insert().values(
                                id=1, version=schema.SCHEMA_VERSION
                            )
                        )
                    elif row[0] > schema.SCHEMA_VERSION:
                        raise BackendError(
                            f"database {mask_uri(self.db_uri)} has schema version {row[0]}, "
                            f"newer than this redun understands ({schema.SCHEMA_VERSION}); "
                            "upgrade redun"
                        )
                return
            except BackendError:
                raise
            except DBAPIError as exc:
                if exc.connection_invalidated or attempt == 4 or "exist" not in str(exc):
                    raise BackendError(
                        f"cannot open database {mask_uri(self.db_uri)}: {exc.orig}"
                    ) from exc
                time.sleep(0.05 * (attempt + 1))
            except SQLAlchemyError as exc:
                raise BackendError(f"cannot open database {mask_uri(self.db_uri)}: {exc}") from exc

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def _query(self, sql: str, **params: Any) -> list[Any]:
        statement = sa.text(sql)
        for name, value in params.items():
            if isinstance(value, list):
                statement = statement.bindparams(sa.bindparam(name, expanding=True))
        try:
            with self.engine.connect() as conn:
                return list(conn.execute(statement, params))
        except SQLAlchemyError as exc:
            raise BackendError(f"query failed on {mask_uri(self.db_uri)}: {exc}") from exc

    # -- cache reads -----------------------------------------------------------
    def has_calls(self, task_hash: str) -> bool:
        rows = self._query(
            "SELECT 1 FROM redun_call_node WHERE task_hash = :task_hash LIMIT 1",
            task_hash=task_hash,
        )
        return bool(rows)

    def find_calls(self, eval_hashes: list[str]) -> dict[str, CallRecord]:
        found: dict[str, CallRecord] = {}
        for chunk in _chunks(list(dict.fromkeys(eval_hashes))):
            rows = self._query(
                "SELECT e.eval_hash, c.call_hash, c.task_name, c.task_hash, c.args_hash, "
                "c.result_hash FROM redun_evaluation e "
                "JOIN redun_call_node c ON c.call_hash = e.call_hash "
                "WHERE e.eval_hash IN :hashes",
                hashes=chunk,
            )
            for eval_hash, call_hash, task_name, task_hash, args_hash, result_hash in rows:
                found[eval_hash] = CallRecord(
                    call_hash, task_name, task_hash, args_hash, eval_hash, result_hash
                )
        return found

    def get_call_tree(self, call_hashes: list[str]) -> dict[str, CallRecord]:
        tree: dict[str, CallRecord] = {}
        children: dict[str, list[tuple[int, str]]] = {}
        for chunk in _chunks(list(dict.fromkeys(call_hashes))):
            nodes = self._query(
                "WITH RECURSIVE tree(h) AS ("
                " SELECT call_hash FROM redun_call_node WHERE call_hash IN :roots"
                " UNION SELECT e.child_call_hash FROM redun_call_edge e"
                " JOIN tree t ON e.parent_call_hash = t.h) "
                "SELECT c.call_hash, c.task_name, c.task_hash, c.args_hash, c.eval_hash,"
                " c.result_hash FROM redun_call_node c JOIN tree ON c.call_hash = tree.h",
                roots=chunk,
            )
            edges = self._query(
                "WITH RECURSIVE tree(h) AS ("
                " SELECT call_hash FROM redun_call_node WHERE call_hash IN :roots"
                " UNION SELECT e.child_call_hash FROM redun_call_edge e"
                " JOIN tree t ON e.parent_call_hash = t.h) "
                "SELECT e.parent_call_hash, e.position, e.child_call_hash FROM redun_call_edge e"
                " JOIN tree ON e.parent_call_hash = tree.h",
                roots=chunk,
            )
            for call_hash, task_name, task_hash, args_hash, eval_hash, result_hash in nodes:
                tree[call_hash] = CallRecord(
                    call_hash, task_name, task_hash, args_hash, eval_hash, result_hash
                )
            for parent, position, child in edges:
                children.setdefault(parent, []).append((position, child))
        for parent, items in children.items():
            record = tree.get(parent)
            if record is not None:
                record.child_call_hashes = tuple(child for _, child in sorted(items))
        return tree

    def get_values(self, value_hashes: list[str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for chunk in _chunks(list(dict.fromkeys(value_hashes))):
            for value_hash, data in self._query(
                "SELECT hash, data FROM redun_value WHERE hash IN :hashes", hashes=chunk
            ):
                try:
                    values[value_hash] = loads_value(data)
                except Exception:
                    continue  # unreadable (class gone): treat as a miss
        return values

    def values_needing_check(self, value_hashes: list[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(list(dict.fromkeys(value_hashes))):
            for (value_hash,) in self._query(
                "SELECT hash FROM redun_value WHERE needs_check AND hash IN :hashes",
                hashes=chunk,
            ):
                found.add(value_hash)
        return found

    # -- writes ------------------------------------------------------------------
    def recorder(self, scheduler: Any) -> DbRecorder:
        self.load()
        return DbRecorder(self)

    def write(self, batch: Iterable[tuple[str, Any]]) -> None:
        """Write records ``(kind, payload)`` in one transaction."""
        rows: dict[str, dict[Any, dict]] = {}
        updates: list[dict] = []
        for kind, payload in batch:
            if kind == "execution_update":
                updates.append(payload)
                continue
            for table, row in _rows_for(kind, payload):
                key = _row_key(table, row)
                rows.setdefault(table, {})[key] = row
        if not rows and not updates:
            return
        engine = self.engine
        try:
            with engine.connect() as conn:
                conn.info["redun_writer"] = True
                conn.begin()
                for table_name in _WRITE_ORDER:
                    table_rows = rows.get(table_name)
                    if table_rows:
                        _insert(conn, table_name, list(table_rows.values()))
                for update in updates:
                    conn.execute(
                        schema.execution.update()
                        .where(schema.execution.c.id == update["id"])
                        .values(**{k: v for k, v in update.items() if k != "id"})
                    )
                conn.commit()
        except SQLAlchemyError as exc:
            raise BackendError(f"writing to {mask_uri(self.db_uri)} failed: {exc}") from exc


_WRITE_ORDER = (
    "redun_execution",
    "redun_task",
    "redun_value",
    "redun_call_node",
    "redun_call_edge",
    "redun_argument",
    "redun_evaluation",
    "redun_job",
)
_TABLES = {table.name: table for table in schema.metadata.sorted_tables}
_UPSERT_COLUMNS = {"redun_evaluation": ("call_hash", "time"), "redun_job": None}


@contextlib.contextmanager
def _writing(conn: Any) -> Iterator[Any]:
    """A write transaction (BEGIN IMMEDIATE on SQLite), committed on success."""
    conn.info["redun_writer"] = True
    with conn.begin():
        yield conn


def _row_key(table: str, row: dict) -> Any:
    pk = _TABLES[table].primary_key.columns
    return tuple(row[column.name] for column in pk)


def _insert(conn: Any, table_name: str, rows: list[dict]) -> None:
    table = _TABLES[table_name]
    dialect = conn.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    else:  # pragma: no cover - other databases: plain inserts, one by one
        for row in rows:
            try:
                with conn.begin_nested():
                    conn.execute(table.insert(), row)
            except SQLAlchemyError:
                pass
        return
    statement = insert(table)
    pk_names = [column.name for column in table.primary_key.columns]
    if table_name in _UPSERT_COLUMNS:
        columns = _UPSERT_COLUMNS[table_name] or [
            c.name for c in table.columns if c.name not in pk_names
        ]
        statement = statement.on_conflict_do_update(
            index_elements=pk_names,
            set_={name: statement.excluded[name] for name in columns},
        )
    else:
        statement = statement.on_conflict_do_nothing(index_elements=pk_names)
    conn.execute(statement, rows)


def _preview(value: Any, limit: int = 200) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _value_row(value_hash: str, value: Any) -> dict | None:
    try:
        data = dumps_value(value)
    except Exception:
        return None  # unpicklable values are not cached; the call is still recorded
    return {
        "hash": value_hash,
        "type_name": type_name_of(value),
        "format": "pickle",
        "data": data,
        "size": len(data),
        "needs_check": needs_validity_check(value),
        "preview": _preview(value),
    }


def _rows_for(kind: str, payload: Any) -> Iterator[tuple[str, dict]]:
    if kind == "execution":
        yield "redun_execution", payload
    elif kind == "job":
        job = payload
        yield "redun_job", _job_row(job)
        if job.state is JobState.DONE:
            yield from _call_rows(job)


def _job_row(job: Any) -> dict:
    error = None
    if job.error is not None:
        error = f"{type(job.error).__name__}: {job.error}"
    return {
        "id": job.id,
        "execution_id": job.execution.id if job.execution else "",
        "parent_id": job.parent_job.id if job.parent_job else None,
        "task_name": job.task.fullname,
        "task_hash": job.task.hash,
        "eval_hash": job.eval_hash,
        "call_hash": job.call_hash,
        "state": job.state.value,
        "cached": job.cached,
        "reason": job.reason,
        "executor": job.executor_name,
        "start_time": job.start_time,
        "end_time": job.end_time,
        "error": error,
    }


def _call_rows(job: Any) -> Iterator[tuple[str, dict]]:
    record = call_record_for(job)
    task = job.task
    code_parts: dict[str, str] = {}
    if task.version is None:
        try:
            code_parts = dict(task.code_hash.parts)
        except Exception:
            code_parts = {}
    yield (
        "redun_task",
        {
            "hash": record.task_hash,
            "fullname": task.fullname,
            "namespace": task.namespace,
            "name": task.name,
            "source": task.source,
            "code_parts": json.dumps(code_parts, sort_keys=True),
        },
    )
    value_row = _value_row(record.result_hash, job.result)
    if value_row is None:
        return
    yield "redun_value", value_row
    bound = _bound_values(job)
    for name, value_hash in record.arg_hashes.items():
        if name in bound:
            row = _value_row(value_hash, bound[name])
            if row is not None:
                yield "redun_value", row
        yield (
            "redun_argument",
            {
                "call_hash": record.call_hash,
                "name": name,
                "value_hash": value_hash,
            },
        )
    yield (
        "redun_call_node",
        {
            "call_hash": record.call_hash,
            "task_hash": record.task_hash,
            "task_name": record.task_name,
            "args_hash": record.args_hash,
            "eval_hash": record.eval_hash,
            "result_hash": record.result_hash,
            "arg_hashes": json.dumps(record.arg_hashes),
            "time": record.time,
        },
    )
    for position, child in enumerate(record.child_call_hashes):
        yield (
            "redun_call_edge",
            {
                "parent_call_hash": record.call_hash,
                "position": position,
                "child_call_hash": child,
            },
        )
    yield (
        "redun_evaluation",
        {
            "eval_hash": record.eval_hash,
            "call_hash": record.call_hash,
            "time": record.time,
        },
    )


def _bound_values(job: Any) -> dict[str, Any]:
    from redun.scheduler.binding import bind_arguments

    try:
        return bind_arguments(job.task, job.args, job.kwargs)
    except Exception:
        return {}


_STOP = ("stop", None)


class DbRecorder:
    """Records a run's events into a :class:`DbBackend` from a writer thread."""

    def __init__(self, backend: DbBackend) -> None:
        self.backend = backend
        self._queue: SimpleQueue[tuple[str, Any]] = SimpleQueue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="redun-db-writer", daemon=True)
        self._thread.start()

    def __call__(self, event: Event) -> None:
        cls = type(event)
        if cls is JobStateChanged:
            job = event.job  # type: ignore[attr-defined]
            if job is not None and job.state.is_terminal:
                self._queue.put(("job", job))
        elif cls is ExecutionStarted:
            self._queue.put(
                (
                    "execution",
                    {
                        "id": event.execution_id,
                        "argv": json.dumps(event.argv),  # type: ignore[attr-defined]
                        "start_time": event.time,
                        "status": "running",
                        "user": _user(),
                        "host": socket.gethostname(),
                        "cwd": os.getcwd(),
                    },
                )
            )
        elif cls is ExecutionFinished:
            self._queue.put(
                (
                    "execution_update",
                    {
                        "id": event.execution_id,
                        "end_time": event.time,
                        "status": event.status,  # type: ignore[attr-defined]
                        "error": event.error,  # type: ignore[attr-defined]
                    },
                )
            )

    def _run(self) -> None:
        queue = self._queue
        interval = self.backend.flush_interval
        stopping = False
        while not stopping:
            batch: list[tuple[str, Any]] = []
            item = queue.get()
            deadline = time.monotonic() + interval
            while True:
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or len(batch) >= 20000:
                    break
                try:
                    item = queue.get(timeout=remaining)
                except Empty:
                    break
            if batch:
                try:
                    self.backend.write(batch)
                except BaseException as error:  # report at close, keep draining
                    self._error = error

    def close(self) -> None:
        """Flush everything recorded so far and stop the writer thread."""
        self._queue.put(_STOP)
        self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return ""
