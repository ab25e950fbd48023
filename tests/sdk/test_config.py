"""Configuration as the original reads it: defaults under the user's redun.ini, relative
SQLite paths, an original redun database left alone, the executors that need no config."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import textwrap
from pathlib import Path

import pytest

from redun import Scheduler
from redun.config import Config, load_config
from redun.errors import BackendError, UsageError
from redun.workflow.loader import find_task, import_workflow
from tests.conftest import redun_cli

FLOW = textwrap.dedent(
    """
    import os
    from redun import task

    redun_namespace = "config_flow"


    @task
    def pid(x: int) -> tuple:
        with open("ran.txt", "a") as handle:
            handle.write("pid\\n")
        return (x, os.getpid())


    @task(executor="process")
    def in_process(x: int) -> int:
        return os.getpid()


    @task(executor="mine")
    def in_mine(x: int) -> int:
        return os.getpid()
    """
)


def run_cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*redun_cli(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_ini_without_backend_keeps_the_cache_in_the_config_dir(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    conf = tmp_path / ".redun"
    conf.mkdir()
    (conf / "redun.ini").write_text("[scheduler]\ncontext = {}\n")
    config = load_config(str(conf), create=False)
    assert config["backend"]["db_uri"] == f"sqlite:///{conf}/redun.db"
    for _ in range(2):
        proc = run_cli(tmp_path, cli_env, "run", "--no-progress", "flow.py", "pid", "--x", "1")
        assert proc.returncode == 0, proc.stderr
    assert (conf / "redun.db").exists()
    assert (tmp_path / "ran.txt").read_text() == "pid\n"  # the second run was a cache hit
    log = run_cli(tmp_path, cli_env, "log")
    assert log.returncode == 0, log.stderr


def test_a_relative_sqlite_uri_is_relative_to_the_config_dir(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    (tmp_path / "flow.py").write_text(FLOW)
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "redun.ini").write_text("[backend]\ndb_uri = sqlite:///store/cache.db\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = run_cli(
        elsewhere, cli_env, "-c", str(conf), "run", "--no-progress", "../flow.py", "pid", "--x", "2"
    )
    assert proc.returncode == 0, proc.stderr
    assert (conf / "store" / "cache.db").exists()
    assert not (elsewhere / "store").exists()


def make_original_redun_db(path: Path) -> None:
    """The tables the original insitro/redun creates (enough to be recognised)."""
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE redun_version (id VARCHAR PRIMARY KEY, version INTEGER, timestamp DATETIME);
        CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY);
        CREATE TABLE call_node (call_hash VARCHAR(40) PRIMARY KEY, task_name VARCHAR);
        CREATE TABLE call_edge (parent_id VARCHAR(40), child_id VARCHAR(40));
        CREATE TABLE execution (id VARCHAR PRIMARY KEY);
        CREATE TABLE job (id VARCHAR PRIMARY KEY);
        CREATE TABLE value (value_hash VARCHAR(40) PRIMARY KEY);
        INSERT INTO redun_version VALUES ('x', 3, '2024-01-01');
        INSERT INTO call_node VALUES ('abc', 'flow.main');
        """
    )
    conn.commit()
    conn.close()


def test_an_original_redun_database_is_recognised_and_left_untouched(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    from redun.backends import backend_from_config

    path = tmp_path / "theirs.db"
    make_original_redun_db(path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    backend = backend_from_config({"db_uri": f"sqlite:///{path}"})
    with pytest.raises(BackendError, match="original redun"):
        backend.load()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    tables = {row[0] for row in sqlite3.connect(path).execute("SELECT name FROM sqlite_master")}
    assert not any(name.startswith("redun_") and name != "redun_version" for name in tables)
    # Through the CLI: one clear line, exit status 1, and the file still untouched.
    (tmp_path / "flow.py").write_text(FLOW)
    proc = run_cli(
        tmp_path,
        cli_env,
        "--db",
        f"sqlite:///{path}",
        "run",
        "--no-progress",
        "flow.py",
        "pid",
        "--x",
        "1",
    )
    assert proc.returncode != 0
    assert "original redun" in proc.stderr and "Traceback" not in proc.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


@pytest.fixture
def flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.chdir(tmp_path)  # the tasks write ran.txt in the working directory
    path = tmp_path / "config_flow.py"
    path.write_text(FLOW)
    return import_workflow(str(path))


def test_default_and_process_executors_exist_without_config(flow: object, tmp_path: Path) -> None:
    scheduler = Scheduler()
    try:
        assert scheduler.run(find_task(flow, "pid", "")(3))[1] == os.getpid()
        assert scheduler.run(find_task(flow, "in_process", "")(3)) != os.getpid()
        assert scheduler.get_executor("default").name == "default"
    finally:
        scheduler.stop()


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_local_executor_mode_chooses_threads_or_processes(flow: object, mode: str) -> None:
    config = Config({"executors.mine": {"type": "local", "mode": mode, "max_workers": "2"}})
    scheduler = Scheduler(config=config)
    try:
        pid = scheduler.run(find_task(flow, "in_mine", "")(1))
        assert (pid != os.getpid()) == (mode == "process")
    finally:
        scheduler.stop()


def test_a_bad_local_mode_is_named(flow: object) -> None:
    scheduler = Scheduler(config=Config({"executors.mine": {"type": "local", "mode": "fork"}}))
    with pytest.raises(UsageError, match="mode must be 'thread' or 'process', not 'fork'"):
        scheduler.run(find_task(flow, "in_mine", "")(1))


def test_sections_by_prefix_as_in_redun() -> None:
    config = Config({"executors.a": {"type": "threads"}, "executors.b": {"type": "processes"}})
    assert config["executors"] == {"a": {"type": "threads"}, "b": {"type": "processes"}}
    assert config.get("executors")["b"] == {"type": "processes"}
    assert config.get("nothing", "default") == "default"
    with pytest.raises(KeyError):
        config["nothing"]
    config["executors"] = {"own": "section"}  # a real [executors] section wins
    assert config["executors"] == {"own": "section"}


def test_environment_variables_fill_in_values_as_in_redun(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_REDUN_ROLE", "arn:role/batch")
    monkeypatch.setenv("TEST_REDUN_DB", str(tmp_path / "from-env.db"))
    (tmp_path / "redun.ini").write_text(
        textwrap.dedent(
            """
            [DEFAULT]
            scratch = s3://bucket/redun/

            [backend]
            db_uri = sqlite:///${TEST_REDUN_DB}

            [executors.batch]
            type = aws_batch
            role = ${TEST_REDUN_ROLE}
            s3_scratch = ${scratch}
            """
        )
    )
    config = load_config(str(tmp_path))
    assert config["executors"]["batch"]["role"] == "arn:role/batch"
    assert config["executors.batch"]["s3_scratch"] == "s3://bucket/redun/"  # an option first
    scheduler = Scheduler(config=config)
    assert scheduler.run(_seven()) == 7
    assert (tmp_path / "from-env.db").exists()  # the store the environment named


def test_an_unset_variable_is_named() -> None:
    from redun.errors import ConfigError

    config = Config()
    with pytest.raises(ConfigError, match=r"\$\{TEST_REDUN_UNSET\} is neither an option"):
        config.read_string("[executors.batch]\nrole = ${TEST_REDUN_UNSET}\n")


def _seven() -> object:
    from redun import task

    @task(namespace="test_config_env")
    def seven() -> int:
        return 7

    return seven()
