"""The schema: creation, alembic migrations, refusal of newer schemas, racing creators."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from redun.backends import bulk, schema
from redun.backends.db import DbBackend
from redun.backends.migrate import SchemaError, read_state, run_alembic
from redun.errors import BackendError
from tests.conftest import redun_cli


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def test_literal_columns_match_the_schema() -> None:
    # bulk.py spells the columns out so that recording never imports SQLAlchemy.
    for name, table in schema.TABLES.items():
        assert bulk.COLUMNS[name] == tuple(c.name for c in table.columns), name
        pk = [c.name for c in table.primary_key.columns]
        assert bulk.PK_SIZE[name] == len(pk), name
        assert list(bulk.COLUMNS[name][: len(pk)]) == pk, f"{name}: key columns come first"
    assert set(bulk.WRITE_ORDER) == set(schema.TABLES)


def test_known_revisions_match_the_migration_scripts() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from redun.backends.migrate import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    scripts = ScriptDirectory.from_config(config)
    assert scripts.get_heads() == [schema.HEAD_REVISION]
    chain = [rev.revision for rev in scripts.walk_revisions()]
    assert list(reversed(chain)) == list(schema.REVISIONS)


def test_fresh_database_is_created_at_head(tmp_path: Path) -> None:
    backend = DbBackend(sqlite_url(tmp_path / "redun.db"))
    backend.load()
    with backend.engine.connect() as conn:
        state = read_state(conn)
    assert state.revision == schema.HEAD_REVISION
    assert set(schema.TABLES) <= set(state.tables)
    backend.close()


def _legacy_database(path: Path) -> None:
    """A database as the pre-alembic redun made it (revision 0001), with one call in it."""
    engine = sa.create_engine(sqlite_url(path))
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
        conn.execute(
            sa.text(
                "INSERT INTO redun_value (hash, type_name, format, data, size, needs_check, "
                "preview) VALUES ('v1', 'int', 'pickle', :data, 5, 0, '7')"
            ),
            {"data": __import__("pickle").dumps(7)},
        )
        conn.execute(sa.text("INSERT INTO redun_evaluation VALUES ('e1', 'c1', 1.0)"))
    engine.dispose()


def test_old_database_is_migrated_on_first_use(tmp_path: Path) -> None:
    path = tmp_path / "redun.db"
    _legacy_database(path)
    backend = DbBackend(sqlite_url(path))
    backend.load()
    with backend.engine.connect() as conn:
        assert read_state(conn).revision == schema.HEAD_REVISION
    # The old call still answers the cache, and the backfilled columns are set.
    found = backend.find_calls(["e1"])
    assert found["e1"].call_hash == "c1"
    assert found["e1"].result_needs_check is False
    assert backend.get_values(["v1"]) == {"v1": 7}
    backend.close()


def test_revision_0004_marks_recorded_task_values_for_checking(tmp_path: Path) -> None:
    path = tmp_path / "r3.db"
    engine = sa.create_engine(sqlite_url(path))
    with engine.begin() as conn:
        run_alembic(conn, "upgrade", "0003")
        conn.execute(
            sa.text(
                "INSERT INTO redun_value (hash, type_name, format, location, data, size, "
                "needs_check, preview) VALUES "
                "('vt', 'redun.task.Task', 'pickle', 'inline', x'00', 1, 0, 'Task'), "
                "('vi', 'int', 'pickle', 'inline', x'00', 1, 0, '7')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO redun_call_node (call_hash, task_hash, task_name, args_hash, "
                "eval_hash, result_hash, result_needs_check, time) VALUES "
                "('ct', 't', 'f.chooser', 'a', 'et', 'vt', 0, 1.0), "
                "('ci', 't', 'f.count', 'a', 'ei', 'vi', 0, 1.0)"
            )
        )
        conn.execute(sa.text("INSERT INTO redun_evaluation VALUES ('et', 'ct', 1.0)"))
        conn.execute(sa.text("INSERT INTO redun_evaluation VALUES ('ei', 'ci', 1.0)"))
    engine.dispose()
    backend = DbBackend(sqlite_url(path))
    backend.load()
    found = backend.find_calls(["et", "ei"])
    # A task returned as a value is checked now (it is stale once its code changes).
    assert found["et"].result_needs_check is True and found["ei"].result_needs_check is False
    assert backend.values_needing_check(["vt", "vi"]) == {"vt"}
    assert found["et"].expr_hash is None and found["et"].cacheable is True
    backend.close()


def test_migrated_schema_equals_a_fresh_one(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    path = tmp_path / "old.db"
    _legacy_database(path)
    DbBackend(sqlite_url(path)).load()
    engine = sa.create_engine(sqlite_url(path))
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": schema.VERSION_TABLE})
        diffs = compare_metadata(context, schema.metadata)
    engine.dispose()
    # Type spellings differ harmlessly on SQLite; tables, columns and indexes must not.
    structural = [d for d in diffs if not (isinstance(d, list) and d[0][0] == "modify_type")]
    assert structural == []


def test_automigrate_off_refuses_an_old_schema(tmp_path: Path) -> None:
    path = tmp_path / "redun.db"
    _legacy_database(path)
    backend = DbBackend(sqlite_url(path), {"automigrate": "false"})
    with pytest.raises(SchemaError, match="redun db upgrade"):
        backend.load()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "redun.db"
    DbBackend(sqlite_url(path)).load()
    conn = sqlite3.connect(path)
    conn.execute(f"UPDATE {schema.VERSION_TABLE} SET version_num = '9999'")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaError, match="newer than this redun"):
        DbBackend(sqlite_url(path)).load()


def test_db_upgrade_and_info_commands(workdir: Path, cli_env: dict[str, str]) -> None:
    path = workdir / ".redun" / "redun.db"
    path.parent.mkdir()
    _legacy_database(path)
    (workdir / ".redun" / "redun.ini").write_text(
        "[backend]\ndb_uri = sqlite:///${config_dir}/redun.db\nautomigrate = false\n"
    )
    info = subprocess.run(
        [*redun_cli(), "db", "info", "--format", "json"],
        cwd=workdir,
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert info.returncode == 0, info.stderr
    data = json.loads(info.stdout)
    assert data["revision"] == "0001" and data["head"] == schema.HEAD_REVISION
    assert "older" in data["status"]
    upgrade = subprocess.run(
        [*redun_cli(), "db", "upgrade"], cwd=workdir, env=cli_env, capture_output=True, text=True
    )
    assert upgrade.returncode == 0, upgrade.stderr
    assert "migrated from revision 0001 to" in upgrade.stdout
    info = subprocess.run(
        [*redun_cli(), "db", "info"], cwd=workdir, env=cli_env, capture_output=True, text=True
    )
    assert "up to date" in info.stdout
    assert "redun_call_node" in info.stdout


RACE_WORKFLOW = textwrap.dedent(
    """
    import sys, time
    from redun import Scheduler, task
    from redun.config import Config

    @task
    def square(x: int) -> int:
        return x * x

    @task
    def main(n: int) -> int:
        return sum_all([square(i) for i in range(n)])

    @task
    def sum_all(xs: list) -> int:
        return sum(xs)

    url, start = sys.argv[1], float(sys.argv[2])
    while time.time() < start:  # everyone opens the fresh database at the same moment
        time.sleep(0.001)
    scheduler = Scheduler(config=Config({"backend": {"db_uri": url}}))
    print(scheduler.run(main(20)))
    """
)


def race(tmp_path: Path, url: str, processes: int = 6) -> list[subprocess.CompletedProcess]:
    script = tmp_path / "race.py"
    script.write_text(RACE_WORKFLOW)
    start = time.time() + 2.0
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), url, str(start)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def test_processes_starting_together_on_a_fresh_sqlite_database(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "fresh" / "redun.db")
    results = race(tmp_path, url)
    for result in results:
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str(sum(i * i for i in range(20)))
    backend = DbBackend(url)
    assert backend.query("SELECT COUNT(*) FROM redun_execution")[0][0] == len(results)
    assert (
        backend.query("SELECT COUNT(*) FROM redun_call_node WHERE task_name = 'square'")[0][0] == 20
    )
    backend.close()


def test_unopenable_sqlite_database_is_a_clear_error(
    workdir: Path, cli_env: dict[str, str]
) -> None:
    (workdir / "flow.py").write_text(
        "from redun import task\n\n@task\ndef main() -> int:\n    return 1\n"
    )
    (workdir / "blocker").write_text("a file, not a directory")
    url = f"sqlite:///{workdir}/blocker/redun.db"
    result = subprocess.run(
        [*redun_cli(), "--db", url, "run", "flow.py", "main"],
        cwd=workdir,
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "redun: error: cannot open database" in result.stderr
    assert "blocker" in result.stderr
    with pytest.raises(BackendError, match="cannot open database"):
        DbBackend(url).load()


def test_unreachable_server_names_the_masked_url(workdir: Path, cli_env: dict[str, str]) -> None:
    (workdir / "flow.py").write_text(
        "from redun import task\n\n@task\ndef main() -> int:\n    return 1\n"
    )
    url = "postgresql://alice:s3cret@127.0.0.1:9/nowhere"
    result = subprocess.run(
        [*redun_cli(), "--db", url, "run", "flow.py", "main"],
        cwd=workdir,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "postgresql://alice:***@127.0.0.1:9/nowhere" in result.stderr
    assert "s3cret" not in result.stderr
    log = subprocess.run(
        [*redun_cli(), "--db", url, "log"],
        cwd=workdir,
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert log.returncode == 1 and "Traceback" not in log.stderr
    assert "s3cret" not in log.stderr and "alice:***@" in log.stderr


def test_literal_sqlite_ddl_matches_the_schema() -> None:
    from redun.backends.sqlite_schema import SQLITE_DDL, render

    assert "\n".join(SQLITE_DDL) == render(), "regenerate redun/backends/sqlite_schema.py"


def test_fresh_sqlite_database_needs_no_sqlalchemy(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from redun import Scheduler, task\n"
        "from redun.config import Config\n"
        "@task\n"
        "def one() -> int:\n"
        "    return 1\n"
        f"s = Scheduler(config=Config({{'backend': {{'db_uri': 'sqlite:///{tmp_path}/r.db'}}}}))\n"
        "assert s.run(one()) == 1 and s.run(one()) == 1\n"
        "print('sqlalchemy' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    conn = sqlite3.connect(tmp_path / "r.db")
    assert conn.execute(f"SELECT version_num FROM {schema.VERSION_TABLE}").fetchall() == [
        (schema.HEAD_REVISION,)
    ]
    conn.close()
