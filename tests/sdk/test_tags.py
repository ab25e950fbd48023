"""apply_tags records tags on values, jobs and executions in the store."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from redun import Scheduler, apply_tags, task
from redun.backends import backend_from_config
from redun.hashing import hash_value

redun_namespace = "test_tags"


@task
def make() -> list:
    return [1, 2, 3]


@task
def main() -> list:
    return apply_tags(make(), [("dataset", "raw")], job_tags=[("stage", "ingest")])


def test_apply_tags_records_tags(tmp_path: Path) -> None:
    db = tmp_path / "redun.db"
    scheduler = Scheduler(backend=backend_from_config({"db_uri": f"sqlite:///{db}"}))
    assert scheduler.run(main(), tags=[("project", "demo")]) == [1, 2, 3]
    rows = set(sqlite3.connect(db).execute("SELECT entity_type, entity_id, key FROM redun_tag"))
    execution_id = scheduler.execution.id
    main_job = next(job for job in scheduler.jobs() if job.task.name == "main")
    assert ("value", hash_value([1, 2, 3]), "dataset") in rows
    assert ("job", main_job.id, "stage") in rows
    assert ("execution", execution_id, "project") in rows


def test_login_name_without_the_environment_comes_from_the_password_database(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pwd

    from redun.tags import login_name

    for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(name, raising=False)
    assert login_name() == pwd.getpwuid(os.getuid()).pw_name
    monkeypatch.setenv("USER", "someone-else")
    assert login_name() == "someone-else"
