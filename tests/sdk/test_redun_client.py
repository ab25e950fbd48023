"""``redun.cli``'s Python API, as insitro/redun has it: RedunClient runs commands in
this process; the helpers find the config and check versions."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest

from redun.cli import (
    RedunClient,
    check_version,
    find_config_dir,
    get_config_dir,
    import_script,
    parse_func_path,
    setup_scheduler,
)

FLOW = """
from redun import task

redun_namespace = "{namespace}"


@task
def double(x: int) -> int:
    if x < 0:
        raise ValueError(f"negative: {{x}}")
    return 2 * x


@task
def main(x: int = 1, flag: bool = True) -> tuple:
    return (double(x), flag)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REDUN_CONFIG", raising=False)
    (tmp_path / "clientflow.py").write_text(FLOW.format(namespace="client_a"))
    yield tmp_path
    sys.modules.pop("clientflow", None)


def test_execute_returns_the_result_and_keeps_the_scheduler(project: Path) -> None:
    out = io.StringIO()
    client = RedunClient(stdout=out)
    assert client.execute(["redun", "run", "clientflow.py", "main", "--x", "5"]) == (10, True)
    assert client.execute(["redun", "run", "clientflow.py", "main", "--flag", "false"]) == (
        2,
        False,
    )
    assert "(2, False)" in out.getvalue()  # what `redun run` prints, into the client's stdout
    jobs = client.scheduler.backend.query("SELECT task_name FROM redun_job")
    assert {row[0] for row in jobs} == {"client_a.main", "client_a.double"}
    assert (project / ".redun" / "redun.db").exists()
    # redun's client hands out a session on the store the run used.
    from redun.backends.db import Job

    assert client.get_session().query(Job).count() == len(jobs)
    assert RedunClient().get_scheduler().backend.query("SELECT COUNT(*) FROM redun_job")[0][0] == (
        len(jobs)
    )
    # Other commands give their exit code, their output on the client's stdout.
    assert client.execute(["redun", "log"]) == 0
    assert "Recent executions" in out.getvalue() or "Exec " in out.getvalue()


def test_errors_are_raised_not_printed(project: Path) -> None:
    client = RedunClient(stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(ValueError, match="negative: -3"):
        client.execute(["redun", "run", "clientflow.py", "main", "--x", "-3"])
    from redun.errors import TaskNotFoundError, UsageError

    with pytest.raises(TaskNotFoundError):
        client.execute(["redun", "run", "clientflow.py", "nope"])
    with pytest.raises(UsageError, match="--x"):
        client.execute(["redun", "run", "clientflow.py", "main", "--x", "boom"])


def test_a_changed_workflow_of_the_same_name_is_the_one_run(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    client = RedunClient(stdout=io.StringIO())
    assert client.execute(["redun", "run", "clientflow.py", "main"]) == (2, True)
    # Another project, the same file name, tasks in another namespace: its main runs,
    # not the one already registered from the first file.
    other = tmp_path_factory.mktemp("other")
    (other / "clientflow.py").write_text(
        FLOW.format(namespace="client_b").replace("2 * x", "3 * x")
    )
    os.chdir(other)
    assert client.execute(["redun", "run", "clientflow.py", "main", "--x", "2"]) == (6, True)


def test_helpers(project: Path) -> None:
    assert check_version("1.0", ">0.9,<2") and not check_version("2.0", ">0.9,<2")
    with pytest.raises(ValueError):
        check_version("1.0", "boom")
    assert find_config_dir(str(project)) is None
    assert get_config_dir() == ".redun" and get_config_dir("mine") == "mine"
    setup_scheduler()  # creates the config dir and its database, as redun's does
    assert (project / ".redun" / "redun.ini").exists() and (
        project / ".redun" / "redun.db"
    ).exists()
    (project / "a" / "b").mkdir(parents=True)
    assert find_config_dir(str(project / "a" / "b")) == str(project / ".redun")
    assert parse_func_path("flow.py::setup") == ("flow.py", "setup")
    with pytest.raises(ValueError, match="Invalid function specification"):
        parse_func_path("flow.py")
    assert import_script("clientflow.py").main.fullname == "client_a.main"
