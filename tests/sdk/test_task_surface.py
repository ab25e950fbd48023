"""Task surface kept from redun: cache scopes, exported options, JobInfo, wraps_task,
option hashing, limits_used, fork/join threads and subrun."""

from __future__ import annotations

import pytest

from redun import Scheduler, task
from redun.config import Config
from redun.errors import TaskOptionError, UsageError
from redun.scheduler import JobInfo, fork_thread, join_thread, subrun
from redun.task import CacheCheckValid, CacheScope, Task, get_task_registry, wraps_task

redun_namespace = "test_task_surface"


def test_cache_options_normalised_to_enums() -> None:
    @task(cache=False)
    def a() -> None: ...

    @task(cache=True)
    def b() -> None: ...

    @task(cache_scope="cse", check_valid="SHALLOW")
    def c() -> None: ...

    assert a.get_task_option("cache_scope") is CacheScope.CSE
    assert b.get_task_option("cache_scope") is CacheScope.BACKEND
    assert c.get_task_option("cache_scope") is CacheScope.CSE
    assert c.get_task_option("check_valid") is CacheCheckValid.SHALLOW
    assert c.check_valid == "shallow"
    assert a.options(cache=True).get_task_option("cache_scope") is CacheScope.BACKEND
    with pytest.raises(
        UsageError, match="'sometimes' is not a valid CacheScope: cache_scope must be one of"
    ):

        @task(cache_scope="sometimes")
        def d() -> None: ...


def test_cache_scopes_decide_reuse() -> None:
    calls: list[str] = []

    @task(cache_scope=CacheScope.NONE)
    def never(x: int) -> int:
        calls.append("never")
        return x

    @task(cache_scope=CacheScope.CSE)
    def within(x: int) -> int:
        calls.append("within")
        return x

    @task
    def always(x: int) -> int:
        calls.append("always")
        return x

    @task
    def wrap(tag: int) -> int:
        return never(1)

    scheduler = Scheduler()
    # NONE: as in redun, one call expression under one parent job is made once...
    assert scheduler.run([never(1), never(1)]) == [1, 1]
    assert calls == ["never"]
    # ...but the same call under two parent jobs runs twice, and again in the next run.
    assert scheduler.run([wrap(1), wrap(2)]) == [1, 1]
    assert calls == ["never", "never", "never"]
    calls.clear()
    # CSE: shared within an execution, not across executions.
    assert scheduler.run([within(1), within(1)]) == [1, 1]
    assert scheduler.run(within(1)) == 1
    assert calls == ["within", "within"]
    calls.clear()
    # BACKEND: reused across executions.
    scheduler.run(always(1))
    scheduler.run(always(1))
    assert calls == ["always"]


def test_nout_of_wrong_type_is_a_type_error() -> None:
    with pytest.raises(TypeError):

        @task(nout="3")
        def f() -> list: ...

    with pytest.raises(TaskOptionError, match="non-negative"):

        @task(nout=-1)
        def g() -> list: ...


def test_option_overrides_change_the_task_value_not_the_call() -> None:
    calls: list[int] = []

    @task
    def step(x: int) -> int:
        calls.append(x)
        return x

    bigger = step.options(memory=4)
    assert bigger.get_hash() != step.get_hash()
    assert bigger.hash == step.hash  # the code did not change
    scheduler = Scheduler()
    scheduler.run(step(1))
    scheduler.run(bigger(1))  # the same call, with more memory: a cache hit
    assert calls == [1]


def test_explicit_source_stands_for_the_code() -> None:
    @task
    def same() -> int:
        return 1

    first = same.hash

    @task
    def same() -> int:  # noqa: F811 - redefined on purpose
        return 1

    assert same.hash == first

    @task(source="def same(): return 2")
    def same() -> int:  # noqa: F811
        return 1

    assert same.hash != first


def test_exported_options_reach_every_job_below() -> None:
    @task
    def leaf(job_info: JobInfo = JobInfo()) -> object:
        return job_info.options.get("my_option")

    @task
    def middle() -> object:
        return leaf()

    @task
    def top() -> object:
        return middle()

    @task(export_options={"my_option": "from-definition"})
    def defined() -> object:
        return leaf()

    @task
    def inner_wins() -> object:
        return leaf.export_options(my_option="inner")()

    scheduler = Scheduler()
    assert scheduler.run(top(), cache=False) is None
    assert scheduler.run(top.export_options(my_option=10)(), cache=False) == 10
    assert scheduler.run(defined(), cache=False) == "from-definition"
    assert scheduler.run(defined.export_options(my_option=1)(), cache=False) == 1
    assert scheduler.run(inner_wins.export_options(my_option="outer")(), cache=False) == "inner"
    # Plain options() do not travel down.
    assert scheduler.run(top.options(my_option=10)(), cache=False) is None


def test_exported_cache_option_reruns_children() -> None:
    calls: list[str] = []

    @task
    def child(x: int) -> int:
        calls.append("child")
        return x

    @task
    def parent(x: int) -> int:
        calls.append("parent")
        return child(x)

    scheduler = Scheduler()
    scheduler.run(parent(1))
    calls.clear()
    scheduler.run(parent.options(cache=False)(1))
    assert calls == ["parent"]
    calls.clear()
    scheduler.run(parent.export_options(cache=False)(1))
    assert calls == ["parent", "child"]


def test_job_info_is_filled_in_and_not_hashed() -> None:
    @task
    def who(x: int, job_info: JobInfo = JobInfo()) -> tuple:
        return (job_info.job_id, job_info.eval_hash, job_info.execution_id)

    scheduler = Scheduler()
    job_id, eval_hash, execution_id = scheduler.run(who(1))
    job = next(job for job in scheduler.jobs() if job.task.name == "who")
    assert (job_id, eval_hash) == (job.id, job.eval_hash)
    assert execution_id == scheduler.execution.id  # type: ignore[union-attr]
    # A second run is a cache hit: the JobInfo did not count as an argument.
    assert scheduler.run(who(1)) == (job_id, eval_hash, execution_id)


def _doubled(offset: int = 0):  # type: ignore[no-untyped-def]
    @wraps_task(wrapper_hash_includes=[offset])
    def _doubled_task(inner: Task):  # type: ignore[no-untyped-def]
        def run(*args, **kwargs):  # type: ignore[no-untyped-def]
            return 2 * inner.func(*args, **kwargs) + offset

        return run

    return _doubled_task


def test_wraps_task_hides_the_inner_task_and_keeps_its_signature() -> None:
    @_doubled()
    def plus_one(x: int) -> int:
        return x + 1

    registry = get_task_registry()
    assert registry.get("test_task_surface.plus_one") is plus_one
    inner = registry.get("test_task_surface._doubled_task.plus_one")
    assert inner is not None and plus_one.wrapped_task is inner
    assert plus_one.inner_task is inner
    assert plus_one.signature.parameters["x"].annotation in (int, "int")
    assert Scheduler().run(plus_one(2)) == 6
    first = plus_one.hash

    @_doubled(offset=1)
    def plus_one(x: int) -> int:  # noqa: F811
        return x + 1

    assert plus_one.hash != first  # the wrapper's arguments count
    assert Scheduler().run(plus_one(2)) == 7

    @_doubled()
    @_doubled()
    def twice(x: int) -> int:
        return x

    assert Scheduler().run(twice(3)) == 12
    for name in ("twice", "_doubled_task.twice", "_doubled_task._doubled_task.twice"):
        assert registry.get(f"test_task_surface.{name}") is not None
    for registered in registry:
        assert registry.get(registered.fullname) is registered


def test_wraps_task_with_the_wrapper_signature() -> None:
    @wraps_task(use_wrapper_signature=True)
    def with_offset(inner: Task):  # type: ignore[no-untyped-def]
        def run(x: int, offset: int) -> int:
            return inner.func(x) + offset

        return run

    @with_offset
    def ident(x: int) -> int:
        return x

    assert list(ident.signature.parameters) == ["x", "offset"]
    assert Scheduler().run(ident(3, 1)) == 4


def test_limits_used_is_released_after_hits_and_misses() -> None:
    @task(limits=["api"])
    def inner() -> None:
        return None

    @task(limits=["api"], check_valid="shallow")
    def outer() -> None:
        return inner()

    scheduler = Scheduler(config=Config({"limits": {"api": "1"}}))
    scheduler.run(outer())
    assert scheduler.limits_used == {"api": 0}
    scheduler.run(outer())
    assert scheduler.limits_used == {"api": 0}


def test_fork_and_join_thread() -> None:
    @task
    def double(x: int) -> int:
        return 2 * x

    @task
    def start(x: int) -> object:
        return fork_thread(double(x))

    @task
    def finish(thread: object) -> object:
        return join_thread(thread)

    scheduler = Scheduler()
    assert scheduler.run(finish(start(10))) == 20
    # In a later execution the thread's expression is evaluated again (through the cache).
    thread = scheduler.run(start(5))
    assert scheduler.run(join_thread(thread)) == 10


def test_subrun_evaluates_in_a_scheduler_of_its_own() -> None:
    @task
    def square(x: int) -> int:
        return x * x

    @task
    def main() -> object:
        return subrun([square(2), square(3)], executor="default")

    scheduler = Scheduler()
    assert scheduler.run(main()) == [4, 9]
    names = [job.task.fullname for job in scheduler.jobs()]
    assert "redun.subrun_root_task" in names
    assert "test_task_surface.square" not in names  # those ran in the sub-scheduler


def test_tuple_type_length_of_each_spelling() -> None:
    import typing
    from collections import namedtuple

    from redun.task import get_tuple_type_length

    assert get_tuple_type_length(tuple[int, str]) == 2
    assert get_tuple_type_length(tuple[()]) == 0
    assert get_tuple_type_length(typing.Tuple[()]) == 0  # noqa: UP006
    assert get_tuple_type_length(typing.Tuple) is None  # noqa: UP006
    assert get_tuple_type_length(tuple) is None
    assert get_tuple_type_length(tuple[int, ...]) is None
    assert get_tuple_type_length(namedtuple("Pair", ["a", "b"])) == 2


def test_source_starts_at_the_def_line() -> None:
    # As redun shows it (redun log, the console): the function, its decorators dropped.
    @task(version="1")
    def add(a: int, b: int) -> int:
        return a + b

    assert add.source.lstrip().startswith("def add(a: int, b: int) -> int:")
    assert "@task" not in add.source and "return a + b" in add.source


def test_task_state_as_redun_describes_it() -> None:
    from redun.task import PartialTask

    @task(namespace="surface_state", memory=2)
    def scale(x: int, by: int) -> int:
        return x * by

    heavy = scale.options(memory=8)
    state = heavy.__getstate__()
    assert state == {
        "name": "scale",
        "namespace": "surface_state",
        "version": None,
        "hash": scale.hash,
        "compat": [],
        "script": False,
        "task_options": {"memory": 8},
        "export_options": set(),
    }
    again = Task.__new__(Task)
    again.__setstate__(state)
    assert again.func is scale.func and again.is_valid()
    assert again.get_task_option("memory") == 8
    assert again.__getstate__() == state

    double = heavy.partial(by=2)
    partial_state = double.__getstate__()
    assert partial_state["task"]["task_options"] == {"memory": 8}
    assert partial_state["kwargs"] == {"by": 2}
    restored = PartialTask.__new__(PartialTask)
    restored.__setstate__(partial_state)
    assert restored.__getstate__() == partial_state
    assert Scheduler().run(restored(5)) == 10


def test_a_task_whose_code_is_gone_is_never_valid() -> None:
    from redun.expression import TaskExpression

    gone = Task.__new__(Task)
    gone.__setstate__({"name": "vanished", "namespace": "surface_state", "version": None,
                       "hash": "0" * 40, "compat": []})  # fmt: skip
    assert gone.fullname == "surface_state.vanished"
    assert not gone.is_valid()
    with pytest.raises(ValueError, match="'surface_state.vanished' is not defined"):
        gone.func()
    expr = gone()
    assert isinstance(expr, TaskExpression)
    assert expr.is_valid() is False  # a method, as in redun, not a lazy attribute

    @task(namespace="surface_state")
    def present(x: int) -> int:
        return x

    assert present(1).is_valid() is True
