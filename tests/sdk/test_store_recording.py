"""What a run records in the database, the value store, and durability under kill -9."""

from __future__ import annotations

import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from redun import File, Scheduler, task
from redun.backends.db import DbBackend
from redun.backends.queries import StoreReader
from redun.config import Config
from tests.conftest import wait_for

redun_namespace = "test_store"


@task
def leaf(x: int) -> int:
    return x * 10


@task
def produce_file(path: str, text: str) -> File:
    out = File(path)
    out.write(text)
    return out


@task
def files_pair(prefix: str) -> list:
    a, b = File(prefix + "-a.txt"), File(prefix + "-b.txt")
    a.write("a")
    b.write("bb")
    return [a, b]


@task
def big_list(n: int) -> list:
    return list(range(n))


class Unpicklable:
    """Hashable (by its state), but pickling it fails."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __reduce__(self) -> object:
        raise TypeError("cannot pickle an Unpicklable")


@task
def unpicklable(n: int) -> object:
    return Unpicklable(n)


@task
def boom(x: int) -> int:
    raise ValueError(f"bad input {x}")


@task
def tree(n: int) -> list:
    return [leaf(i) for i in range(n)]


def make_scheduler(url: str, **backend: str) -> Scheduler:
    return Scheduler(config=Config({"backend": {"db_uri": url, **backend}}))


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/.redun/redun.db"


def reader_for(url: str, **config: str) -> StoreReader:
    return StoreReader(DbBackend(url, {"db_uri": url, **config}))


def test_execution_jobs_calls_and_tasks_are_recorded(url: str) -> None:
    scheduler = make_scheduler(url)
    assert scheduler.run(tree(3), exec_argv=["redun", "run", "x.py", "tree"]) == [0, 10, 20]
    reader = reader_for(url)
    (execution,) = reader.executions()
    assert execution.status == "done"
    assert execution.argv == ["redun", "run", "x.py", "tree"]
    assert execution.user and execution.host and execution.pid == os.getpid()
    jobs = reader.jobs_of_execution(execution.id)
    assert len(jobs) == 4
    root = [job for job in jobs if job.parent_id is None]
    assert [job.task_name for job in root] == ["test_store.tree"]
    assert execution.root_job_id == root[0].id
    for job in jobs:
        assert job.state == "done" and not job.cached
        assert job.executor == "default"
        assert job.start_time and job.end_time and job.end_time >= job.start_time
        assert job.reason
        if job.task_name == "test_store.leaf":
            assert job.parent_id == root[0].id
    call = reader.call(root[0].call_hash)
    assert call is not None and call.arguments == {"n": call.arguments["n"]}
    children = reader.child_calls([call.call_hash])[call.call_hash]
    assert len(children) == 3
    task_record = reader.tasks([call.task_hash])[call.task_hash]
    assert "def tree" in (task_record.source or "")
    assert task_record.code_parts.get("source")
    # A second run is a cache hit, recorded as such.
    assert make_scheduler(url).run(tree(3)) == [0, 10, 20]
    latest = reader.executions()[0]
    (hit,) = reader.jobs_of_execution(latest.id)
    assert hit.cached and hit.state == "cached" and hit.call_hash == call.call_hash
    assert "cached" in (hit.reason or "")


def test_files_are_recorded_with_path_hash_and_size(url: str, tmp_path: Path) -> None:
    path = str(tmp_path / "out.txt")
    scheduler = make_scheduler(url)
    result = scheduler.run(produce_file(path, "hello"))
    reader = reader_for(url)
    (record,) = reader.files_by_path([path])
    assert record.file_hash == result.hash
    assert record.size == 5 and record.kind == "file"
    # Files inside a container point at it.
    pair = scheduler.run(files_pair(str(tmp_path / "p")))
    records = reader.files_by_path([f.path for f in pair])
    assert sorted(r.size for r in records) == [1, 2]
    containers = reader.containers_of([r.value_hash for r in records])
    assert all(len(parents) == 1 for parents in containers.values())


def test_large_values_go_to_the_value_store(url: str, tmp_path: Path) -> None:
    config = {"inline_max_bytes": "1000"}
    scheduler = make_scheduler(url, **config)
    assert scheduler.run(big_list(5000)) == list(range(5000))
    reader = reader_for(url, **config)
    job = reader.jobs_of_execution(reader.executions()[0].id)[0]
    call = reader.call(job.call_hash)
    value = reader.values([call.result_hash])[call.result_hash]
    assert value.location == "store" and value.size > 1000
    stored = tmp_path / ".redun" / "values" / call.result_hash[:2] / call.result_hash[2:]
    assert stored.exists()
    row = reader.query("SELECT data FROM redun_value WHERE hash = :h", h=call.result_hash)
    assert row[0][0] is None  # not copied into the database
    with stored.open("rb") as handle:
        assert pickle.load(handle) == list(range(5000))
    assert pickle.loads(reader.backend.value_bytes(call.result_hash)) == list(range(5000))
    # A cached re-run reads it back from the store...
    again = make_scheduler(url, **config)
    assert again.run(big_list(5000)) == list(range(5000))
    assert reader.jobs_of_execution(reader.executions()[0].id)[0].cached
    # ...and a store that lost the file is a miss, not an error.
    stored.unlink()
    third = make_scheduler(url, **config)
    assert third.run(big_list(5000)) == list(range(5000))
    assert not reader.jobs_of_execution(reader.executions()[0].id)[0].cached


def test_value_store_can_be_turned_off(url: str, tmp_path: Path) -> None:
    config = {"inline_max_bytes": "1000", "value_store": "none"}
    make_scheduler(url, **config).run(big_list(3000))
    reader = reader_for(url, **config)
    (value,) = [
        v
        for v in reader.values(
            [r[0] for r in reader.query("SELECT hash FROM redun_value")]
        ).values()
        if v.type_name == "list"
    ]
    assert value.location == "inline"
    assert not (tmp_path / ".redun" / "values").exists()


def test_unpicklable_results_are_recorded_but_not_reused(url: str) -> None:
    make_scheduler(url).run(unpicklable(1))
    reader = reader_for(url)
    job = reader.jobs_of_execution(reader.executions()[0].id)[0]
    call = reader.call(job.call_hash)
    assert reader.values([call.result_hash])[call.result_hash].location == "none"
    make_scheduler(url).run(unpicklable(1))
    again = reader.jobs_of_execution(reader.executions()[0].id)[0]
    assert not again.cached
    assert "could not be loaded" in (again.reason or "")


def test_failed_jobs_keep_their_error_and_arguments(url: str) -> None:
    with pytest.raises(ValueError):
        make_scheduler(url).run(boom(3))
    reader = reader_for(url)
    execution = reader.executions()[0]
    assert execution.status == "failed" and "bad input 3" in (execution.error or "")
    (job,) = reader.jobs_of_execution(execution.id)
    # Its call is recorded (as redun does), its result the error, never a cache entry.
    assert job.state == "failed" and job.call_hash is not None
    (call,) = reader.calls([job.call_hash]).values()
    assert call.task_name.endswith("boom")
    assert reader.cache_entry(job.eval_hash) is None
    assert "ValueError: bad input 3" in (job.error or "")
    assert "raise ValueError" in (job.traceback or "")
    assert job.arg_hashes and list(job.arg_hashes) == ["x"]
    assert reader.values(list(job.arg_hashes.values()))


def test_execution_tags(url: str) -> None:
    make_scheduler(url).run(leaf(1), tags=[("project", "demo"), ("round", 2)])
    execution = reader_for(url).executions()[0]
    assert execution.tags == {"project": "demo", "round": 2}


def test_in_process_writer_records_the_same(url: str) -> None:
    scheduler = make_scheduler(url, writer="thread")
    assert scheduler.run(tree(4)) == [0, 10, 20, 30]
    reader = reader_for(url)
    assert len(reader.jobs_of_execution(reader.executions()[0].id)) == 5
    assert make_scheduler(url, writer="thread").run(tree(4)) == [0, 10, 20, 30]


def test_in_process_commits_use_the_writer_process_durability(url: str) -> None:
    # WAL with synchronous=NORMAL, as the writer process commits: survives any process
    # being killed, without an fsync per commit (FULL, SQLite's default, cost a cached
    # re-run that commits in-thread about half of its recording time).
    from redun.backends.sqlite_direct import DirectSqlite

    scheduler = make_scheduler(url, writer="thread")
    scheduler.run(tree(2))
    direct = scheduler.backend._direct
    assert isinstance(direct, DirectSqlite)
    levels = {conn.execute("PRAGMA synchronous").fetchone()[0] for conn in direct._connections}
    assert levels == {1}  # NORMAL, on every connection the store opened (reads and writes)


def test_fully_cached_rerun_looks_calls_up_in_bulk(url: str) -> None:
    assert make_scheduler(url).run(tree(300)) == [i * 10 for i in range(300)]
    scheduler = make_scheduler(url)
    backend = scheduler.backend
    queries: list[str] = []
    original = backend.query

    def counting(sql: str, **params: object) -> list:
        queries.append(sql)
        return original(sql, **params)

    backend.query = counting  # type: ignore[method-assign]
    assert scheduler.run(tree(300)) == [i * 10 for i in range(300)]
    # The root hits; its 300 children are checked by one tree query, not one each.
    assert len(queries) <= 6, queries


def test_partial_cache_lookups_are_batched(url: str) -> None:
    make_scheduler(url).run(tree(200))

    @task(name="tree")
    def tree2(n: int) -> list:  # same name, new code: the parent re-runs, leaves hit
        return [leaf(i) for i in range(n)] + []

    scheduler = make_scheduler(url)
    backend = scheduler.backend
    calls: list[int] = []
    original = backend.find_calls

    def counting(eval_hashes: list[str]) -> dict:
        calls.append(len(eval_hashes))
        return original(eval_hashes)

    backend.find_calls = counting  # type: ignore[method-assign]
    scheduler.run(tree2(200))
    assert max(calls) == 200  # the 200 leaves in one lookup
    jobs = scheduler.jobs()
    assert sum(1 for job in jobs if job.cached) == 200


def test_cache_clear_invalidates_a_task_and_its_callers(url: str, tmp_path: Path) -> None:
    make_scheduler(url).run(tree(3))
    backend = DbBackend(url)
    own, above = backend.clear_cache(["test_store.leaf"])
    assert (own, above) == (3, 1)
    scheduler = make_scheduler(url)
    scheduler.run(tree(3))
    states = sorted((job.task.name, job.cached) for job in scheduler.jobs())
    assert states == [("leaf", False)] * 3 + [("tree", False)]
    # Provenance is kept: the earlier execution's jobs and calls are still there.
    reader = reader_for(url)
    assert len(reader.executions()) == 2


KILL_WORKFLOW = textwrap.dedent(
    """
    import os, sys, time
    from redun import Scheduler, task
    from redun.config import Config

    redun_namespace = "killme"

    @task
    def step(i: int) -> int:
        with open("ran.log", "a") as log:
            log.write(f"{i}\\n")
        # The last ones never finish (the sleep is read at run time: not part of the code).
        time.sleep(0.05 if i < 20 else float(os.environ["SLOW_SECONDS"]))
        return i * 2

    @task
    def main(n: int) -> list:
        return [step(i) for i in range(n)]

    config = Config({"backend": {"db_uri": sys.argv[1]}, "executors.default": {"max_workers": "4"}})
    print(Scheduler(config=config).run(main(int(sys.argv[2]))))
    """
)


def test_kill_9_loses_only_unfinished_jobs(tmp_path: Path) -> None:
    script = tmp_path / "killme.py"
    script.write_text(KILL_WORKFLOW)
    url = f"sqlite:///{tmp_path}/.redun/redun.db"
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", SLOW_SECONDS="30")
    proc = subprocess.Popen(
        [sys.executable, str(script), url, "24"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    database = tmp_path / ".redun" / "redun.db"

    def committed_steps() -> int:
        if not database.exists():
            return 0
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute(
                "SELECT COUNT(*) FROM redun_call_node WHERE task_name = 'killme.step'"
            ).fetchone()[0]
        except sqlite3.OperationalError:  # the schema is not there yet
            return 0
        finally:
            conn.close()

    # Kill it once the 20 quick steps are committed, while the last 4 still run.
    wait_for(lambda: committed_steps() == 20, "the 20 quick steps to be committed", timeout=60)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # The database is consistent and holds every finished step, and only those.
    conn = sqlite3.connect(database, timeout=30)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    done = conn.execute(
        "SELECT COUNT(*) FROM redun_call_node WHERE task_name = 'killme.step'"
    ).fetchone()[0]
    assert done == 20
    (status,) = conn.execute("SELECT status FROM redun_execution").fetchone()
    assert status == "running"  # never finished; `redun log` shows it as interrupted
    conn.close()

    # A re-run (with the slow steps made quick) reuses the 20 committed results.
    (tmp_path / "ran.log").unlink()
    rerun = subprocess.run(
        [sys.executable, str(script), url, "24"],
        cwd=tmp_path,
        env={**env, "SLOW_SECONDS": "0"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.strip() == str([i * 2 for i in range(24)])
    rerun_steps = sorted(int(i) for i in (tmp_path / "ran.log").read_text().split())
    assert rerun_steps == [20, 21, 22, 23]


def test_check_valid_full_and_shallow(url: str) -> None:
    @task(name="inner_cv")
    def inner(x: int) -> int:
        return x + 1

    @task(name="outer_full")
    def outer_full(x: int) -> int:
        return inner(x)

    @task(name="outer_shallow", check_valid="shallow")
    def outer_shallow(x: int) -> int:
        return inner(x)

    make_scheduler(url).run([outer_full(1), outer_shallow(1)])

    @task(name="inner_cv")
    def inner_changed(x: int) -> int:  # new code registered under the same name
        return x + 100

    full = make_scheduler(url)
    # A task below the recorded call changed: the parent's own call is still cached, and
    # the expression it returned, inner_cv(1), is evaluated again with inner_cv as it is
    # defined now (tasks are called by name, as in the original).
    assert full.run(outer_full(1)) == 101
    (parent,) = [job for job in full.jobs() if job.task.name == "outer_full"]
    assert parent.cached and parent.replayed
    assert "the code of task test_store.inner_cv changed" in parent.reason
    (child,) = [job for job in full.jobs() if job.task.name == "inner_cv"]
    assert not child.cached
    # Shallow checks the files of its own result only, but the code of every call below
    # it, as redun's: it is replayed too.
    shallow = make_scheduler(url)
    assert shallow.run(outer_shallow(1)) == 101
    (parent,) = [job for job in shallow.jobs() if job.task.name == "outer_shallow"]
    assert parent.cached and parent.replayed
    assert "the code of task test_store.inner_cv changed" in parent.reason


def test_changed_file_result_is_rerun(url: str, tmp_path: Path) -> None:
    path = str(tmp_path / "made.txt")
    make_scheduler(url).run(produce_file(path, "v1"))
    Path(path).write_text("tampered with")
    again = make_scheduler(url)
    assert again.run(produce_file(path, "v1")).read() == "v1"
    (job,) = again.jobs()
    assert not job.cached and "changed or were deleted" in job.reason


def test_the_last_batch_of_a_run_starts_no_writer_process(url: str) -> None:
    """A writer process takes commits off a running scheduler's GIL; the batch committed
    at close, with nothing left to run, is committed in this process instead of paying
    for a process's start (a re-run whose many jobs were cached writes just that)."""
    from redun.backends.bulk import Batch
    from redun.backends.recorder import _PROCESS_AFTER, DbRecorder

    backend = DbBackend(url, {"db_uri": url})
    backend.load()
    closing = DbRecorder(backend)
    try:
        closing._commit(Batch(), [], _PROCESS_AFTER, last=True)
        assert closing._process is None
    finally:
        closing.close()
    running = DbRecorder(backend)
    try:
        running._commit(Batch(), [], _PROCESS_AFTER)
        assert running._process is not None
    finally:
        running.close()


@task
def salted_tree(n: int, salt: int) -> list:
    return [leaf(i) for i in range(n)]


def test_cached_jobs_start_no_writer_process(url: str) -> None:
    """Cached jobs are one cheap row each: a batch of them is committed in this process,
    even while the run goes on; a batch of as many calls that ran starts a writer."""
    from redun.backends.recorder import _PROCESS_AFTER, DbRecorder

    cold = make_scheduler(url)
    cold.run(salted_tree(_PROCESS_AFTER, 0))
    cached = make_scheduler(url)
    cached.run(salted_tree(_PROCESS_AFTER, 1))  # the root runs; its calls are cached
    assert sum(job.cached for job in cached.jobs()) >= _PROCESS_AFTER
    for scheduler, wants_process in ((cached, False), (cold, True)):
        recorder = DbRecorder(scheduler.backend, scheduler)
        try:
            recorder._write([("job", job) for job in scheduler.jobs()])  # not the last batch
            assert (recorder._process is not None) is wants_process
        finally:
            recorder.close()


def test_jobs_that_ran_start_the_writer_process_at_once(url: str) -> None:
    """The writer process is started by the report that makes ``_PROCESS_AFTER`` state
    changes of jobs that ran, not at the writer thread's next wake (which, behind a busy
    scheduler, came late enough to put the process's start-up at the run's end)."""
    from redun.backends.recorder import _PROCESS_AFTER, DbRecorder

    scheduler = make_scheduler(url)
    scheduler.run(tree(3))
    ran = [job for job in scheduler.jobs() if not job.cached]
    recorder = DbRecorder(scheduler.backend, scheduler)
    try:
        for count in range(_PROCESS_AFTER):
            assert recorder._process is None
            recorder.job_changed(ran[count % len(ran)])
        assert recorder._process is not None
    finally:
        recorder.close()


def test_the_writer_process_starts_when_stdin_and_stdout_are_closed(tmp_path: Path) -> None:
    """A parent without fds 0 and 1 gets its pipes to the writer there, and the writer
    still gets them as its stdin and stdout, and commits as usual."""
    db = tmp_path / "w.db"
    sqlite3.connect(db).execute("CREATE TABLE t (x INTEGER PRIMARY KEY)").connection.close()
    script = textwrap.dedent(
        f"""
        import os
        os.close(0)
        os.close(1)
        from redun.backends.writer_process import WriterProcess
        process = WriterProcess("sqlite", {{"path": {str(db)!r}, "busy_ms": 5000}})
        process.execute([("INSERT INTO t (x) VALUES (?)", [(1,), (2,)])])
        process.close()
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    rows = sqlite3.connect(db).execute("SELECT x FROM t ORDER BY x").fetchall()
    assert rows == [(1,), (2,)]
