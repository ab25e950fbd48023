"""On PostgreSQL the recorder's commits are durable by default (the writer used to
turn ``synchronous_commit`` off), and a closed job row is never reopened."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from redun.backends import schema
from redun.backends.bulk import COLUMNS, Batch
from redun.backends.db import DbBackend
from redun.backends.writer_process import WriterProcess, connect_postgres
from tests.sdk.test_postgres_store import pg_url  # noqa: F401 - the fixture

pytestmark = pytest.mark.postgres


def _setting(conn: object) -> str:
    with conn.cursor() as cursor:  # type: ignore[attr-defined]
        cursor.execute("SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


def test_the_writer_commits_durably_unless_the_url_opts_out(pg_url: str) -> None:  # noqa: F811
    backend = DbBackend(pg_url)
    backend.load()
    with backend.engine.connect() as conn:
        query = "SELECT reset_val FROM pg_settings WHERE name = 'synchronous_commit'"
        server_default = conn.execute(sa.text(query)).scalar()
    params = backend.psycopg2_params()
    assert params is not None
    conn = connect_postgres(dict(params))
    try:
        assert _setting(conn) == server_default == "on"
    finally:
        conn.close()
    opted_out = DbBackend(pg_url + "?options=-c%20synchronous_commit%3Doff").psycopg2_params()
    assert opted_out is not None
    conn = connect_postgres(dict(opted_out))
    try:
        assert _setting(conn) == "off"
    finally:
        conn.close()
    backend.close()


def test_a_late_write_does_not_reopen_a_closed_job(pg_url: str) -> None:  # noqa: F811
    backend = DbBackend(pg_url)
    backend.load()
    row = {"id": "r", "execution_id": "e", "task_name": "t", "state": "cancelled", "cached": False}
    with backend.engine.begin() as conn:
        conn.execute(schema.job.insert().values(**row))
    late = Batch()
    late.add("redun_job", tuple({**row, "state": "running"}.get(c) for c in COLUMNS["redun_job"]))
    params = backend.psycopg2_params()
    assert params is not None
    process = WriterProcess("postgresql", params)
    try:
        backend.write(late, process)
    finally:
        process.close()
    backend.write(late)  # and in this process
    with backend.engine.connect() as conn:
        assert conn.execute(sa.select(schema.job.c.state)).scalar() == "cancelled"
    backend.close()
