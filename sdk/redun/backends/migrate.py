"""Schema revisions: create, check and migrate the database (alembic underneath).

States a database can be in:

* **empty** (no redun tables): the newest schema is created from
  :mod:`redun.backends.schema` and stamped :data:`~schema.HEAD_REVISION`, with
  no alembic import on this path;
* **legacy**: made by redun before alembic (a ``redun_schema`` table): it is
  revision ``0001``;
* a **known revision** older than head: migrated when ``automigrate`` allows
  (the default), else refused with the command that migrates it;
* an **unknown revision**: written by a newer redun, refused.

Creation and migration run in one transaction that first takes a lock
(``BEGIN IMMEDIATE`` on SQLite, ``pg_advisory_xact_lock`` on PostgreSQL) and
then looks again: processes that start together on a fresh database queue up
behind the first, which creates the schema; the others find it done.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from redun.backends import schema
from redun.backends.engine import backend_error, mask_uri, read_connection, write_transaction
from redun.backends.revisions import is_original_redun, original_redun_message
from redun.errors import BackendError

# pg_advisory_xact_lock key: "redun" in ASCII, so it is recognisable in pg_locks.
_PG_LOCK_KEY = 0x726564756E
_LEGACY_TABLE = "redun_schema"
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")

_version_metadata = sa.MetaData()
version_table = sa.Table(
    schema.VERSION_TABLE,
    _version_metadata,
    # The same shape alembic gives its version table.
    sa.Column("version_num", sa.String(32), nullable=False),
    sa.PrimaryKeyConstraint("version_num", name=f"{schema.VERSION_TABLE}_pkc"),
)


class SchemaError(BackendError):
    """The database's schema is not one this redun can use (too old or too new)."""


@dataclass
class SchemaState:
    """Where a database stands: ``revision`` is None when it holds no redun tables."""

    revision: str | None
    tables: list[str] = field(default_factory=list)
    # Made by insitro/redun (the original): recognised, never written to.
    original: bool = False

    @property
    def is_empty(self) -> bool:
        return self.revision is None

    @property
    def is_current(self) -> bool:
        return self.revision == schema.HEAD_REVISION

    @property
    def is_newer(self) -> bool:
        return self.revision is not None and self.revision not in schema.REVISIONS

    @property
    def is_older(self) -> bool:
        return self.revision in schema.REVISIONS and not self.is_current


def read_state(conn: Connection) -> SchemaState:
    """Inspect ``conn``'s database (never raises for a missing table)."""
    tables = sorted(sa.inspect(conn).get_table_names())
    if is_original_redun(tables):
        return SchemaState(None, tables, original=True)
    redun_tables = [name for name in tables if name.startswith("redun_")]
    if schema.VERSION_TABLE in tables:
        rows = [row[0] for row in conn.execute(sa.select(version_table.c.version_num))]
        if rows:
            # Several heads never happen in our linear history; take the newest known.
            known = [r for r in rows if r in schema.REVISIONS]
            unknown = [r for r in rows if r not in schema.REVISIONS]
            revision = unknown[0] if unknown else max(known, key=schema.REVISIONS.index)
            return SchemaState(revision, redun_tables)
    if _LEGACY_TABLE in tables:
        return SchemaState("0001", redun_tables)
    if redun_tables and redun_tables != [schema.VERSION_TABLE]:
        # Tables but no revision: an interrupted creation by a version without the lock.
        return SchemaState("0001" if "redun_call_node" in tables else None, redun_tables)
    return SchemaState(None, redun_tables)


def fast_revision(engine: Engine) -> str | None:
    """The stamped revision by one cheap query, or None if that fails for any reason."""
    try:
        with read_connection(engine) as conn:
            row = conn.execute(sa.select(version_table.c.version_num)).first()
            return row[0] if row else None
    except SQLAlchemyError:
        return None


def ensure_schema(engine: Engine, uri: str, *, automigrate: bool = True) -> SchemaState:
    """Make the database usable by this redun, creating or migrating it if allowed.

    Raises:
        SchemaError: the schema is newer than this redun, or older and
            ``automigrate`` is off.
        BackendError: the database cannot be reached or written.
    """
    revision = fast_revision(engine)
    if revision == schema.HEAD_REVISION:
        return SchemaState(revision)
    if revision is not None and revision not in schema.REVISIONS:
        raise _newer_error(uri, revision)
    try:
        with write_transaction(engine) as conn:
            _lock(conn)
            state = read_state(conn)
            if state.original:
                raise SchemaError(original_redun_message(f"database {mask_uri(uri)}"))
            if state.is_current:
                return state
            if state.is_newer:
                raise _newer_error(uri, state.revision)
            if state.is_empty:
                create_schema(conn)
                return SchemaState(schema.HEAD_REVISION, list(schema.TABLES))
            if not automigrate:
                raise SchemaError(
                    f"database {mask_uri(uri)} has schema revision {state.revision}; this "
                    f"redun needs {schema.HEAD_REVISION}. Run 'redun db upgrade' (automatic "
                    "migration is off: [backend] automigrate = false)"
                )
            run_alembic(conn, "upgrade", schema.HEAD_REVISION, stamp_first=state.revision)
            return SchemaState(schema.HEAD_REVISION, state.tables)
    except BackendError:
        raise
    except SQLAlchemyError as exc:
        raise backend_error("cannot prepare database", uri, exc) from exc


def upgrade(engine: Engine, uri: str, revision: str = "head") -> tuple[str | None, str]:
    """Migrate to ``revision`` (default: the newest); returns (before, after).

    Raises:
        SchemaError: the database is newer than this redun, already past
            ``revision``, or ``revision`` is unknown.
    """
    target = schema.HEAD_REVISION if revision == "head" else revision
    return _migrate(engine, uri, target, _upgrade_to)


def downgrade(engine: Engine, uri: str, revision: str) -> tuple[str | None, str]:
    """Migrate back to ``revision`` (older than the database's); returns (before, after).

    Schemas go back as far as the oldest revision whose successors can undo
    themselves (``0002``: the first two made the tables everything rests on).
    A later ``redun run`` migrates forward again, as for any older database.

    Raises:
        SchemaError: ``revision`` is unknown, not older, or not reachable.
    """
    return _migrate(engine, uri, revision, _downgrade_to)


def _migrate(
    engine: Engine, uri: str, target: str, step: Callable[[Connection, SchemaState, str, str], None]
) -> tuple[str | None, str]:
    """Take the migration lock, refuse what no migration may touch, then ``step``."""
    if target not in schema.REVISIONS:
        raise SchemaError(
            f"unknown schema revision {target!r}; known: {', '.join(schema.REVISIONS)}"
        )
    try:
        with write_transaction(engine) as conn:
            _lock(conn)
            state = read_state(conn)
            if state.original:
                raise SchemaError(original_redun_message(f"database {mask_uri(uri)}"))
            if state.is_newer:
                raise _newer_error(uri, state.revision)
            if state.revision != target:
                step(conn, state, target, uri)
            return state.revision, target
    except BackendError:
        raise
    except SQLAlchemyError as exc:
        raise backend_error("cannot migrate database", uri, exc) from exc


def _upgrade_to(conn: Connection, state: SchemaState, target: str, uri: str) -> None:
    if state.is_empty and target == schema.HEAD_REVISION:
        create_schema(conn)
        return
    if state.revision is not None and schema.REVISIONS.index(
        state.revision
    ) > schema.REVISIONS.index(target):
        raise SchemaError(
            f"database {mask_uri(uri)} is at revision {state.revision}, past "
            f"{target}: use 'redun db downgrade {target}'"
        )
    run_alembic(conn, "upgrade", target, stamp_first=state.revision)


def _downgrade_to(conn: Connection, state: SchemaState, target: str, uri: str) -> None:
    if state.revision is None:
        raise SchemaError(f"database {mask_uri(uri)} has no redun schema to downgrade")
    if schema.REVISIONS.index(state.revision) < schema.REVISIONS.index(target):
        raise SchemaError(
            f"database {mask_uri(uri)} is at revision {state.revision}, older than "
            f"{target}: use 'redun db upgrade {target}'"
        )
    try:
        run_alembic(conn, "downgrade", target, stamp_first=state.revision)
    except NotImplementedError:
        raise SchemaError(
            f"revision {target} is older than a schema can be downgraded to "
            f"(the oldest: {schema.REVISIONS[1]})"
        ) from None


def revision_notes() -> list[tuple[str, str]]:
    """Each schema revision, oldest first, with the first line of its migration's docstring."""
    import ast

    versions = os.path.join(MIGRATIONS_DIR, "versions")
    notes = {}
    for name in sorted(os.listdir(versions)):
        if name.startswith("r") and name.endswith(".py"):
            with open(os.path.join(versions, name), encoding="utf-8") as handle:
                doc = ast.get_docstring(ast.parse(handle.read())) or ""
            notes[name[1:5]] = doc.strip().splitlines()[0] if doc.strip() else ""
    return [(revision, notes.get(revision, "")) for revision in schema.REVISIONS]


def create_schema(conn: Connection) -> None:
    """Create the newest tables and stamp them (inside the caller's locked transaction)."""
    schema.metadata.create_all(conn, checkfirst=True)
    _version_metadata.create_all(conn, checkfirst=True)
    conn.execute(version_table.delete())
    conn.execute(version_table.insert().values(version_num=schema.HEAD_REVISION))


def run_alembic(
    conn: Connection, command_name: str, revision: str, *, stamp_first: str | None = None
) -> None:
    """Run an alembic command on ``conn`` (in its transaction), stamping ``stamp_first``
    first for databases that predate the version table."""
    from alembic import command
    from alembic.config import Config

    if stamp_first is not None:
        _version_metadata.create_all(conn, checkfirst=True)
        if conn.execute(sa.select(version_table.c.version_num)).first() is None:
            conn.execute(version_table.insert().values(version_num=stamp_first))
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    config.attributes["connection"] = conn
    getattr(command, command_name)(config, revision)


def _lock(conn: Connection) -> None:
    # SQLite: BEGIN IMMEDIATE (issued by the engine) already holds the write lock.
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})


def _newer_error(uri: str, revision: str | None) -> SchemaError:
    return SchemaError(
        f"database {mask_uri(uri)} has schema revision {revision}, newer than this redun "
        f"understands (newest known: {schema.HEAD_REVISION}); upgrade redun to use it"
    )


def describe(engine: Engine) -> dict[str, Any]:
    """Revision, status and row counts, for ``redun db info``."""
    with read_connection(engine) as conn:
        state = read_state(conn)
        counts: dict[str, int] = {}
        for name in schema.TABLES:
            if name in state.tables:
                counts[name] = int(
                    conn.execute(sa.text(f"SELECT COUNT(*) FROM {name}")).scalar_one()
                )
    if state.original:
        status = "a database of the original redun (insitro/redun): not used by this redun"
    elif state.is_empty:
        status = "empty (the schema is created on first use)"
    elif state.is_current:
        status = "up to date"
    elif state.is_newer:
        status = "newer than this redun: upgrade redun"
    else:
        status = "older than this redun: run 'redun db upgrade'"
    return {
        "revision": state.revision,
        "head": schema.HEAD_REVISION,
        "status": status,
        "dialect": engine.dialect.name,
        "counts": counts,
    }
