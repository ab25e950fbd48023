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


@task(tags=[("env", "dev")])
def tagged() -> int:
    return 10


@task(cache=False)
def tag_a_list() -> int:
    return apply_tags(10, [("data", [1, "a", True]), ("redun.sub.user", "alice")])


def test_tags_read_through_the_session_as_in_redun() -> None:
    from redun.backends.base import TagEntity
    from redun.backends.db import Job, Tag, Task

    scheduler = Scheduler()
    scheduler.run(tagged.options(tags=[("user", "alice")])())
    scheduler.run(tag_a_list())
    session = scheduler.backend.session
    # The decorator's tags are the task's; the call's own are its job's.
    [task_tag] = session.query(Tag).filter(Tag.entity_type == TagEntity.Task).all()
    assert (task_tag.key, task_tag.value) == ("env", "dev")
    assert isinstance(task_tag.entity, Task) and task_tag.entity.hash == tagged.hash
    [job_tag] = session.query(Tag).filter(Tag.entity_type == TagEntity.Job).all()
    assert (job_tag.key, job_tag.value) == ("user", "alice")
    assert isinstance(job_tag.entity, Job)
    # A list value, and a key's namespace.
    values = {tag.key: tag for tag in session.query(Tag).filter(Tag.entity_type == "value")}
    assert values["data"].value == [1, "a", True]
    assert (values["redun.sub.user"].namespace, values["redun.sub.user"].base_key) == (
        "redun.sub",
        "user",
    )


def test_tag_values_print_so_that_they_read_back_the_same() -> None:
    from redun.tags import format_tag_key_value, format_tag_value, parse_tag_value

    for value in ["hello", "10", "true", "null", "[10]", " x ", 10, True, None, [1, "a"]]:
        assert parse_tag_value(format_tag_value(value)) == value
    assert format_tag_value("10") == '"10"' and format_tag_value("acme") == "acme"
    assert format_tag_key_value("a234567890123", "a234567890123", max_length=10) == (
        "a234567...=a234567..."
    )
