"""Caching granularity: a cached call whose subtree changed re-evaluates its returned
expression, and only the calls that are no longer valid run.

Each test runs on the in-memory store and on SQLite (a new Scheduler and store
object per run, as separate processes would have).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from redun import File, Scheduler, task
from redun.backends import MemoryBackend, backend_from_config
from redun.events import JobStateChanged
from redun.scheduler import DryRunResult, JobState

redun_namespace = "test_incremental"

CALLS: list[str] = []


def log(name: str) -> None:
    # Through globals(): a task that named CALLS would hash the list by value (a module
    # constant), and its hash would change as the list fills.
    globals()["CALLS"].append(name)


@pytest.fixture(params=["memory", "sqlite"])
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Scheduler]:
    """A scheduler on the same store each time it is called."""
    if request.param == "memory":
        backend = MemoryBackend()
        return lambda: Scheduler(backend=backend)
    uri = f"sqlite:///{tmp_path}/redun.db"
    return lambda: Scheduler(backend=backend_from_config({"db_uri": uri}))


def run(make: Callable[[], Scheduler], expr: object) -> tuple[object, Scheduler]:
    CALLS.clear()
    scheduler = make()
    try:
        return scheduler.run(expr), scheduler
    finally:
        scheduler.stop()


def states(scheduler: Scheduler) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for job in scheduler.jobs():
        label = "replayed" if job.replayed else job.state.value
        found.setdefault(job.task.name, set()).add(label)
    return found


# -- a child's code changes: only the child runs ----------------------------------------


def define_align(version: int) -> None:
    @task(name="align")
    def align(reads: str) -> str:
        log("align")
        return f"align{version}({reads})"


def define_call(version: int) -> None:
    @task(name="call_variants")
    def call_variants(aligned: str) -> str:
        log("call_variants")
        return f"calls{version}({aligned})"


define_align(1)
define_call(1)


@task
def genome_workflow(reads: str) -> str:
    log("workflow")
    from redun.task import get_task_registry

    registry = get_task_registry()
    align = registry.require("test_incremental.align")
    call_variants = registry.require("test_incremental.call_variants")
    return call_variants(align(reads))


def test_only_the_changed_child_runs_and_a_revert_is_fully_cached(make) -> None:
    define_call(1)
    assert run(make, genome_workflow("r"))[0] == "calls1(align1(r))"
    assert CALLS == ["workflow", "align", "call_variants"]
    result, scheduler = run(make, genome_workflow("r"))
    assert result == "calls1(align1(r))" and CALLS == []
    assert len(scheduler.jobs()) == 1  # the whole cached tree in one step

    define_call(2)
    result, scheduler = run(make, genome_workflow("r"))
    assert result == "calls2(align1(r))"
    assert CALLS == ["call_variants"]
    assert states(scheduler) == {
        "genome_workflow": {"replayed"},
        "align": {"cached"},
        "call_variants": {"done"},
    }
    (parent,) = [job for job in scheduler.jobs() if job.task.name == "genome_workflow"]
    assert parent.state is JobState.CACHED and parent.cached
    assert "the code of task test_incremental.call_variants changed" in parent.reason

    define_call(1)  # reverted: every call is in the cache again
    result, _ = run(make, genome_workflow("r"))
    assert result == "calls1(align1(r))" and CALLS == []


# -- a file a child made is deleted: only that child runs -------------------------------


@task
def make_file(path: str, text: str) -> File:
    log(f"make_file:{os.path.basename(path)}")
    out = File(path)
    out.write(text)
    return out


@task
def read_both(first: File, second: File) -> str:
    log("read_both")
    return first.read() + second.read()


@task
def file_workflow(directory: str) -> str:
    log("file_workflow")
    first = make_file(os.path.join(directory, "a.txt"), "A")
    second = make_file(os.path.join(directory, "b.txt"), "B")
    return read_both(first, second)


def test_a_deleted_file_reruns_only_the_child_that_made_it(make, tmp_path: Path) -> None:
    assert run(make, file_workflow(str(tmp_path)))[0] == "AB"
    assert run(make, file_workflow(str(tmp_path)))[0] == "AB" and CALLS == []
    (tmp_path / "b.txt").unlink()
    result, scheduler = run(make, file_workflow(str(tmp_path)))
    assert result == "AB"
    # b.txt is made again (a new file: a new hash, so its reader runs too); a.txt's maker
    # and the workflow itself do not run.
    assert CALLS == ["make_file:b.txt", "read_both"]
    assert (tmp_path / "b.txt").read_text() == "B"
    assert states(scheduler)["file_workflow"] == {"replayed"}
    assert states(scheduler)["make_file"] == {"cached", "done"}
    assert run(make, file_workflow(str(tmp_path)))[0] == "AB" and CALLS == []


# -- cache=False below a cached call ---------------------------------------------------


@task(cache=False)
def volatile(x: int) -> int:
    log("volatile")
    return x


@task
def stable(x: int) -> int:
    log("stable")
    return x * 10


@task
def uses_volatile(x: int) -> int:
    log("uses_volatile")
    return stable(volatile(x))


def test_a_cache_false_child_runs_every_time_under_a_cached_parent(make) -> None:
    assert run(make, uses_volatile(2))[0] == 20
    assert CALLS == ["uses_volatile", "volatile", "stable"]
    for _ in range(2):
        result, scheduler = run(make, uses_volatile(2))
        assert result == 20
        assert CALLS == ["volatile"]  # the parent is replayed, stable(2) is a hit
        assert states(scheduler) == {
            "uses_volatile": {"replayed"},
            "volatile": {"done"},
            "stable": {"cached"},
        }


def test_a_cache_false_result_is_cached_for_a_cacheable_call_of_it(make) -> None:
    # As redun: cache=False skips the lookup, not the recording. The same call made
    # cacheable later takes that result; below a cached parent it still runs each time.
    for _ in range(2):
        assert run(make, volatile(3))[0] == 3
        assert CALLS == ["volatile"]
    result, scheduler = run(make, volatile.options(cache=True)(3))
    assert (result, CALLS, states(scheduler)) == (3, [], {"volatile": {"cached"}})
    assert run(make, uses_volatile(3))[0] == 30
    assert CALLS == ["uses_volatile", "volatile", "stable"]
    assert run(make, uses_volatile(3))[0] == 30
    assert CALLS == ["volatile"]


def test_cache_scope_none_and_cse_as_strings(make) -> None:
    # The original's CacheScope values: CSE shares a call within a run, NONE does not.
    cse = volatile.options(cache_scope="CSE")
    none = volatile.options(cache_scope="NONE")
    run(make, [cse(5), cse(5)])
    assert CALLS == ["volatile"]
    run(make, [cse(5)])
    assert CALLS == ["volatile"]
    run(make, [none(6), none(6)])  # one expression under one parent: made once
    assert CALLS == ["volatile"]
    run(make, [none(6)])  # but never taken from the cache
    assert CALLS == ["volatile"]


# -- dry runs, shallow checks, one-step hits, events ------------------------------------


@task
def leaf(x: int) -> int:
    log("leaf")
    return x + 1


@task
def middle(x: int) -> int:
    log("middle")
    return leaf(x) + leaf(x + 100)


@task
def top(x: int) -> int:
    log("top")
    return middle(x) + stable(x)


def redefine_leaf(offset: int) -> None:
    """A new version of `leaf`, as an edit and a new process would give (the module's name
    for it included)."""

    @task(name="leaf")
    def leaf(x: int) -> int:
        log("leaf")
        return x + offset

    globals()["leaf"] = leaf


def test_a_dry_run_lists_exactly_the_calls_that_would_run(make) -> None:
    redefine_leaf(1)
    assert run(make, top(1))[0] == 2 + 102 + 10
    redefine_leaf(2)
    CALLS.clear()
    scheduler = make()
    with pytest.raises(DryRunResult) as caught:
        scheduler.run(top(1), dryrun=True)
    assert CALLS == []  # nothing ran
    would_run = sorted((job.task.name, job.call_args) for job in caught.value.jobs)
    assert would_run == [("leaf", (1,)), ("leaf", (101,))]
    # ...and that is what a real run then runs.
    assert run(make, top(1))[0] == 3 + 103 + 10
    assert CALLS == ["leaf", "leaf"]
    redefine_leaf(1)


@task(check_valid="shallow")
def shallow_top(x: int) -> int:
    log("shallow_top")
    return middle(x)


def test_shallow_is_one_step_while_the_code_below_it_is_unchanged(make) -> None:
    redefine_leaf(1)
    assert run(make, shallow_top(5))[0] == 6 + 106
    result, scheduler = run(make, shallow_top(5))
    assert result == 6 + 106 and CALLS == [] and len(scheduler.jobs()) == 1
    redefine_leaf(1)


def test_shallow_replays_when_the_code_of_a_call_below_it_changed(make) -> None:
    # As redun's shallow check: every task in the call tree must be the current version
    # (only the files of the call's own result are checked, not those below).
    redefine_leaf(1)
    assert run(make, shallow_top(5))[0] == 6 + 106
    redefine_leaf(2)
    result, scheduler = run(make, shallow_top(5))
    assert result == 7 + 107
    assert CALLS == ["leaf", "leaf"]  # shallow_top and middle are replayed, not run
    assert states(scheduler) == {
        "shallow_top": {"replayed"},
        "middle": {"replayed"},
        "leaf": {"done"},
    }
    top_job = next(job for job in scheduler.jobs() if job.task.name == "shallow_top")
    assert "the code of task" in top_job.reason and "leaf" in top_job.reason
    assert run(make, shallow_top(5))[0] == 7 + 107 and CALLS == []
    redefine_leaf(1)


@task
def over_shallow(x: int) -> int:
    log("over_shallow")
    return shallow_top(x) + 1


def test_a_shallow_call_below_a_full_one_is_judged_as_if_looked_up_itself(make) -> None:
    redefine_leaf(1)
    assert run(make, over_shallow(5))[0] == 6 + 106 + 1
    result, scheduler = run(make, over_shallow(5))
    assert result == 6 + 106 + 1 and CALLS == [] and len(scheduler.jobs()) == 1
    redefine_leaf(2)
    result, scheduler = run(make, over_shallow(5))
    assert result == 7 + 107 + 1 and CALLS == ["leaf", "leaf"]
    redefine_leaf(1)


@task
def fib(n: int) -> int:
    if n < 2:
        return n
    return add2(fib(n - 1), fib(n - 2))


@task
def add2(a: int, b: int) -> int:
    return a + b


def test_a_fully_cached_recursive_workflow_is_one_step(make) -> None:
    assert run(make, fib(15))[0] == 610
    events: list[JobStateChanged] = []
    scheduler = make()
    scheduler.events.subscribe(lambda e: events.append(e) if type(e) is JobStateChanged else None)
    assert scheduler.run(fib(15)) == 610
    assert [(e.task, e.state) for e in events] == [
        ("test_incremental.fib", "pending"),
        ("test_incremental.fib", "cached"),
    ]


def test_events_say_what_came_from_the_cache_and_what_ran(make) -> None:
    redefine_leaf(1)
    run(make, top(7))
    redefine_leaf(3)
    events: list[JobStateChanged] = []
    scheduler = make()
    scheduler.events.subscribe(lambda e: events.append(e) if type(e) is JobStateChanged else None)
    assert scheduler.run(top(7)) == 10 + 110 + 70
    seen: dict[str, list[tuple[str, bool]]] = {}
    for event in events:
        seen.setdefault(event.task.rsplit(".", 1)[1], []).append((event.state, event.cached))
    # The cached calls re-evaluating their expressions never run; the leaves do.
    assert seen["top"] == [("pending", False), ("pending", True), ("cached", True)]
    assert seen["middle"] == [("pending", False), ("pending", True), ("cached", True)]
    assert seen["stable"] == [("pending", False), ("cached", True)]
    assert ("running", False) in seen["leaf"] and ("done", False) in seen["leaf"]
    replayed = [e for e in events if e.state == "cached" and e.task.endswith("top")]
    assert replayed[0].reason.startswith("cached call re-evaluated")
    redefine_leaf(1)


# -- a task kept in a cached value ------------------------------------------------------


def define_adder(extra: int) -> None:
    @task(name="adder")
    def adder(a: int, b: int) -> int:
        log("adder")
        return a + b + extra


define_adder(10)


@task
def chooser(key: str) -> object:
    log("chooser")
    from redun.task import get_task_registry

    return get_task_registry().require(f"test_incremental.{key}")


@task
def apply_chosen(key: str, a: int, b: int) -> int:
    log("apply_chosen")
    return chooser(key)(a, b)


def test_a_cached_value_holding_a_changed_task_is_stale(make) -> None:
    define_adder(10)
    assert run(make, apply_chosen("adder", 2, 3))[0] == 15
    assert run(make, apply_chosen("adder", 2, 3))[0] == 15 and CALLS == []
    define_adder(0)
    result, scheduler = run(make, apply_chosen("adder", 2, 3))
    assert result == 5  # not 15: the cached task value is no longer the task
    assert CALLS == ["chooser", "adder"]
    (job,) = [job for job in scheduler.jobs() if job.task.name == "chooser"]
    assert "a task in it changed its code" in job.reason
    define_adder(10)


# -- expressions that cannot be recorded ------------------------------------------------


@task
def chain(n: int) -> int:
    log("chain")
    value = 0
    for _ in range(n):
        value = leaf(value)
    return value


def test_a_too_deep_expression_reruns_its_parent_correctly(make) -> None:
    redefine_leaf(1)
    assert run(make, chain(3000))[0] == 3000
    redefine_leaf(2)
    assert run(make, chain(3000))[0] == 6000
    assert CALLS.count("chain") == 1 and CALLS.count("leaf") == 3000
    redefine_leaf(1)


# -- through the command line: dry run, log and explain --------------------------------

FLOW = """
from redun import task

redun_namespace = "cli_incremental"


@task
def child(x: int) -> int:
    return x + 1


@task
def other(x: int) -> int:
    return x * 2


@task
def parent(x: int) -> int:
    return child(x) + other(x)
"""


def test_the_cli_says_what_re_ran(tmp_path: Path, cli_env: dict[str, str]) -> None:
    import subprocess

    from tests.conftest import redun_cli

    def redun(*args: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [*redun_cli(), *args], cwd=tmp_path, env=cli_env, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
        return proc

    (tmp_path / "flow.py").write_text(FLOW)
    assert redun("run", "--no-progress", "flow.py", "parent", "--x", "3").stdout.strip() == "10"
    (tmp_path / "flow.py").write_text(FLOW.replace("x + 1", "x + 2"))
    dry = redun("run", "--no-progress", "--dryrun", "flow.py", "parent", "--x", "3")
    assert "1 job(s) would run" in dry.stderr and "cli_incremental.child(3)" in dry.stderr
    assert "parent(" not in dry.stderr.split("would run:")[1]
    assert redun("run", "--no-progress", "flow.py", "parent", "--x", "3").stdout.strip() == "11"
    log = redun("log", "-").stdout
    assert "CACHED" in log and "(re-evaluated)" in log
    jobs = {
        re.search(r"(cli_incremental\.\w+)\(", line).group(1): line  # type: ignore[union-attr]
        for line in log.splitlines()
        if line.strip().startswith("Job ")
    }
    assert (
        "CACHED" in jobs["cli_incremental.parent"]
        and "(re-evaluated)" in jobs["cli_incremental.parent"]
    )
    assert "DONE" in jobs["cli_incremental.child"]
    assert "CACHED" in jobs["cli_incremental.other"]
    assert "(re-evaluated)" not in jobs["cli_incremental.other"]
    explained = redun("explain", "-").stdout
    assert "1 job(s) ran, 2 hit the cache (1 of them re-evaluated" in explained
    assert "the code of task cli_incremental.child changed" in explained


# -- a replay answers the calls of a tree it walked without asking again ----------------
@task
def square(x: int) -> int:
    return x * x


@task
def wide(n: int) -> int:
    return total_of([square(i) for i in range(n)] + [leaf(n)])


@task
def total_of(values: list) -> int:
    return sum(values)


def test_a_replay_takes_the_valid_calls_of_the_tree_it_walked_without_a_lookup(make) -> None:
    redefine_leaf(1)
    assert run(make, wide(50))[0] == sum(i * i for i in range(50)) + 51
    redefine_leaf(2)
    scheduler = make()
    backend = scheduler.backend
    asked: list[str] = []
    find_calls = backend.find_calls

    def counting_find_calls(eval_hashes: list[str]) -> Any:
        asked.extend(eval_hashes)
        return find_calls(eval_hashes)

    backend.find_calls = counting_find_calls  # type: ignore[method-assign]
    CALLS.clear()
    try:
        assert scheduler.run(wide(50)) == sum(i * i for i in range(50)) + 52
    finally:
        scheduler.stop()
    assert CALLS == ["leaf"]  # only the changed call ran
    by_task = {job.task.name: job for job in scheduler.jobs()}
    assert by_task["square"].state is JobState.CACHED and by_task["wide"].replayed
    # The root was looked up; its walked tree answered the 50 unchanged squares; the
    # changed leaf and the new total_of (a new argument) were asked for.
    squares = {job.eval_hash for job in scheduler.jobs() if job.task.name == "square"}
    assert len(squares) == 50 and not squares & set(asked)
    assert by_task["wide"].eval_hash in asked
    redefine_leaf(1)
