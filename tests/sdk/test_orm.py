"""redun's provenance models: ``scheduler.backend.session`` over a real run, and ``redun repl``.

Each store is SQLite in a temporary directory or a fresh database on the local
PostgreSQL server (skipped when no server answers).
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from redun import Scheduler, task
from redun.config import Config
from redun.errors import BackendError, UsageError
from tests.conftest import redun_cli
from tests.sdk.test_postgres_store import pg_url  # noqa: F401  (a fixture)

redun_namespace = "test_orm"


@task
def add(a: int, b: int = 1) -> int:
    return a + b


@task
def link(prefix: str, nums: list) -> str:
    return prefix + ":" + ",".join(map(str, nums))


@task
def main(n: int, prefix: str = "p") -> str:
    return link(prefix, [add(i, b=2) for i in range(n)])


@task
def big(size: int) -> str:
    return "x" * size


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store: a SQLite file, or a PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / '.redun' / 'redun.db'}"
    return str(request.getfixturevalue("pg_url"))  # skipped when no server answers


def _scheduler(db_uri: str, tmp_path: Path) -> Scheduler:
    # A value store for both databases (PostgreSQL has none by default), small values inline.
    backend = {"db_uri": db_uri, "value_store": str(tmp_path / "values")}
    return Scheduler(config=Config({"backend": backend}))


def test_session_walks_a_run(db_uri: str, tmp_path: Path) -> None:
    from redun.backends.db import Argument, CallNode, Execution, Job, Task, Value

    scheduler = _scheduler(db_uri, tmp_path)
    assert scheduler.run(main(3)) == "p:2,3,4"
    scheduler.load()
    session = scheduler.backend.session

    execution = session.query(Execution).order_by(Execution.updated_time.desc()).first()
    assert execution is not None
    assert execution.status == "DONE"
    assert isinstance(execution.updated_time, datetime)
    assert execution.updated_time.tzinfo is not None
    root = execution.job
    assert root.call_node.value.value_parsed == "p:2,3,4"
    assert execution.call_node.value_parsed == "p:2,3,4"
    assert sorted(job.task.name for job in execution.jobs) == ["add", "add", "add", "link", "main"]
    assert all(job.execution.id == execution.id for job in execution.jobs)

    # The job tree.
    assert root.parent_job is None
    assert root.task.fullname == "test_orm.main"
    assert (root.status, root.cached) == ("DONE", False)
    children = root.child_jobs
    assert sorted(job.task.name for job in children) == ["add", "add", "add", "link"]
    assert {job.parent_job.id for job in children} == {root.id}
    assert all(job.child_jobs == [] for job in children)
    assert isinstance(root.duration, timedelta) and root.duration >= timedelta(0)
    assert root.start_time <= children[0].start_time <= root.end_time

    # Call nodes: arguments in the signature's order, children in call order, parents.
    node = root.call_node
    assert [(arg.arg_position, arg.arg_key) for arg in node.arguments] == [(0, "n"), (1, "prefix")]
    assert [arg.value.value_parsed for arg in node.arguments] == [3, "p"]
    assert [child.task_name for child in node.children] == ["test_orm.add"] * 3 + ["test_orm.link"]
    adds = node.children[:3]
    assert [[arg.value_parsed for arg in c.arguments] for c in adds] == [[0, 2], [1, 2], [2, 2]]
    assert [c.value_parsed for c in adds] == [2, 3, 4]
    linked = node.children[3]
    assert [arg.value_parsed for arg in linked.arguments] == ["p", [2, 3, 4]]
    assert [parent.call_hash for parent in linked.parents] == [node.call_hash]
    assert node.parents == []
    assert "def main(" in node.task.source and "link(prefix" in node.task.source
    assert [job.id for job in node.jobs] == [root.id]
    assert isinstance(session.get(Argument, (linked.call_hash, "nums")), Argument)

    # Queries on mapped columns, by redun's names.
    tasks = session.query(Task).filter(Task.name == "link").all()
    assert [(t.fullname, t.namespace) for t in tasks] == [("test_orm.link", "test_orm")]
    assert session.query(CallNode).filter(CallNode.task_name == "test_orm.add").count() == 3
    assert session.query(Job).filter(Job.status == "DONE").count() == 5
    result = session.query(Value).filter(Value.value_hash == node.value_hash).one()
    assert (result.type, result.preview) == ("builtins.str", "p:2,3,4")  # as redun spells it
    for spelling in ("builtins.str", "str"):
        assert session.query(Value).filter(Value.type == spelling).count() >= 1
    assert session.query(Job).filter(Job.start_time >= root.start_time).count() == 5

    # Tags are JSON values, compared as Python values.
    scheduler.backend.record_tags("execution", execution.id, {"env": "test"})
    session.rollback()  # a new transaction sees the tag
    assert [(tag.key, tag.value) for tag in execution.tags if tag.key == "env"] == [("env", "test")]
    tagged = [tag.entity for tag in session.query(type(execution.tags[0])).filter_by(value="test")]
    assert [entity.id for entity in tagged] == [execution.id]

    # A cached re-run: a new execution whose root job is CACHED.
    assert _scheduler(db_uri, tmp_path).run(main(3)) == "p:2,3,4"
    session.rollback()
    latest = session.query(Execution).order_by(Execution.updated_time.desc()).first()
    assert latest.id != execution.id
    assert (latest.job.status, latest.job.cached) == ("CACHED", True)
    assert latest.job.call_node.call_hash == node.call_hash
    scheduler.backend.close()


def test_value_in_the_value_store(db_uri: str, tmp_path: Path) -> None:
    scheduler = _scheduler(db_uri, tmp_path)
    assert len(scheduler.run(big(200_000))) == 200_000
    from redun.backends.db import CallNode

    session = scheduler.backend.session
    node = session.query(CallNode).filter(CallNode.task_name == "test_orm.big").one()
    assert node.value.in_value_store
    assert node.value.value is None  # not inline
    assert node.value.value_parsed == "x" * 200_000
    scheduler.backend.close()


def test_find_record_by_prefix(tmp_path: Path) -> None:
    from redun.backends.db import CallNode, Execution, Job, Task
    from redun.backends.orm_lookup import find_record

    scheduler = _scheduler(f"sqlite:///{tmp_path / 'redun.db'}", tmp_path)
    scheduler.run(main(2))
    scheduler.run(main(4))
    session = scheduler.backend.session
    first, second = session.query(Execution).order_by(Execution.start_time).all()
    job = session.query(Job).filter(Job.task_name == "test_orm.link").first()
    assert find_record(session, first.id[:10]) is first
    assert find_record(session, job.id.upper()[:12]) is job
    assert isinstance(find_record(session, job.call_hash), CallNode)
    assert isinstance(find_record(session, job.task_hash), Task)
    assert find_record(session, "-") is second
    assert find_record(session, "~2") is first
    with pytest.raises(UsageError, match="no execution, job, call node, task or value"):
        find_record(session, "zz_%")
    keys = [e.id for e in session.query(Execution)] + [j.id for j in session.query(Job)]
    keys += [c.call_hash for c in session.query(CallNode)]
    shared = next(c for c in "0123456789abcdef" if sum(k.startswith(c) for k in keys) > 1)
    with pytest.raises(UsageError, match="ambiguous.*give more characters"):
        find_record(session, shared)
    with pytest.raises(UsageError, match="give an id or hash prefix"):
        find_record(session, " ")
    with pytest.raises(UsageError, match="fewer runs"):
        find_record(session, "~3")
    scheduler.backend.close()


def test_session_is_read_only(tmp_path: Path) -> None:
    from redun.backends.db import Job

    scheduler = _scheduler(f"sqlite:///{tmp_path / 'redun.db'}", tmp_path)
    scheduler.run(main(1))
    session = scheduler.backend.session
    job = session.query(Job).first()
    job.cached = True
    with pytest.raises(BackendError, match="read-only"):
        session.flush()
    session.rollback()
    assert session.query(Job).filter(Job.cached.is_(True)).count() == 0
    scheduler.backend.close()


def test_memory_store_has_no_session() -> None:
    scheduler = Scheduler(config=Config({"backend": {"db_uri": "memory"}}))
    with pytest.raises(BackendError, match=r"db_uri = memory.*setup_scheduler"):
        scheduler.backend.session  # noqa: B018


def test_scheduler_without_config_has_a_private_database() -> None:
    # As in redun: no db_uri is sqlite:///:memory:, with the models over it; here a
    # private file stands in for it (several threads use it) and goes with the backend.
    from redun.backends.db import Execution, Job, RedunBackendDb

    scheduler = Scheduler()
    backend = scheduler.backend
    assert isinstance(backend, RedunBackendDb)
    assert backend.db_uri == "sqlite:///:memory:"
    assert scheduler.run([add(1), add(2)]) == [2, 3]
    session = backend.session
    # The two calls ran under the execution's root job, as in redun.
    assert sorted(job.task.name for job in session.query(Job)) == ["add", "add", "root_task"]
    (execution,) = session.query(Execution).all()
    assert [job.task.name for job in execution.job.child_jobs] == ["add", "add"]
    assert scheduler.run(add(1)) == 2
    assert session.query(Execution).count() == 2
    path = Path(backend.url.removeprefix("sqlite:///"))
    assert path.is_file() and (path.parent.stat().st_mode & 0o777) == 0o700
    backend.close()
    assert not path.parent.exists()
    # Closed, the database is gone, as an in-memory one would be: a new one is empty.
    scheduler2 = Scheduler(backend=backend)
    assert scheduler2.run(add(1)) == 2
    assert [job.cached for job in scheduler2.jobs()] == [False]
    backend.close()


FORKED_CHILD = """
import os, sys
from pathlib import Path
from redun import Scheduler

scheduler = Scheduler()
scheduler.run([1])
path = Path(scheduler.backend.url.removeprefix("sqlite:///"))
print(path, flush=True)
pid = os.fork()
if pid == 0:
    sys.exit(0)  # a forked child exiting normally runs the exit hooks it inherited
os.waitpid(pid, 0)
assert path.is_file(), "the child removed its parent's private database"
"""


def test_a_forked_child_leaves_its_parents_private_database(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", FORKED_CHILD], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    path = Path(proc.stdout.strip())
    assert path.name == "redun.db"
    # ...and the parent, exiting, removed it.
    assert not path.parent.exists()


def test_repl_queries_by_prefix(db_uri: str, tmp_path: Path, cli_env: dict[str, str]) -> None:
    scheduler = _scheduler(db_uri, tmp_path)
    scheduler.run(main(2))
    job_id = next(job.id for job in scheduler.jobs() if job.task.name == "link")
    scheduler.backend.close()
    lines = [
        f"print(query('{job_id[:10]}').task.name)",
        f"print(query('{job_id[:10]}').call_node.value.value_parsed)",
        "print(sorted(j.task.name for j in last_exec.jobs))",
        "print(session.query(Task).filter(Task.name == 'add').one().fullname)",
        "query('zz')",
    ]
    run = subprocess.run(
        [*redun_cli(), "--db", db_uri, "repl"],
        input="\n".join(lines) + "\n",
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    out = run.stdout.splitlines()
    assert out[0] == "(redun) link"
    assert "(redun) p:2,3" in out
    assert "(redun) ['add', 'add', 'link', 'main']" in out
    assert "(redun) test_orm.add" in out
    assert "UsageError: no execution, job, call node, task or value" in run.stderr


def test_repl_without_a_store(tmp_path: Path, cli_env: dict[str, str]) -> None:
    run = subprocess.run(
        [*redun_cli(), "--db", f"sqlite:///{tmp_path / 'none.db'}", "repl"],
        input="",
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    assert "no redun database at" in run.stderr
    assert not (tmp_path / "none.db").exists()


def test_db_module_does_not_import_sqlalchemy() -> None:
    probe = (
        "import sys\n"
        "import redun.backends.db, redun.cli.main\n"
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'\n"
        "from redun.backends.db import Execution, DbBackend\n"
        "assert 'sqlalchemy' in sys.modules and Execution.__table__.name == 'redun_execution'\n"
        "print('ok')\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"
