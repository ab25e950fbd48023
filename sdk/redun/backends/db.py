"""A SQL backend: SQLite by default, PostgreSQL for teams; schema in SQLAlchemy.

Cache reads are batched queries on the scheduler's thread (a deferred
transaction each, so they never wait for a writer on SQLite's WAL). Writes go
through :class:`~redun.backends.recorder.DbRecorder`, an event subscriber
that builds rows on its own thread and commits them in batches, by default
through a writer process (:mod:`~redun.backends.writer_process`), with bulk,
idempotent inserts keyed by hashes.

SQLite files skip SQLAlchemy on the hot paths (importing it costs ~150 ms):
a current or new file is opened with :mod:`sqlite3` directly
(:mod:`~redun.backends.sqlite_direct`); SQLAlchemy and alembic load only to
migrate, and for other databases.

Modules: :mod:`~redun.backends.engine` opens databases through SQLAlchemy,
:mod:`~redun.backends.migrate` creates and migrates the schema,
:mod:`~redun.backends.recorder` turns events into rows,
:mod:`~redun.backends.bulk` shapes them for each database,
:mod:`~redun.backends.queries` answers ``redun log``, lineage and explain,
:mod:`~redun.backends.value_store` keeps large values on disk or S3.
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from redun.backends import bulk
from redun.backends.base import Backend, CallRecord, TreeCheck
from redun.backends.calltree import CallTrees, call_record
from redun.backends.revisions import HEAD_REVISION, original_redun_message
from redun.backends.sqlite_direct import (
    DirectSqlite,
    create_fresh,
    is_original_redun_file,
    sqlite_file_of,
)
from redun.backends.value_store import ValueStore, value_store_from_config
from redun.errors import BackendError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

_CHUNK = 900
_WRITE_ATTEMPTS = 6
# Tree verdicts kept for a recorder at most (a dry run has none to write them).
_MAX_PENDING_TREE_CHECKS = 100_000


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def mask_uri(uri: str) -> str:
    """The URL with any password replaced by ``***``."""
    from redun.backends.engine import mask_uri as _mask

    return _mask(uri)


MEMORY_URIS = ("sqlite://", "sqlite:///:memory:")


def is_memory_sqlite(uri: str) -> bool:
    """``sqlite://`` or ``sqlite:///:memory:``: a database private to this process."""
    return uri.strip() in MEMORY_URIS


class _TemporaryDatabase:
    """The file behind an in-memory URL: SQLite's ``:memory:`` is one connection's own,
    and the scheduler reads and writes on several threads, so a private file in a
    temporary directory (mode 0700) stands in; it is deleted when the backend is
    closed, collected, or the process exits."""

    def __init__(self) -> None:
        import tempfile
        import weakref

        self.directory = tempfile.mkdtemp(prefix="redun-memory-")
        self.url = "sqlite:///" + os.path.join(self.directory, "redun.db")
        self._finalizer = weakref.finalize(self, _remove_tree, self.directory, os.getpid())

    def remove(self) -> None:
        self._finalizer()


def _remove_tree(directory: str, owner_pid: int) -> None:
    if os.getpid() != owner_pid:
        return  # a forked child exiting: the database is its parent's
    import shutil

    shutil.rmtree(directory, ignore_errors=True)


class DbBackend(Backend):
    """Calls, values, jobs and executions in a SQL database.

    Args:
        db_uri: a SQLAlchemy URL, e.g. ``sqlite:///.redun/redun.db`` or
            ``postgresql://user@host/db``.
        config: the ``[backend]`` section: ``flush_interval`` (seconds between
            commits of the recorder, default 0.25), ``automigrate`` (default
            true), ``value_store`` (directory or URL; default ``values/`` next to
            a SQLite file, ``none`` to keep every value inline),
            ``inline_max_bytes`` (default 65536), ``connect_timeout`` and
            ``busy_timeout`` (seconds), ``writer`` (``process``, the default: a
            SQLite file is written by a helper process; ``thread``: in this one).
    """

    def __init__(self, db_uri: str, config: dict | None = None) -> None:
        self.db_uri = db_uri
        """The database as configured (``sqlite:///:memory:`` for a private one)."""
        self.config = dict(config or {})
        self.url = db_uri
        """The database connected to: for an in-memory URL, a private temporary file."""
        self._temporary: Any = None
        if is_memory_sqlite(db_uri):
            self._temporary = _TemporaryDatabase()
            self.url = self._temporary.url
        self.flush_interval = float(self.config.get("flush_interval", 0.25))
        self.automigrate = _flag(self.config.get("automigrate"), True)
        self.busy_ms = int(float(self.config.get("busy_timeout", 60)) * 1000)
        self._sqlite_file = sqlite_file_of(self.url)
        self._engine: Engine | None = None
        self._direct: DirectSqlite | None = None
        self._loaded = False
        self._value_store: ValueStore | None = None
        self._session: Any = None  # redun.backends.orm.RedunSession, made on first use
        self._lock = threading.RLock()
        # Hashes known to be committed (lets the recorder skip re-pickling values).
        self.written_values: set[str] = set()
        self.written_tasks: set[str] = set()
        self._trees = CallTrees(self.query_in)  # call trees read (they never change)
        # Verdicts on call trees (redun_tree_check rows) for the recorder's next batch.
        self._tree_check_rows: deque[tuple[str, str, str, str]] = deque()

    def __repr__(self) -> str:
        return f"DbBackend({mask_uri(self.db_uri)!r})"

    # -- connection ------------------------------------------------------
    @property
    def engine(self) -> Engine:
        """A SQLAlchemy engine (created on first use; SQLite's hot paths do without)."""
        self.load()
        with self._lock:
            if self._engine is None:
                from redun.backends.engine import create_engine

                self._engine = create_engine(self.url, config=self.config)
            return self._engine

    @property
    def dialect(self) -> str:
        if self._sqlite_file is not None:
            return "sqlite"
        return self.engine.dialect.name

    @property
    def value_store(self) -> ValueStore:
        if self._value_store is None:
            self._value_store = value_store_from_config(self.config, self._sqlite_file)
        return self._value_store

    @property
    def session(self) -> Any:
        """A SQLAlchemy session over the provenance models (:mod:`redun.backends.orm`),
        as redun's ``backend.session``; made on first use (it imports SQLAlchemy)."""
        with self._lock:
            if self._session is None:
                from redun.backends.orm import RedunSession

                self._session = RedunSession(self)
            return self._session

    def sqlite_file(self) -> str | None:
        """The database file of a plain ``sqlite:///path`` URL (None otherwise)."""
        return self._sqlite_file

    def load(self, migrate: bool | None = None) -> None:
        """Connect, and create or migrate the schema (``migrate`` overrides ``automigrate``).

        Raises:
            BackendError: the database cannot be reached, or its schema cannot be used
                (the message names the URL, password masked, and what to do).
        """
        with self._lock:
            if self._loaded:
                return
            path = self._sqlite_file
            direct = self._open_sqlite_directly(path) if path is not None else None
            if direct is not None:
                # The common cases, an existing current file or a new one: no SQLAlchemy.
                self._direct = direct
                self._loaded = True
                return
            from redun.backends.engine import create_engine
            from redun.backends.migrate import ensure_schema

            engine = create_engine(self.url, config=self.config)
            automigrate = self.automigrate if migrate is None else migrate
            try:
                ensure_schema(engine, self.url, automigrate=automigrate)
            except BaseException:
                engine.dispose()
                raise
            self._engine = engine
            if path is not None:
                self._direct = DirectSqlite(path, self.busy_ms)
            self._loaded = True

    def _open_sqlite_directly(self, path: str) -> DirectSqlite | None:
        """The file opened without SQLAlchemy, if it is (or is now made) at the current
        schema; None: the migration engine decides."""
        direct = DirectSqlite(path, self.busy_ms)
        revision = direct.revision()
        if revision == HEAD_REVISION:
            return direct
        direct.close()
        if revision is not None:
            return None  # older or newer: migrate.ensure_schema decides
        if os.path.isdir(path):
            return None  # let the engine report it
        if is_original_redun_file(path):
            raise BackendError(original_redun_message(f"database {path}"))
        try:
            created = create_fresh(path, self.busy_ms)
        except (sqlite3.Error, OSError):
            return None  # the SQLAlchemy road reports the error with the URL
        return DirectSqlite(path, self.busy_ms) if created == HEAD_REVISION else None

    def psycopg2_params(self) -> dict[str, Any] | None:
        """psycopg2 connection arguments for a PostgreSQL URL (None for other databases)."""
        if self._sqlite_file is not None:
            return None
        url = self.engine.url
        if url.get_backend_name() != "postgresql" or url.get_driver_name() != "psycopg2":
            return None
        params: dict[str, Any] = url.translate_connect_args(username="user", database="dbname")
        for key, value in url.query.items():
            params[key] = value if isinstance(value, str) else value[-1]
        params.setdefault("connect_timeout", int(self.config.get("connect_timeout", 10)))
        params.setdefault("application_name", "redun-writer")
        return params

    def open_engine(self) -> Engine:
        """An engine without schema checks (``redun db info`` on any revision)."""
        if self._engine is not None:
            return self._engine
        from redun.backends.engine import create_engine

        return create_engine(self.url, config=self.config)

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
            if self._direct is not None:
                self._direct.close()
                self._direct = None
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None
            self._loaded = False
            self._trees.clear()
            if self._temporary is not None:
                # Closed, a private in-memory database is gone, as in SQLite.
                self._temporary.remove()
                self._temporary = _TemporaryDatabase()
                self.url = self._temporary.url
                self._sqlite_file = sqlite_file_of(self.url)
                self._value_store = None
                self.written_values.clear()
                self.written_tasks.clear()

    def query(self, sql: str, **params: Any) -> list[Any]:
        """Rows of ``sql`` (``:name`` parameters; list values expand for ``IN :name``).

        Raises:
            BackendError: the query failed (the message names the masked URL).
        """
        self.load()
        direct = self._direct
        if direct is not None:
            try:
                return direct.query(sql, params)
            except sqlite3.Error as exc:
                raise BackendError(f"query failed on {mask_uri(self.db_uri)}: {exc}") from exc
        import sqlalchemy as sa
        from sqlalchemy.exc import SQLAlchemyError

        from redun.backends.engine import backend_error, read_connection

        statement = sa.text(sql)
        for name, value in params.items():
            if isinstance(value, (list, tuple, set)):
                statement = statement.bindparams(sa.bindparam(name, expanding=True))
                params[name] = list(value)
        try:
            with read_connection(self.engine) as conn:
                return list(conn.execute(statement, params))
        except SQLAlchemyError as exc:
            raise backend_error("query failed on", self.db_uri, exc) from exc

    def query_in(self, sql: str, name: str, items: Sequence[Any], **params: Any) -> list[Any]:
        """:meth:`query` once per chunk of ``items`` (bound to ``:name``), rows joined."""
        rows: list[Any] = []
        unique = list(dict.fromkeys(items))
        for chunk in _chunks(unique):
            rows.extend(self.query(sql, **{name: list(chunk)}, **params))
        return rows

    def get_job(self, job_id: str) -> dict | None:
        """A recorded job's ``job_id``, ``parent_id`` and ``execution_id``, as redun's
        backend gives them, and its ``call_hash``; None if there is no such job."""
        rows = self.query(
            "SELECT id, parent_id, execution_id, call_hash FROM redun_job WHERE id = :id",
            id=job_id,
        )
        if not rows:
            return None
        job_id, parent_id, execution_id, call_hash = rows[0]
        return {
            "job_id": job_id,
            "parent_id": parent_id,
            "execution_id": execution_id,
            "call_hash": call_hash,
        }

    # -- cache reads -----------------------------------------------------------
    def has_calls(self, task_hash: str) -> bool:
        # A task row is written with the first call of that task version.
        return bool(self.query("SELECT 1 FROM redun_task WHERE hash = :h", h=task_hash))

    def find_calls(self, eval_hashes: list[str]) -> dict[str, CallRecord]:
        found: dict[str, CallRecord] = {}
        rows = self.query_in(
            "SELECT e.eval_hash, c.call_hash, c.task_name, c.task_hash, c.args_hash, "
            "c.result_hash, c.result_needs_check, c.expr_hash, c.cacheable, c.context_reads "
            "FROM redun_evaluation e JOIN redun_call_node c ON c.call_hash = e.call_hash "
            "WHERE e.eval_hash IN :hashes",
            "hashes",
            eval_hashes,
        )
        for (
            eval_hash,
            call_hash,
            task_name,
            task_hash,
            args_hash,
            result_hash,
            check,
            expr_hash,
            cacheable,
            context_reads,
        ) in rows:
            found[eval_hash] = call_record(
                call_hash,
                task_name,
                task_hash,
                args_hash,
                eval_hash,
                result_hash,
                check,
                expr_hash,
                cacheable,
                context_reads,
            )
        return found

    def get_call_tree(self, call_hashes: list[str]) -> dict[str, CallRecord]:
        return self._trees.tree(call_hashes)

    def checked_arguments(self, root_call_hashes: list[str]) -> dict[str, list[str]]:
        return self._trees.checked_arguments(root_call_hashes)

    def tree_checks(self, call_hashes: list[str]) -> dict[str, TreeCheck]:
        found: dict[str, TreeCheck] = {}
        rows = self.query_in(
            "SELECT call_hash, tasks, shallow, checks FROM redun_tree_check "
            "WHERE call_hash IN :hashes",
            "hashes",
            call_hashes,
        )
        for call_hash, tasks, shallow, checks in rows:
            try:
                found[call_hash] = TreeCheck(
                    [(name, task_hash) for name, task_hash in json.loads(tasks)],
                    list(json.loads(shallow)),
                    list(json.loads(checks)),
                )
            except (TypeError, ValueError):
                continue  # unreadable: the tree is walked
        return found

    def remember_tree_checks(self, checks: dict[str, TreeCheck]) -> None:
        rows = self._tree_check_rows
        if len(rows) > _MAX_PENDING_TREE_CHECKS:
            return  # nobody records them (no recorder): a later run walks instead
        for call_hash, check in checks.items():
            rows.append(
                (
                    call_hash,
                    json.dumps(sorted(check.tasks), separators=(",", ":")),
                    json.dumps(sorted(check.shallow), separators=(",", ":")),
                    json.dumps(sorted(check.checks), separators=(",", ":")),
                )
            )

    def take_tree_checks(self) -> list[tuple[str, str, str, str]]:
        """The verdicts remembered since the last call, as ``redun_tree_check`` rows."""
        rows = self._tree_check_rows
        taken: list[tuple[str, str, str, str]] = []
        while True:
            try:
                taken.append(rows.popleft())
            except IndexError:
                return taken

    def files_in_calls(self, call_hashes: list[str]) -> set[str]:
        # A tree not read in this process (its root was valid by a stored verdict) need
        # not be: a verdict that stopped nowhere lists every value in it that can hold
        # files (those that need a check), which is all the files query looks at.
        roots = list(call_hashes)
        values: list[str] = []
        unread = [h for h in roots if h not in self._trees.nodes]
        if unread:
            whole = {h: c for h, c in self.tree_checks(unread).items() if not c.shallow}
            for check in whole.values():
                values.extend(check.checks)
            roots = [h for h in roots if h not in whole]
        # an object store's directory is a prefix: "gs://b/d/", as a live Dir is reported
        return {
            path + "/" if kind == "dir" and "://" in path else path
            for path, kind in self._trees.files(roots, values)
        }

    def get_values(self, value_hashes: list[str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        rows = self.query_in(
            "SELECT hash, location, data FROM redun_value WHERE hash IN :hashes",
            "hashes",
            value_hashes,
        )
        for value_hash, location, data in rows:
            try:
                if data is not None:
                    values[value_hash] = pickle.loads(data)
                elif location == "store":
                    values[value_hash] = self.value_store.load(value_hash)
            except Exception:
                continue  # unreadable (class gone, store file missing): a miss
        return values

    def value_bytes(self, value_hash: str) -> bytes | None:
        """A value's pickle, from the database or the value store (None if not kept)."""
        rows = self.query("SELECT location, data FROM redun_value WHERE hash = :h", h=value_hash)
        if not rows:
            return None
        location, data = rows[0]
        if data is not None:
            return bytes(data)
        if location == "store":
            try:
                return self.value_store.read_bytes(value_hash)
            except Exception:
                return None
        return None

    def values_needing_check(self, value_hashes: list[str]) -> set[str]:
        rows = self.query_in(
            "SELECT hash FROM redun_value WHERE needs_check AND hash IN :hashes",
            "hashes",
            value_hashes,
        )
        return {row[0] for row in rows}

    # -- writes ------------------------------------------------------------------
    def recorder(self, scheduler: Any) -> Any:
        """A :class:`~redun.backends.recorder.DbRecorder` for a run (None for a dry run:
        what would run is not provenance)."""
        from redun.backends.recorder import DbRecorder

        self.load()
        if getattr(scheduler, "_dryrun", False):
            return None
        return DbRecorder(self, scheduler)

    def write(self, batch: bulk.Batch, process: Any = None) -> None:
        """Commit ``batch`` in one transaction, retrying when the database is busy.

        Args:
            batch: the rows.
            process: a :class:`~redun.backends.writer_process.WriterProcess` to commit
                through, instead of this process's connection.

        Raises:
            BackendError: the write kept failing (the message names the masked URL).
            WriterProcessError: ``process`` failed (the caller may retry without it).
        """
        if batch.is_empty():
            return
        self.load()
        if process is not None:
            if process.kind == "sqlite":
                process.execute(bulk.sqlite_statements(batch))
            else:
                process.execute(bulk.postgres_plan(batch))
        elif self._direct is not None:
            try:
                self._direct.execute(bulk.sqlite_statements(batch))
            except sqlite3.Error as exc:
                raise BackendError(f"writing to {mask_uri(self.db_uri)} failed: {exc}") from exc
        else:
            self._write_sqlalchemy(batch)
        self.mark_written(batch)

    def mark_written(self, batch: bulk.Batch) -> None:
        """Remember what ``batch`` committed (the recorder skips re-pickling it)."""
        self.written_values.update(batch.value_hashes())
        self.written_tasks.update(batch.task_hashes())

    def _write_sqlalchemy(self, batch: bulk.Batch) -> None:
        from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

        from redun.backends.engine import backend_error, write_transaction

        engine = self.engine
        delay = 0.05
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                with write_transaction(engine) as conn:
                    bulk.write_batch(conn, batch)
                return
            except (OperationalError, DBAPIError) as exc:
                transient = isinstance(exc, OperationalError) or exc.connection_invalidated
                if not transient or attempt == _WRITE_ATTEMPTS - 1:
                    raise backend_error("writing to", self.db_uri, exc) from exc
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
            except SQLAlchemyError as exc:
                raise backend_error("writing to", self.db_uri, exc) from exc

    def record_tags(self, entity_type: str, entity_id: str, tags: Any) -> None:
        """Record ``tags`` (pairs or a dict) on an execution, job, value or task now."""
        batch = bulk.Batch()
        for key, value in bulk.normalize_tags(tags):
            batch.add("redun_tag", (entity_type, entity_id, key, value))
        self.write(batch)

    # -- maintenance ---------------------------------------------------------------
    def clear_cache(self, task_names: Sequence[str]) -> tuple[int, int]:
        """Forget the cache entries of these tasks and of every call above them.

        Provenance stays (call nodes, jobs, values); only the eval-hash -> call
        entries go, so the next run of those calls executes again. Calls that
        contain a cleared call (its parents, their parents...) are cleared too,
        or they would answer from the cache without ever reaching it.

        Returns:
            (entries cleared for the tasks, entries cleared above them).
        """
        from redun.backends.queries import StoreReader

        own = [
            row[0]
            for row in self.query_in(
                "SELECT call_hash FROM redun_call_node WHERE task_name IN :names",
                "names",
                list(task_names),
            )
        ]
        own_set = set(own)
        above = [c for c in StoreReader(self).ancestor_calls(own) if c not in own_set]
        counts = []
        for calls in (own, above):
            before = self._count_evaluations(calls)
            batch = bulk.Batch()
            batch.deletes.extend(("redun_evaluation", "call_hash", call) for call in calls)
            self.write(batch)
            counts.append(before)
        return counts[0], counts[1]

    def _count_evaluations(self, calls: list[str]) -> int:
        rows = self.query_in(
            "SELECT COUNT(*) FROM redun_evaluation WHERE call_hash IN :calls", "calls", calls
        )
        return sum(int(row[0]) for row in rows)


def open_backend(db_uri: str, config: dict | None = None, *, must_exist: bool = False) -> DbBackend:
    """A loaded :class:`DbBackend`; ``must_exist`` refuses to create a SQLite file.

    Raises:
        BackendError: no database there (with ``must_exist``), or it cannot be opened.
    """
    backend = DbBackend(db_uri, config)
    if must_exist:
        path = backend.sqlite_file()
        if path is not None and not os.path.exists(path):
            raise BackendError(
                f"no redun database at {path}: run a workflow first, or point at one "
                "with --db URL or -c CONFIG_DIR"
            )
    backend.load()
    return backend


# redun's name for the SQL backend, for code that checks or builds one by that name.
RedunBackendDb = DbBackend

# redun's models (``from redun.backends.db import Execution, Job...``): SQLAlchemy
# classes in redun.backends.orm, imported on first use so a run does not load them.
ORM_NAMES = frozenset(
    (
        "Argument",
        "Base",
        "CallEdge",
        "CallNode",
        "Evaluation",
        "Execution",
        "File",
        "Job",
        "JobLog",
        "RedunSession",
        "Subvalue",
        "Tag",
        "Task",
        "Value",
    )
)


def __getattr__(name: str) -> Any:
    if name in ORM_NAMES:
        from redun.backends import orm

        return getattr(orm, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
