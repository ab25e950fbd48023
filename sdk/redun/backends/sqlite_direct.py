"""SQLite through the standard library's driver, for the hot paths.

Importing SQLAlchemy costs about 150 ms, a third of a 10,000-job run's
overhead. So once a SQLite file is known to be at the current schema (one
query), cache lookups and ``redun log`` queries go through :mod:`sqlite3`
directly, with the same SQL text (``:name`` parameters; list values expand
for ``IN :name``). SQLAlchemy and alembic load only to create or migrate the
schema.
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Sequence
from typing import Any

from redun.backends.revisions import VERSION_TABLE, is_original_redun

_URL = re.compile(r"^sqlite(\+\w+)?://(?P<rest>.*)$")
_PARAM = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)\b")


def sqlite_file_of(uri: str) -> str | None:
    """The absolute file path of a plain ``sqlite:///path`` URL, else None.

    None also for in-memory databases and URLs with query options (those go
    through SQLAlchemy, which understands them).
    """
    match = _URL.match(uri.strip())
    if match is None:
        return None
    rest = match.group("rest")
    if "?" in rest or not rest.startswith("/"):
        return None
    path = rest[1:]
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return os.path.abspath(os.path.expanduser(path))


def expand(sql: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Rewrite ``IN :name`` for list values into ``IN (:name_0, :name_1, ...)``."""
    lists = {name for name, value in params.items() if isinstance(value, (list, tuple, set))}
    if not lists:
        return sql, params
    out = {name: value for name, value in params.items() if name not in lists}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in lists:
            return match.group(0)
        values = list(params[name])
        names = [f"{name}__{index}" for index in range(len(values))]
        out.update(zip(names, values))
        return "(" + ", ".join(f":{n}" for n in names) + ")"

    return _PARAM.sub(replace, sql), out


class DirectSqlite:
    """One connection per thread to a SQLite file, autocommitting reads.

    Args:
        path: the database file (it must exist and be at the current schema).
        busy_ms: how long a statement waits for a lock.
    """

    def __init__(self, path: str, busy_ms: int) -> None:
        self.path = path
        self.busy_ms = busy_ms
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path,
                timeout=self.busy_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout={self.busy_ms}")
            # As the writer process and the SQLAlchemy engine commit: in WAL mode a
            # commit then survives any process being killed (a power cut may lose the
            # last ones, never corrupt the file), without an fsync of the WAL per commit
            # (FULL, the default, made a cached re-run's in-thread commits 2-3x slower).
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def revision(self) -> str | None:
        """The schema revision stamped in the file, or None (no file, no table, error).

        Asked on the connection the store then goes on using: a run opens one, not two.
        """
        if not os.path.exists(self.path):
            return None
        try:
            row = self.connection().execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row else None

    def query(self, sql: str, params: dict[str, Any]) -> list[tuple]:
        """Rows of ``sql`` (raises :class:`sqlite3.Error`)."""
        sql, params = expand(sql, params)
        return self.connection().execute(sql, params).fetchall()

    def execute(self, statements: Sequence[tuple[str, list]]) -> None:
        """Run ``(sql, rows)`` pairs with ``executemany`` in one write transaction."""
        from redun.backends.writer_process import execute_sqlite_batch

        execute_sqlite_batch(self.connection(), list(statements))

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()


def create_private(path: str) -> None:
    """Create the database file (and its directory) readable by its owner only, if missing.

    Values and provenance are the owner's: the file is made 0600 before SQLite
    opens it, and SQLite gives its -wal and -shm files the same mode.
    """
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def is_original_redun_file(path: str) -> bool:
    """True if the SQLite file at ``path`` holds the original insitro/redun's tables.

    Opened read-only: recognising such a file must not change a byte of it (not even
    its journal mode).
    """
    if not os.path.isfile(path):
        return False
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return is_original_redun(row[0] for row in rows)


def create_fresh(path: str, busy_ms: int) -> str | None:
    """Create the newest schema in a new or empty SQLite file, without SQLAlchemy.

    Runs under ``BEGIN IMMEDIATE``: processes starting together on a fresh
    file queue up; the first creates, the others find the schema there.

    Returns:
        The file's revision afterwards, or None if it holds redun tables with no
        revision (the caller takes the SQLAlchemy road, which knows older layouts).

    Raises:
        sqlite3.Error: the file cannot be created or written.
    """
    from redun.backends.revisions import HEAD_REVISION
    from redun.backends.sqlite_schema import SQLITE_DDL

    create_private(path)
    conn = sqlite3.connect(path, timeout=busy_ms / 1000, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout={busy_ms}")
        # Before the first table exists (else it is ignored): 16 KiB pages make the
        # hash-keyed B-trees shallower; recording a fan-out gets ~20% cheaper.
        conn.execute("PRAGMA page_size=16384")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            tables = {
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            if VERSION_TABLE in tables:
                row = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchone()
                conn.execute("ROLLBACK")
                return row[0] if row else None
            if is_original_redun(tables) or any(name.startswith("redun_") for name in tables):
                conn.execute("ROLLBACK")
                return None
            for statement in SQLITE_DDL:
                conn.execute(statement)
            conn.execute(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (?)", (HEAD_REVISION,))
            conn.execute("COMMIT")
            return HEAD_REVISION
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
