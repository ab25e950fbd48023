"""The store on the real PostgreSQL server (127.0.0.1:5432): each test in its own database."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from redun import File, Scheduler, task
from redun.backends import schema
from redun.backends.db import DbBackend
from redun.backends.migrate import read_state, run_alembic
from redun.config import Config
from redun.explain import explain_job
from redun.lineage import lineage
from tests.conftest import redun_cli
from tests.sdk.test_db_schema import race

pytestmark = pytest.mark.postgres

redun_namespace = "test_pg"

SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432"


def _server_error() -> str | None:
    try:
        import psycopg2
    except ImportError:
        return "psycopg2 is not installed"
    try:
        conn = psycopg2.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname="test", connect_timeout=2
        )
    except Exception as exc:  # any failure: not reachable
        return f"PostgreSQL on 127.0.0.1:5432 is not reachable: {str(exc).strip()}"
    conn.close()
    return None


_SKIP = _server_error()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh database, dropped after the test."""
    if _SKIP:
        pytest.skip(_SKIP)
    name = f"redun_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(f"{SERVER}/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@task
def square(x: int) -> int:
    return x * x


@task
def save(values: list, path: str) -> File:
    out = File(path)
    out.write(",".join(map(str, values)))
    return out


@task
def main(n: int, path: str) -> File:
    return save([square(i) for i in range(n)], path)


def test_run_record_and_reuse(pg_url: str, tmp_path: Path) -> None:
    config = Config({"backend": {"db_uri": pg_url}})
    out = str(tmp_path / "squares.txt")
    first = Scheduler(config=config)
    assert first.run(main(4, out)).read() == "0,1,4,9"
    assert all(not job.cached for job in first.jobs())
    second = Scheduler(config=config)
    second.run(main(4, out))
    assert [job.cached for job in second.jobs()] == [True]
    backend = DbBackend(pg_url)
    info = lineage(backend, out)
    assert info.node.producer.task_name == "test_pg.save"
    assert info.node.value.file.size == len("0,1,4,9")
    job_id = backend.query("SELECT id FROM redun_job WHERE task_name = 'test_pg.save'")[0][0]
    assert explain_job(backend, job_id).outcome == "ran"
    backend.close()


def test_two_config_dirs_share_the_cache(pg_url: str, tmp_path: Path) -> None:
    flow = textwrap.dedent(
        """
        from redun import task

        redun_namespace = "shared"

        @task
        def work(x: int) -> int:
            return x * 3

        @task
        def main(n: int = 5) -> list:
            return [work(i) for i in range(n)]
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("REDUN_CONFIG", "REDUN_DB_URI")}
    outputs = []
    for person in ("alice", "bob"):
        home = tmp_path / person
        (home / ".redun").mkdir(parents=True)
        (home / ".redun" / "redun.ini").write_text(f"[backend]\ndb_uri = {pg_url}\n")
        (home / "flow.py").write_text(flow)
        run = subprocess.run(
            [*redun_cli(), "run", "--no-progress", "flow.py", "main"],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr
        log = subprocess.run(
            [*redun_cli(), "log", "-", "--format", "json"],
            cwd=home,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert log.returncode == 0, log.stderr
        outputs.append((run.stdout.strip(), json.loads(log.stdout)))
    (alice_out, alice_log), (bob_out, bob_log) = outputs
    assert alice_out == bob_out == "[0, 3, 6, 9, 12]"
    assert sorted(job["state"] for job in alice_log["jobs"]) == ["done"] * 6
    # Bob's run, in another directory, is answered by Alice's results.
    assert [job["state"] for job in bob_log["jobs"]] == ["cached"]
    assert bob_log["execution"]["cwd"].endswith("bob")


def test_processes_starting_together_on_a_fresh_postgres_database(
    pg_url: str, tmp_path: Path
) -> None:
    results = race(tmp_path, pg_url)
    for result in results:
        assert result.returncode == 0, result.stderr
    backend = DbBackend(pg_url)
    assert backend.query("SELECT COUNT(*) FROM redun_execution")[0][0] == len(results)
    assert backend.query("SELECT COUNT(*) FROM redun_alembic_version")[0][0] == 1
    backend.close()


def test_old_postgres_database_is_migrated(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        run_alembic(conn, "upgrade", "0001")
        conn.execute(sa.text(f"DROP TABLE {schema.VERSION_TABLE}"))
        conn.execute(
            sa.text(
                "INSERT INTO redun_call_node (call_hash, task_hash, task_name, args_hash, "
                "eval_hash, result_hash, arg_hashes, time) VALUES "
                "('c1', 't1', 'old.task', 'a1', 'e1', 'v1', '{}', 1.0)"
            )
        )
        conn.execute(sa.text("INSERT INTO redun_evaluation VALUES ('e1', 'c1', 1.0)"))
    engine.dispose()
    backend = DbBackend(pg_url)
    backend.load()
    with backend.engine.connect() as conn:
        assert read_state(conn).revision == schema.HEAD_REVISION
    assert backend.find_calls(["e1"])["e1"].call_hash == "c1"
    backend.close()


def test_cache_clear_and_value_store_on_postgres(pg_url: str, tmp_path: Path) -> None:
    store = tmp_path / "values"
    config = Config(
        {"backend": {"db_uri": pg_url, "value_store": str(store), "inline_max_bytes": "100"}}
    )
    out = str(tmp_path / "s.txt")
    Scheduler(config=config).run(main(40, out))
    assert any(store.rglob("*"))  # the 40-element list went to the store
    backend = DbBackend(pg_url, dict(config["backend"]))
    assert backend.clear_cache(["test_pg.square"]) == (40, 1)
    again = Scheduler(config=config)
    again.run(main(40, out))
    assert sum(1 for job in again.jobs() if not job.cached) == 41
    backend.close()


def test_in_process_writer_and_tags_on_postgres(pg_url: str, tmp_path: Path) -> None:
    config = Config({"backend": {"db_uri": pg_url, "writer": "thread"}})
    out = str(tmp_path / "t.txt")
    Scheduler(config=config).run(main(3, out), tags=[("team", "data")])
    backend = DbBackend(pg_url)
    from redun.backends.queries import StoreReader

    (execution,) = StoreReader(backend).executions()
    assert execution.tags == {"team": "data"} and execution.status == "done"
    assert backend.query("SELECT COUNT(*) FROM redun_job")[0][0] == 5
    backend.close()


def test_an_original_redun_database_is_left_untouched(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        for statement in (
            "CREATE TABLE redun_version (id VARCHAR PRIMARY KEY, version INTEGER)",
            "CREATE TABLE call_node (call_hash VARCHAR(40) PRIMARY KEY)",
            "CREATE TABLE call_edge (parent_id VARCHAR(40), child_id VARCHAR(40))",
            "CREATE TABLE execution (id VARCHAR PRIMARY KEY)",
            "CREATE TABLE job (id VARCHAR PRIMARY KEY)",
            "CREATE TABLE value (value_hash VARCHAR(40) PRIMARY KEY)",
        ):
            conn.execute(sa.text(statement))
    backend = DbBackend(pg_url)
    with pytest.raises(Exception, match="original redun"):
        backend.load()
    tables = set(sa.inspect(engine).get_table_names())
    assert tables == {"redun_version", "call_node", "call_edge", "execution", "job", "value"}
    engine.dispose()
