"""Opening a database: URL checks, SQLite pragmas, and errors that name the URL.

Every SQLAlchemy or driver error that reaches a user passes through
:func:`backend_error`, which masks the password in the URL and keeps the
driver's own one-line explanation.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from redun.errors import BackendError

# How long a connection attempt to a server may take before we give up (seconds).
DEFAULT_CONNECT_TIMEOUT = 10


def mask_uri(uri: str | URL) -> str:
    """The URL with any password replaced by ``***``."""
    if isinstance(uri, str) and "@" not in uri:
        return uri  # no credentials in it, and SQLAlchemy would escape ``:memory:``
    try:
        url = uri if isinstance(uri, URL) else sa.engine.make_url(uri)
        return url.render_as_string(hide_password=True)
    except Exception:
        return str(uri).split("@")[-1] if "@" in str(uri) else str(uri)


def short_reason(exc: BaseException) -> str:
    """The driver's message for ``exc``, first line only, without SQLAlchemy's boilerplate."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first.strip()


def backend_error(action: str, uri: str | URL, exc: BaseException) -> BackendError:
    """A BackendError saying ``action`` failed on ``uri`` (masked), and why."""
    return BackendError(f"{action} {mask_uri(uri)}: {short_reason(exc)}")


def is_sqlite(uri: str | URL) -> bool:
    try:
        url = uri if isinstance(uri, URL) else sa.engine.make_url(uri)
    except Exception:
        return False
    return url.get_backend_name() == "sqlite"


def sqlite_path(uri: str | URL) -> str | None:
    """The file of a ``sqlite:///path`` URL (None for in-memory databases)."""
    url = uri if isinstance(uri, URL) else sa.engine.make_url(uri)
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return os.path.abspath(database)


def parse_url(uri: str) -> URL:
    try:
        return sa.engine.make_url(uri)
    except Exception as exc:
        raise BackendError(
            f"invalid database URL {mask_uri(uri)!r}: expected e.g. "
            "sqlite:///.redun/redun.db or postgresql://user@host/dbname"
        ) from exc


def create_engine(uri: str, *, config: dict | None = None) -> Engine:
    """An engine for ``uri``; SQLite files get WAL, a busy timeout and ``BEGIN IMMEDIATE``.

    Raises:
        BackendError: the URL is malformed, its driver is missing, or a SQLite
            file's directory cannot be created.
    """
    config = config or {}
    url = _with_installed_driver(parse_url(uri))
    try:
        if url.get_backend_name() == "sqlite":
            return _sqlite_engine(url, config)
        connect_args: dict[str, Any] = {}
        if url.get_backend_name() == "postgresql" and url.get_driver_name() in (
            "psycopg2",
            "psycopg",
        ):
            timeout = int(config.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT))
            connect_args["connect_timeout"] = timeout
            # The writer's own connection must not wait forever on a lock either.
            connect_args["application_name"] = "redun"
        return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    except BackendError:
        raise
    except ModuleNotFoundError as exc:
        raise BackendError(
            f"cannot open database {mask_uri(url)}: its driver is not installed "
            f"({exc.name}); for PostgreSQL: pip install 'redun[postgres]'"
        ) from exc
    except Exception as exc:
        raise backend_error("cannot open database", url, exc) from exc


def _with_installed_driver(url: URL) -> URL:
    """``postgresql://`` means whichever of psycopg (3) and psycopg2 is installed."""
    if url.drivername != "postgresql":
        return url
    import importlib.util

    for module, driver in (("psycopg2", "postgresql+psycopg2"), ("psycopg", "postgresql+psycopg")):
        if importlib.util.find_spec(module) is not None:
            return url.set(drivername=driver)
    return url


def _sqlite_engine(url: URL, config: dict) -> Engine:
    path = sqlite_path(url)
    if path is not None:
        directory = os.path.dirname(path)
        try:
            if not os.path.isdir(path):
                from redun.backends.sqlite_direct import create_private

                create_private(path)
        except OSError as exc:
            raise BackendError(
                f"cannot open database {mask_uri(url)}: cannot create directory "
                f"{directory}: {exc.strerror or exc}"
            ) from exc
        if os.path.isdir(path):
            raise BackendError(f"cannot open database {mask_uri(url)}: {path} is a directory")
    busy_ms = int(float(config.get("busy_timeout", 60)) * 1000)
    engine = sa.create_engine(
        url,
        connect_args={"timeout": busy_ms / 1000, "check_same_thread": False},
    )

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, record: Any) -> None:
        # Autocommit at the driver level; SQLAlchemy issues BEGIN itself (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        if path is not None:
            cursor.execute("PRAGMA page_size=16384")  # only takes effect on a new file
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA cache_size=-32768")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # Writers (see write_transaction) take the lock up front: a read-then-write
        # transaction that upgrades its lock later can fail with SQLITE_BUSY at once,
        # whatever the timeout. Readers begin deferred and never wait for a writer (WAL).
        mode = "IMMEDIATE" if connection.info.get("redun_writer") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction (``BEGIN IMMEDIATE`` on SQLite), committed
    when the block ends without an error and rolled back otherwise."""
    with engine.connect() as conn:
        conn.info["redun_writer"] = True
        try:
            with conn.begin():
                yield conn
        finally:
            conn.info.pop("redun_writer", None)


@contextlib.contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reads (a deferred transaction, rolled back at the end)."""
    with engine.connect() as conn:
        yield conn
