"""Stored verdicts on call trees (redun_tree_check): a cached re-run skips the tree walk while
the verdict's conditions hold, and walks the tree (which says why) as soon as one does not.

A verdict is kept by the tree walk, and by the recorder at the end of a run in which every
call of a single root ran (it made the whole tree just now): the first re-run is answered
without a walk as well."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from redun import File, Scheduler, task
from redun.backends import schema
from redun.backends.calltree import CallTrees
from redun.backends.db import DbBackend
from redun.backends.migrate import read_state, run_alembic
from redun.config import Config
from redun.scheduler import cache
from tests.sdk.test_postgres_store import pg_url  # noqa: F401  (a fixture)

redun_namespace = "test_tree_memo"

RAN: list[str] = []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path}/redun.db"


@pytest.fixture
def tree_reads(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The roots of every call tree a backend was asked for (the real method still answers)."""
    reads: list[list[str]] = []
    original = DbBackend.get_call_tree

    def counting(self: DbBackend, call_hashes: list[str]) -> Any:
        reads.append(list(call_hashes))
        return original(self, call_hashes)

    monkeypatch.setattr(DbBackend, "get_call_tree", counting)
    return reads


def run(url: str, expr: Any) -> tuple[Any, Scheduler]:
    scheduler = Scheduler(config=Config({"backend": {"db_uri": url}}))
    return scheduler.run(expr), scheduler


def stored_checks(url: str) -> list[tuple]:
    backend = DbBackend(url)
    try:
        return list(backend.query("SELECT call_hash, tasks, shallow, checks FROM redun_tree_check"))
    finally:
        backend.close()


def root_job(scheduler: Scheduler, name: str) -> Any:
    (job,) = [job for job in scheduler.jobs() if job.task.name == name]
    return job


@task
def leaf_a(x: int) -> int:
    RAN.append("leaf_a")
    return x + 1


@task
def gather_a(values: list) -> int:
    return sum(values)


@task
def fan_a(n: int) -> int:
    return gather_a([leaf_a(i) for i in range(n)])


def forget_verdicts(url: str) -> None:
    backend = DbBackend(url)
    try:
        with backend.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM redun_tree_check"))
    finally:
        backend.close()


def test_a_cached_rerun_is_answered_without_reading_the_tree(
    url: str, tree_reads: list[list[str]]
) -> None:
    result, scheduler = run(url, fan_a(20))
    assert result == 210 and tree_reads == []  # nothing cached yet
    # Every call of the run ran in it: the recorder kept the verdict on its root.
    (row,) = stored_checks(url)
    assert row[0] == root_job(scheduler, "fan_a").call_hash
    RAN.clear()
    result, scheduler = run(url, fan_a(20))
    assert result == 210 and RAN == [] and tree_reads == []
    assert [job.cached for job in scheduler.jobs()] == [True]
    kept_reason = root_job(scheduler, "fan_a").reason

    # The walk, without the verdict, reaches the same one and says the same.
    forget_verdicts(url)
    result, scheduler = run(url, fan_a(20))
    assert result == 210 and RAN == [] and len(tree_reads) == 1
    assert stored_checks(url) == [row]
    assert root_job(scheduler, "fan_a").reason == kept_reason


@task
def shuffle_e(files: list, scale: int = 2) -> File:
    RAN.append("shuffle_e")
    out = File(files[0].path + ".shuffled")
    out.write(" ".join(f.read() for f in files) * scale)
    return out


@task
def words_e(data: File, *, sep: str = " ") -> int:
    return len(data.read().split(sep))


@task
def plain_e(x: int) -> dict:
    return {"x": x, "files": []}


@task
def nested_e(paths: list) -> list:
    files = [write_c(path) for path in paths]
    return [words_e(shuffle_e(files, scale=3)), plain_e(len(paths)), count_c(files[0])]


def test_the_verdict_kept_after_a_run_is_the_one_the_walk_reaches(
    url: str, tmp_path: Path, tree_reads: list[list[str]]
) -> None:
    paths = [str(tmp_path / f"in{i}.txt") for i in range(3)]
    assert run(url, nested_e(paths))[0] == [25, {"x": 3, "files": []}, 3]
    (kept,) = stored_checks(url)
    assert kept[3] != "[]"  # files: written ones, and those passed on as arguments
    forget_verdicts(url)
    RAN.clear()
    assert run(url, nested_e(paths))[0] == [25, {"x": 3, "files": []}, 3]
    assert RAN == [] and len(tree_reads) == 1
    (walked,) = stored_checks(url)
    assert kept == walked


@task
def unrecorded_f(x: int) -> int:
    return x * 2


@task
def mixed_f(x: int) -> list:
    return [leaf_a(x), unrecorded_f.options(prov=False)(x)]


def test_no_verdict_after_a_run_with_a_cached_or_unrecorded_call(
    url: str, tree_reads: list[list[str]]
) -> None:
    assert run(url, leaf_a(7))[0] == 8
    assert run(url, fan_a(8))[0] == 36  # leaf_a(7) came from the cache
    roots = [row[0] for row in stored_checks(url)]
    assert len(roots) == 1  # leaf_a(7)'s own, not fan_a's: its tree was not all made here
    assert run(url, mixed_f(100))[0] == [101, 200]
    assert len(stored_checks(url)) == 1  # a call below was not recorded: the walk decides
    assert len(tree_reads) == 0
    RAN.clear()
    assert run(url, fan_a(8))[0] == 36 and RAN == [] and len(tree_reads) == 1


def test_roots_looked_up_together_keep_a_verdict_each(
    url: str, tree_reads: list[list[str]]
) -> None:
    assert run(url, [fan_a(3), fan_a(5), gather_a([1, 2])])[0] == [6, 15, 3]
    assert stored_checks(url) == []  # three calls at the top: no single root's tree
    assert run(url, [fan_a(3), fan_a(5), gather_a([1, 2])])[0] == [6, 15, 3]
    assert len(tree_reads) == 1 and len(tree_reads[0]) == 3  # one walk for the three
    assert len(stored_checks(url)) == 3
    RAN.clear()
    result, scheduler = run(url, [fan_a(3), fan_a(5), gather_a([1, 2])])
    assert result == [6, 15, 3] and RAN == [] and len(tree_reads) == 1
    # Every call came from the cache; the root job holding the three is never looked up.
    assert all(job.cached for job in scheduler.jobs() if job.task.name != "root_task")


def define_leaf_b(offset: int) -> None:
    @task(name="leaf_b")
    def leaf(x: int) -> int:
        RAN.append("leaf_b")
        return x + offset

    del leaf


@task
def fan_b(n: int) -> list:
    from redun.task import get_task_registry

    leaf = get_task_registry().require("test_tree_memo.leaf_b")
    return [leaf(i) for i in range(n)]


def test_a_changed_leaf_reruns_and_is_explained_as_without_the_verdict(
    tmp_path: Path, tree_reads: list[list[str]]
) -> None:
    kept = f"sqlite:///{tmp_path}/kept.db"
    dropped = f"sqlite:///{tmp_path}/dropped.db"
    define_leaf_b(1)
    for url in (kept, dropped):
        for _ in range(2):
            assert run(url, fan_b(3))[0] == [1, 2, 3]
    assert len(stored_checks(kept)) == 1
    with sqlite3.connect(tmp_path / "dropped.db") as conn:
        conn.execute("DELETE FROM redun_tree_check")
    conn.close()
    assert stored_checks(dropped) == []

    define_leaf_b(10)  # the leaf's code changes after the verdict was kept
    reasons = []
    for url in (kept, dropped):
        RAN.clear()
        result, scheduler = run(url, fan_b(3))
        assert result == [10, 11, 12]
        assert RAN == ["leaf_b"] * 3
        job = root_job(scheduler, "fan_b")
        assert job.replayed
        reasons.append(job.reason)
    assert "the code of task test_tree_memo.leaf_b changed" in reasons[0]
    assert reasons[0] == reasons[1]
    define_leaf_b(1)


@task
def write_c(path: str) -> File:
    RAN.append("write_c")
    out = File(path)
    out.write("one two three")
    return out


@task
def count_c(data: File) -> int:
    RAN.append("count_c")
    return len(data.read().split())


@task
def files_c(path: str) -> int:
    return count_c(write_c(path))


def without_tree_reads(monkeypatch: pytest.MonkeyPatch, ask: Callable[..., Any], *args: Any) -> Any:
    """What ``ask(*args)`` answers, checking that it read no call tree."""
    reads: list[list[str]] = []
    original = CallTrees._read

    def counting(self: CallTrees, roots: list[str]) -> None:
        reads.append(roots)
        original(self, roots)

    with monkeypatch.context() as patch:
        patch.setattr(CallTrees, "_read", counting)
        answer = ask(*args)
    assert reads == []
    return answer


def test_an_edited_file_in_a_leaf_result_invalidates_the_verdict(
    url: str, tmp_path: Path, tree_reads: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(tmp_path / "out.txt")
    assert run(url, files_c(path))[0] == 3
    ((_, _, _, checks),) = stored_checks(url)
    assert checks != "[]"  # the file (result of write_c, argument of count_c) is checked
    RAN.clear()
    result, scheduler = run(url, files_c(path))
    assert result == 3 and RAN == [] and tree_reads == []
    # The files of the cached job (a watch follows them) come from the verdict too.
    root = root_job(scheduler, "files_c")
    files = without_tree_reads(monkeypatch, scheduler.backend.files_in_calls, [root.call_hash])
    assert files == {path}

    Path(path).write_text("edited by hand")
    RAN.clear()
    result, scheduler = run(url, files_c(path))
    assert result == 3
    assert RAN[0] == "write_c"  # its result's file changed: it runs again
    assert len(tree_reads) == 1  # the verdict did not hold: walked
    job = root_job(scheduler, "files_c")
    assert job.replayed and "files in the result of test_tree_memo.write_c" in job.reason


def define_leaf_d(offset: int) -> None:
    @task(name="leaf_d")
    def leaf(x: int) -> int:
        RAN.append("leaf_d")
        return x + offset

    del leaf


def define_mid_d(check_valid: str) -> None:
    @task(name="mid_d", check_valid=check_valid)
    def mid(x: int) -> int:
        from redun.task import get_task_registry

        return get_task_registry().require("test_tree_memo.leaf_d")(x)

    del mid


@task
def top_d(x: int) -> int:
    from redun.task import get_task_registry

    return get_task_registry().require("test_tree_memo.mid_d")(x)


def test_a_verdict_through_a_shallow_boundary_rests_on_the_code_below_it(
    url: str, tree_reads: list[list[str]]
) -> None:
    define_leaf_d(1)
    define_mid_d("shallow")
    for _ in range(2):
        assert run(url, top_d(5))[0] == 6
    ((_, tasks, shallow, _),) = stored_checks(url)
    # The walk checked mid_d's own result only, but the code of every call below it.
    assert shallow == '["+code-below","test_tree_memo.mid_d"]' and "leaf_d" in tasks
    RAN.clear()
    assert run(url, top_d(5))[0] == 6 and RAN == [] and len(tree_reads) == 1

    # Below the shallow boundary the leaf changes: the verdict no longer holds, and the
    # walk finds the leaf (as redun's shallow check would).
    define_leaf_d(100)
    result, scheduler = run(url, top_d(5))
    assert result == 105 and RAN == ["leaf_d"] and len(tree_reads) == 2
    job = root_job(scheduler, "top_d")
    assert "the code of task test_tree_memo.leaf_d changed" in job.reason
    RAN.clear()
    assert run(url, top_d(5))[0] == 105 and RAN == []
    # Once mid_d checks fully, a verdict naming it as a boundary no longer applies.
    reads = len(tree_reads)
    define_mid_d("full")
    assert run(url, top_d(5))[0] == 105 and RAN == [] and len(tree_reads) == reads + 1
    define_leaf_d(1)
    define_mid_d("shallow")


def test_a_shallow_lookup_keeps_a_code_only_verdict(url: str, tree_reads: list[list[str]]) -> None:
    from redun.task import get_task_registry

    def mid() -> Any:
        return get_task_registry().require("test_tree_memo.mid_d")(5)

    define_leaf_d(1)
    define_mid_d("shallow")
    try:
        run(url, mid())
        run(url, mid())  # the shallow hit reads its tree once, and keeps what it found
        (row,) = [row for row in stored_checks(url) if row[2] == '["+code-only"]']
        assert "leaf_d" in row[1] and row[3] == "[]"
        reads = len(tree_reads)
        RAN.clear()
        assert run(url, mid())[0] == 6 and RAN == [] and len(tree_reads) == reads
        # The code below changed: the verdict does not hold.
        define_leaf_d(100)
        assert run(url, mid())[0] == 105 and RAN == ["leaf_d"]
        assert len(tree_reads) == reads + 1
        # Checked fully, the same call does not take a code-only verdict: it walks.
        define_leaf_d(1)
        run(url, mid())
        run(url, mid())
        define_mid_d("full")
        reads = len(tree_reads)
        RAN.clear()
        assert run(url, mid())[0] == 6 and RAN == [] and len(tree_reads) == reads + 1
    finally:
        define_leaf_d(1)
        define_mid_d("shallow")


def test_a_verdict_kept_without_the_code_below_its_boundaries_is_not_trusted(
    url: str, tree_reads: list[list[str]]
) -> None:
    define_leaf_d(1)
    define_mid_d("shallow")
    run(url, top_d(5))
    run(url, top_d(5))
    ((root, _, _, _),) = stored_checks(url)
    # As an older version kept it: the boundary listed, the code below it not.
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE redun_tree_check SET shallow = :s, tasks = :t WHERE call_hash = :h"),
            {"s": '["test_tree_memo.mid_d"]', "t": "[]", "h": root},
        )
    engine.dispose()
    define_leaf_d(100)
    RAN.clear()
    reads = len(tree_reads)
    assert run(url, top_d(5))[0] == 105 and RAN == ["leaf_d"]
    assert len(tree_reads) == reads + 1
    define_leaf_d(1)


def test_a_verdict_resting_on_too_many_values_is_not_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tree_reads: list[list[str]]
) -> None:
    url = f"sqlite:///{tmp_path}/redun.db"
    monkeypatch.setattr(cache, "MAX_TREE_CHECK_VALUES", 0)
    path = str(tmp_path / "out.txt")
    for _ in range(3):
        assert run(url, files_c(path))[0] == 3
    assert stored_checks(url) == []  # neither the run's nor the walk's
    assert len(tree_reads) == 2  # each cached re-run walks


def _upgrade_to_0004(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        run_alembic(conn, "upgrade", "0004")
    engine.dispose()


def test_a_database_at_0004_is_migrated_and_keeps_verdicts(
    url: str, tree_reads: list[list[str]]
) -> None:
    _upgrade_to_0004(url)
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        state = read_state(conn)
    engine.dispose()
    assert state.revision == "0004" and "redun_tree_check" not in state.tables
    for _ in range(3):
        assert run(url, fan_a(4))[0] == 10
    assert tree_reads == [] and len(stored_checks(url)) == 1  # kept by the first run
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert read_state(conn).revision == schema.HEAD_REVISION == "0006"
    engine.dispose()
