"""Bulk, idempotent writes: rows as tuples, one multi-row statement per table.

Rows are plain tuples in the column order of :mod:`redun.backends.schema`
(primary-key columns first). A :class:`Batch` keeps one row per primary key
(the last one given wins, which is what job rows want: their newest state).
:func:`write_batch` inserts each table's rows with ``ON CONFLICT DO NOTHING``
(``DO UPDATE`` for jobs and cache entries) through the driver directly:
``executemany`` on SQLite, ``execute_values`` on psycopg2. Rows are sorted
by key, so concurrent writers lock index entries in the same order and do not
deadlock on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

# Column order of every table (primary-key columns first) and the primary-key size.
# Literal, so recording to SQLite never imports SQLAlchemy; a test checks these
# against redun.backends.schema.
COLUMNS: dict[str, tuple[str, ...]] = {
    "redun_argument": ("call_hash", "name", "value_hash"),
    "redun_call_edge": ("parent_call_hash", "position", "child_call_hash"),
    "redun_call_node": (
        "call_hash", "task_hash", "task_name", "args_hash", "eval_hash", "result_hash",
        "result_needs_check", "arg_hashes", "time", "expr_hash", "cacheable", "context_reads",
    ),
    "redun_evaluation": ("eval_hash", "call_hash", "time"),
    "redun_execution": (
        "id", "root_job_id", "argv", "expr", "start_time", "end_time", "status", "error",
        "user", "host", "pid", "cwd",
    ),
    "redun_file": ("value_hash", "path", "file_hash", "size", "kind"),
    "redun_job": (
        "id", "execution_id", "parent_id", "task_name", "task_hash", "eval_hash", "call_hash",
        "arg_hashes", "state", "cached", "reason", "executor", "start_time", "end_time",
        "error", "traceback",
    ),
    "redun_job_log": ("job_id", "position", "stream", "text"),
    "redun_subvalue": ("parent_hash", "child_hash"),
    "redun_tag": ("entity_type", "entity_id", "key", "value"),
    "redun_task": ("hash", "fullname", "namespace", "name", "version", "source", "code_parts"),
    "redun_tree_check": ("call_hash", "tasks", "shallow", "checks"),
    "redun_value": (
        "hash", "type_name", "format", "location", "data", "size", "needs_check", "preview",
    ),
}  # fmt: skip
PK_SIZE: dict[str, int] = {
    "redun_argument": 2,
    "redun_call_edge": 2,
    "redun_call_node": 1,
    "redun_evaluation": 1,
    "redun_execution": 1,
    "redun_file": 1,
    "redun_job": 1,
    "redun_job_log": 2,
    "redun_subvalue": 2,
    "redun_tag": 4,
    "redun_task": 1,
    "redun_tree_check": 1,
    "redun_value": 1,
}
_PK_SIZE = PK_SIZE
# Tables whose rows replace older ones with the same key (the rest keep the first).
# (A tree check: the newest verdict on a call tree replaces an older one.)
UPSERT = frozenset({"redun_job", "redun_evaluation", "redun_tree_check"})
# Tables whose rows keep the first write but fill in one column left NULL by an older
# schema: a call recorded before context reads were (migration 0006) gets them from its
# next recording.
FILL_IF_NULL = {"redun_call_node": "context_reads"}
_ONE_ROW_PER_KEY = UPSERT | FILL_IF_NULL.keys()  # an upsert may touch a row once
# A job row in one of these states is final: a late write (a killed runner's last
# batch, committed after the daemon closed the run's jobs) must not reopen it.
FINAL_JOB_STATES = ("cached", "done", "failed", "cancelled")
_JOB_IS_OPEN = f"redun_job.state NOT IN ({', '.join(repr(s) for s in FINAL_JOB_STATES)})"
WRITE_ORDER = (
    "redun_execution",
    "redun_task",
    "redun_value",
    "redun_subvalue",
    "redun_file",
    "redun_call_node",
    "redun_call_edge",
    "redun_argument",
    "redun_evaluation",
    "redun_job",
    "redun_job_log",
    "redun_tag",
    "redun_tree_check",
)


class Batch:
    """Rows to commit together.

    ``rows`` maps a table to its row tuples. Writers add a row once per key:
    :meth:`add` deduplicates by primary key; :meth:`append` trusts the caller
    (the recorder appends a call's edges and arguments only with its call node,
    which it adds once).
    """

    __slots__ = ("rows", "keys", "execution_updates", "root_jobs", "deletes")

    def __init__(self) -> None:
        self.rows: dict[str, list[tuple]] = {name: [] for name in WRITE_ORDER}
        self.keys: dict[str, set[Any]] = {}
        self.execution_updates: list[dict[str, Any]] = []
        self.root_jobs: dict[str, str] = {}
        # (table, column, value): rows to delete (cache entries), after the inserts.
        self.deletes: list[tuple[str, str, Any]] = []

    def add(self, table: str, row: tuple) -> None:
        """Add ``row`` unless a row with its primary key was added (first one wins)."""
        size = _PK_SIZE[table]
        key = row[0] if size == 1 else row[:size]
        keys = self.keys.get(table)
        if keys is None:
            keys = self.keys[table] = set()
        if key not in keys:
            keys.add(key)
            self.rows[table].append(row)

    def key_set(self, table: str) -> set[Any]:
        """The primary keys added to ``table`` so far (callers may add to it)."""
        keys = self.keys.get(table)
        if keys is None:
            keys = self.keys[table] = set()
        return keys

    def append(self, table: str, row: tuple) -> None:
        self.rows[table].append(row)

    def has(self, table: str, key: Any) -> bool:
        keys = self.keys.get(table)
        return keys is not None and key in keys

    def is_empty(self) -> bool:
        return not (
            any(self.rows.values()) or self.execution_updates or self.root_jobs or self.deletes
        )

    def value_hashes(self) -> Iterable[str]:
        return [row[0] for row in self.rows["redun_value"]]

    def task_hashes(self) -> Iterable[str]:
        return [row[0] for row in self.rows["redun_task"]]

    def count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


def normalize_tags(tags: Any) -> Iterator[tuple[str, str]]:
    """``(key, JSON value)`` pairs from a dict or an iterable of pairs."""
    items = tags.items() if isinstance(tags, dict) else tags
    for key, value in items:
        try:
            text = json.dumps(value, sort_keys=True)
        except TypeError:
            text = json.dumps(repr(value))
        yield str(key), text


def write_batch(conn: Connection, batch: Batch) -> None:
    """Write ``batch`` on a SQLAlchemy ``conn`` (inside the caller's transaction)."""
    from redun.backends import schema

    dialect = conn.dialect.name
    driver = conn.dialect.driver
    if dialect == "sqlite":
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            for sql, rows in sqlite_statements(batch):
                cursor.executemany(sql, rows)
        finally:
            cursor.close()
        return
    if dialect == "postgresql" and driver == "psycopg2":
        from redun.backends.writer_process import execute_postgres_plan

        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            execute_postgres_plan(cursor, postgres_plan(batch))
        finally:
            cursor.close()
        return
    for table in WRITE_ORDER:
        given = batch.rows.get(table)
        if not given:
            continue
        rows = sorted(given, key=_KEY_GETTERS[table])
        if table in _ONE_ROW_PER_KEY:
            rows = _last_per_key(table, rows)
        if dialect == "postgresql":
            _postgres_insert(conn, table, rows, driver)
        else:
            _generic_insert(conn, table, rows)
    for update in batch.execution_updates:
        changes = {k: v for k, v in update.items() if k != "id"}
        conn.execute(
            schema.execution.update().where(schema.execution.c.id == update["id"]).values(**changes)
        )
    for execution_id, job_id in batch.root_jobs.items():
        conn.execute(
            schema.execution.update()
            .where(schema.execution.c.id == execution_id)
            .where(schema.execution.c.root_job_id.is_(None))
            .values(root_job_id=job_id)
        )
    for (table, column), doomed in _grouped_deletes(batch).items():
        target = schema.TABLES[table]
        for start in range(0, len(doomed), 900):
            conn.execute(target.delete().where(target.c[column].in_(doomed[start : start + 900])))


def _key_getter(table: str) -> Any:
    size = _PK_SIZE[table]
    return (lambda row: row[0]) if size == 1 else (lambda row: row[:size])


_KEY_GETTERS = {name: _key_getter(name) for name in COLUMNS}


def _last_per_key(table: str, rows: list[tuple]) -> list[tuple]:
    # PostgreSQL refuses to upsert one key twice in a statement; the newest row wins.
    key = _KEY_GETTERS[table]
    return list({key(row): row for row in rows}.values())


def _conflict_clause(table: str) -> str:
    columns = COLUMNS[table]
    size = _PK_SIZE[table]
    key = ", ".join(_quote(c) for c in columns[:size])
    fill = FILL_IF_NULL.get(table)
    if fill is not None:
        column = _quote(fill)
        return (
            f"ON CONFLICT ({key}) DO UPDATE SET {column} = excluded.{column} "
            f"WHERE {table}.{column} IS NULL"
        )
    if table not in UPSERT:
        return "ON CONFLICT DO NOTHING"
    sets = ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in columns[size:])
    guard = f" WHERE {_JOB_IS_OPEN}" if table == "redun_job" else ""
    return f"ON CONFLICT ({key}) DO UPDATE SET {sets}{guard}"


def _quote(name: str) -> str:
    # "user" and "key" are reserved words somewhere; quote every column.
    return f'"{name}"'


_SQL_CACHE: dict[tuple[str, str], str] = {}


def _statement(table: str, placeholders: str, dialect: str) -> str:
    sql = _SQL_CACHE.get((table, dialect))
    if sql is None:
        columns = ", ".join(_quote(c) for c in COLUMNS[table])
        sql = f"INSERT INTO {table} ({columns}) VALUES {placeholders} {_conflict_clause(table)}"
        _SQL_CACHE[(table, dialect)] = sql
    return sql


def sqlite_statements(batch: Batch) -> list[tuple[str, list]]:
    """The batch as ``(sql, rows)`` pairs for SQLite's ``executemany`` (qmark style).

    SQLite has one writer at a time (the database lock), so rows need no ordering.
    """
    statements: list[tuple[str, list]] = []
    for table in WRITE_ORDER:
        rows = batch.rows.get(table)
        if rows:
            marks = "(" + ", ".join("?" * len(COLUMNS[table])) + ")"
            statements.append((_statement(table, marks, "sqlite"), rows))
    for update in batch.execution_updates:
        names = [k for k in update if k != "id"]
        sets = ", ".join(f"{_quote(name)} = ?" for name in names)
        statements.append(
            (
                f"UPDATE redun_execution SET {sets} WHERE id = ?",
                [tuple(update[name] for name in names) + (update["id"],)],
            )
        )
    if batch.root_jobs:
        statements.append(
            (
                "UPDATE redun_execution SET root_job_id = ? WHERE id = ? AND root_job_id IS NULL",
                [(job_id, execution_id) for execution_id, job_id in batch.root_jobs.items()],
            )
        )
    for (table, column), values in _grouped_deletes(batch).items():
        statements.append(
            (f"DELETE FROM {table} WHERE {_quote(column)} = ?", [(value,) for value in values])
        )
    return statements


def postgres_plan(batch: Batch) -> list[tuple]:
    """The batch as a plan for :func:`~redun.backends.writer_process.execute_postgres_plan`."""
    plan: list[tuple] = []
    for table in WRITE_ORDER:
        rows = batch.rows.get(table)
        if not rows:
            continue
        if table in _ONE_ROW_PER_KEY:
            rows = _last_per_key(table, rows)
        columns = COLUMNS[table]
        plan.append(
            ("copy", table, columns, columns[: PK_SIZE[table]], _conflict_clause(table), rows)
        )
    for update in batch.execution_updates:
        names = [k for k in update if k != "id"]
        sets = ", ".join(f"{_quote(name)} = %s" for name in names)
        plan.append(
            (
                "sql",
                f"UPDATE redun_execution SET {sets} WHERE id = %s",
                [tuple(update[name] for name in names) + (update["id"],)],
            )
        )
    if batch.root_jobs:
        plan.append(
            (
                "sql",
                "UPDATE redun_execution SET root_job_id = %s WHERE id = %s AND root_job_id IS NULL",
                [(job_id, execution_id) for execution_id, job_id in batch.root_jobs.items()],
            )
        )
    for (table, column), values in _grouped_deletes(batch).items():
        plan.append(
            ("sql", f"DELETE FROM {table} WHERE {_quote(column)} = %s", [(v,) for v in values])
        )
    return plan


def _grouped_deletes(batch: Batch) -> dict[tuple[str, str], list[Any]]:
    grouped: dict[tuple[str, str], list[Any]] = {}
    for table, column, value in batch.deletes:
        if table not in COLUMNS or column not in COLUMNS[table]:
            raise ValueError(f"cannot delete from {table}.{column}")
        grouped.setdefault((table, column), []).append(value)
    return grouped


def _postgres_insert(conn: Connection, table: str, rows: list[tuple], driver: str) -> None:
    dbapi = conn.connection.dbapi_connection
    cursor = dbapi.cursor()  # type: ignore[union-attr]
    try:
        if driver == "psycopg2":
            from psycopg2.extras import execute_values

            execute_values(cursor, _statement(table, "%s", "psycopg2"), rows, page_size=1000)
        else:
            marks = "(" + ", ".join(["%s"] * len(COLUMNS[table])) + ")"
            cursor.executemany(_statement(table, marks, driver), rows)
    finally:
        cursor.close()


def _generic_insert(conn: Connection, table_name: str, rows: list[tuple]) -> None:
    # Other databases: one row at a time, a savepoint each (slow, but correct).
    import sqlalchemy as sa
    from sqlalchemy.exc import IntegrityError

    from redun.backends import schema

    table = schema.TABLES[table_name]
    columns = COLUMNS[table_name]
    size = _PK_SIZE[table_name]
    for row in rows:
        values = dict(zip(columns, row))
        try:
            with conn.begin_nested():
                conn.execute(table.insert().values(**values))
        except IntegrityError:
            if table_name in UPSERT:
                condition = sa.and_(*(table.c[name] == values[name] for name in columns[:size]))
                if table_name == "redun_job":
                    condition = sa.and_(condition, table.c.state.not_in(FINAL_JOB_STATES))
                conn.execute(table.update().where(condition).values(**values))
            elif table_name in FILL_IF_NULL:
                fill = FILL_IF_NULL[table_name]
                condition = sa.and_(*(table.c[name] == values[name] for name in columns[:size]))
                conn.execute(
                    table.update()
                    .where(condition, table.c[fill].is_(None))
                    .values({fill: values[fill]})
                )
