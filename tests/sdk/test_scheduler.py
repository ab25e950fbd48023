"""The scheduler: parallelism, dedup, dynamic DAGs, control flow, errors, events."""

from __future__ import annotations

import dataclasses
import sys
import threading
import time

import pytest

from redun import Scheduler, catch, cond, get_context, task, throw
from redun.backends import MemoryBackend
from redun.config import Config
from redun.errors import SchedulerError, UsageError
from redun.events import ExecutionFinished, ExecutionStarted, JobStateChanged
from redun.functools import map_
from redun.scheduler import DryRunResult

redun_namespace = "test_scheduler"

CALLS: list[str] = []


@task
def inc(x: int) -> int:
    return x + 1


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def total(values: list) -> int:
    return sum(values)


@task
def fanout(n: int) -> int:
    return total([inc(i) for i in range(n)])


@task
def countdown(n: int) -> int:
    if n == 0:
        return 0
    return add(1, countdown(n - 1))


@task
def fib(n: int) -> int:
    if n < 2:
        return n
    return add(fib(n - 1), fib(n - 2))


@task
def log_call(name: str) -> str:
    CALLS.append(name)
    return name


@task
def fail(message: str) -> int:
    raise ValueError(message)


@task
def recover(error: Exception) -> str:
    return f"recovered from {type(error).__name__}: {error}"


@task
def is_positive(x: int) -> bool:
    return x > 0


@task
def sleepy(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@task
def apply_to(func: object, value: int) -> int:
    return func(value)  # type: ignore[operator]


@task
def structure() -> dict:
    return {"a": [inc(1), inc(2)], "b": (inc(3), {"c": inc(4)}), "d": 5}


@task
def read_context() -> str:
    return get_context("greeting.word", "none")


def test_run_simple_and_nested() -> None:
    scheduler = Scheduler()
    assert scheduler.run(inc(1)) == 2
    assert scheduler.run(add(inc(1), inc(2))) == 5
    assert scheduler.run(structure()) == {"a": [2, 3], "b": (4, {"c": 5}), "d": 5}
    assert scheduler.run([inc(0), {"k": inc(1)}]) == [1, {"k": 2}]
    assert scheduler.run(7) == 7


BARRIER = threading.Barrier(8)


@task
def meet(i: int) -> int:
    # Passes only if all 8 jobs are running at the same time.
    BARRIER.wait(timeout=10)
    return i


def test_independent_jobs_run_in_parallel() -> None:
    BARRIER.reset()
    assert Scheduler().run([meet(i) for i in range(8)]) == list(range(8))


def test_same_call_runs_once_per_execution() -> None:
    CALLS.clear()
    scheduler = Scheduler()
    assert scheduler.run([log_call("x"), log_call("x"), log_call(name="x"), log_call("y")]) == [
        "x",
        "x",
        "x",
        "y",
    ]
    assert sorted(CALLS) == ["x", "y"]


def test_results_are_cached_between_runs_with_one_backend() -> None:
    CALLS.clear()
    scheduler = Scheduler(backend=MemoryBackend())
    scheduler.run(log_call("a"))
    scheduler.run(log_call("a"))
    assert CALLS == ["a"]
    scheduler.run(log_call("a"), cache=False)
    assert CALLS == ["a", "a"]


def test_cache_false_task_reruns_but_runs_once_per_execution() -> None:
    counter = []

    @task(namespace="test_scheduler.nocache", cache=False)
    def tick(x: int) -> int:
        counter.append(x)
        return x

    scheduler = Scheduler()
    assert scheduler.run([tick(1), tick(1)]) == [1, 1]
    assert scheduler.run(tick(1)) == 1
    assert counter == [1, 1]


def test_dynamic_dag_recursion_and_fib() -> None:
    scheduler = Scheduler()
    assert scheduler.run(countdown(300)) == 300
    assert scheduler.run(fib(25)) == 75025
    # fib(25) has 26 distinct fib calls; each runs once.
    fib_jobs = [job for job in scheduler.jobs() if job.task.name == "fib"]
    assert len(fib_jobs) == 26


def test_deep_chain_does_not_recurse() -> None:
    limit = sys.getrecursionlimit()
    expr = inc(0)
    for _ in range(20_000):
        expr = inc(expr)
    assert Scheduler().run(expr) == 20_001
    assert sys.getrecursionlimit() == limit


def test_deep_recursive_task_does_not_recurse() -> None:
    assert Scheduler().run(countdown(5_000)) == 5_000


def test_cond_evaluates_only_the_branch_taken() -> None:
    CALLS.clear()
    scheduler = Scheduler()
    assert scheduler.run(cond(is_positive(1), log_call("then"), log_call("else"))) == "then"
    assert scheduler.run(cond(is_positive(-1), log_call("then2"), log_call("else2"))) == "else2"
    assert sorted(CALLS) == ["else2", "then"]
    # elif chains, and no else gives None
    assert scheduler.run(cond(is_positive(-1), inc(0), is_positive(2), inc(10), inc(100))) == 11
    assert scheduler.run(cond(is_positive(-1), inc(0))) is None


def test_catch_recovers_and_rethrows() -> None:
    scheduler = Scheduler()
    assert scheduler.run(catch(fail("bad"), ValueError, recover)) == (
        "recovered from ValueError: bad"
    )
    assert scheduler.run(catch(fail("bad"), (KeyError, ValueError), recover)).startswith(
        "recovered"
    )
    with pytest.raises(ValueError, match="bad"):
        scheduler.run(catch(fail("bad"), KeyError, recover))
    assert scheduler.run(catch(inc(1), ValueError, recover)) == 2


def test_throw_raises_lazily() -> None:
    scheduler = Scheduler()
    expr = throw(KeyError("missing"))
    with pytest.raises(KeyError, match="missing"):
        scheduler.run(expr)
    assert scheduler.run(catch(throw(KeyError("k")), KeyError, recover)).startswith("recovered")


def test_task_error_is_raised_with_its_own_type_and_job() -> None:
    with pytest.raises(ValueError, match="boom") as info:
        Scheduler().run(add(inc(1), fail("boom")))
    job = info.value.__redun_job__  # type: ignore[attr-defined]
    assert job.task.fullname == "test_scheduler.fail"


def test_higher_order_tasks_and_map() -> None:
    scheduler = Scheduler()
    assert scheduler.run(apply_to(inc, 41)) == 42
    assert scheduler.run(map_(inc, [1, 2, 3])) == [2, 3, 4]
    assert scheduler.run(map_(inc, map_(inc, [1, 2]))) == [3, 4]
    assert scheduler.run(total(map_(inc, [1, 2, 3]))) == 9


def test_partial_and_options() -> None:
    scheduler = Scheduler()
    add5 = add.partial(5)
    assert scheduler.run(add5(1)) == 6
    assert scheduler.run(map_(add.partial(b=10), [1, 2])) == [11, 12]
    assert scheduler.run(inc.options(cache=False)(1)) == 2
    assert inc.options(executor="processes").executor_name == "processes"


def test_context_from_config_and_run() -> None:
    config = Config({"scheduler": {"context": '{"greeting": {"word": "hi"}}'}})
    assert Scheduler(config=config).run(read_context()) == "hi"
    assert Scheduler().run(read_context()) == "none"
    assert Scheduler().run(read_context(), context={"greeting": {"word": "yo"}}) == "yo"
    assert Scheduler().run(read_context.update_context(greeting={"word": "hey"})()) == "hey"


def test_retries() -> None:
    attempts = []

    @task(namespace="test_scheduler.retry", retries=2)
    def flaky(x: int) -> int:
        attempts.append(x)
        if len(attempts) < 3:
            raise RuntimeError("flaky")
        return x

    assert Scheduler().run(flaky(1)) == 1
    assert len(attempts) == 3


def test_limits_serialize_jobs() -> None:
    running = []
    peak = []
    lock = threading.Lock()

    @task(namespace="test_scheduler.limits", limits={"db": 1})
    def guarded(x: int) -> int:
        with lock:
            running.append(x)
            peak.append(len(running))
        time.sleep(0.02)
        with lock:
            running.remove(x)
        return x

    config = Config({"limits": {"db": "1"}})
    assert Scheduler(config=config).run([guarded(i) for i in range(5)]) == list(range(5))
    assert max(peak) == 1


def test_unknown_executor_is_a_clear_error() -> None:
    with pytest.raises(UsageError, match=r"executors\.gpu"):
        Scheduler().run(inc.options(executor="gpu")(1))


def test_nested_run_is_refused() -> None:
    scheduler = Scheduler()

    @task(namespace="test_scheduler.nested")
    def nested() -> int:
        return scheduler.run(inc(1))

    with pytest.raises(SchedulerError, match="already running"):
        scheduler.run(nested())


def test_dryrun_lists_jobs_that_would_run() -> None:
    scheduler = Scheduler(backend=MemoryBackend())
    scheduler.run(inc(1))
    with pytest.raises(DryRunResult) as info:
        scheduler.run(add(inc(1), inc(5)), dryrun=True)
    names = sorted(job.task.name for job in info.value.jobs)
    assert names == ["inc"]  # inc(5) would run; inc(1) is cached; add waits on inc(5)
    assert scheduler.run(inc(1), dryrun=True) == 2


def test_events_are_typed_and_ordered() -> None:
    scheduler = Scheduler()
    seen: list = []
    scheduler.events.subscribe(seen.append)
    scheduler.run(add(inc(1), inc(2)))
    assert isinstance(seen[0], ExecutionStarted)
    assert isinstance(seen[-1], ExecutionFinished) and seen[-1].status == "done"
    states: dict[str, list[str]] = {}
    for event in seen:
        if isinstance(event, JobStateChanged):
            states.setdefault(event.task, []).append(event.state)
    assert states["test_scheduler.add"] == ["pending", "running", "done"]
    assert states["test_scheduler.inc"].count("done") == 2


def test_failed_execution_event_carries_error() -> None:
    scheduler = Scheduler()
    seen: list = []
    scheduler.events.subscribe(seen.append)
    with pytest.raises(ValueError):
        scheduler.run(fail("nope"))
    finished = seen[-1]
    assert isinstance(finished, ExecutionFinished)
    assert finished.status == "failed" and "nope" in (finished.error or "")
    failed = [e for e in seen if isinstance(e, JobStateChanged) and e.state == "failed"]
    assert failed and failed[0].task == "test_scheduler.fail"


def test_cached_rerun_does_not_rewalk_the_tree() -> None:
    scheduler = Scheduler(backend=MemoryBackend())
    assert scheduler.run(fanout(2000)) == sum(range(1, 2001))
    assert len(scheduler.jobs()) == 2002
    assert scheduler.run(fanout(2000)) == sum(range(1, 2001))
    # The root call is answered from the cache with its whole subtree: one job.
    assert [job.cached for job in scheduler.jobs()] == [True]


def test_running_means_started_not_queued() -> None:
    from redun.executors.threads import ThreadExecutor

    scheduler = Scheduler(executor=ThreadExecutor("default", max_workers=2))
    running: set[str] = set()
    peak = [0]

    def watch(event: object) -> None:
        if isinstance(event, JobStateChanged) and event.task == "test_scheduler.sleepy":
            if event.state == "running":
                running.add(event.job_id)
            elif event.state in ("done", "failed"):
                running.discard(event.job_id)
            peak[0] = max(peak[0], len(running))

    scheduler.events.subscribe(watch)
    assert scheduler.run([sleepy(0.05 + i / 1000) for i in range(6)]) == [
        0.05 + i / 1000 for i in range(6)
    ]
    assert peak[0] == 2


@task
def word_default(word: str = get_context("say.word", "none")) -> str:
    return word


@task
def word_in_body() -> str:
    return get_context("say.word", "none")


@task
def words_below() -> list:
    return [word_default(), word_in_body()]


def test_what_the_context_gave_decides_the_cache() -> None:
    # The context is not in the cache key: the values read under each call are, so a
    # call is reused under any context that gives it the same values.
    scheduler = Scheduler(backend=MemoryBackend())
    hi = {"say": {"word": "hi"}}
    assert scheduler.run(words_below(), context=hi) == ["hi", "hi"]
    assert scheduler.run(words_below(), context=hi) == ["hi", "hi"]
    assert [job.cached for job in scheduler.jobs()] == [True]  # one step
    assert scheduler.run(words_below()) == ["none", "none"]
    assert scheduler.run(words_below(), context=hi) == ["hi", "hi"]
    # Every call of the first run is reused; the calls that read the context are
    # re-evaluated over them, none runs its function again.
    assert all(job.cached for job in scheduler.jobs())
    assert scheduler.run(words_below(), context={**hi, "unread": 1}) == ["hi", "hi"]
    assert all(job.cached for job in scheduler.jobs())
    assert scheduler.run(word_default("given"), context=hi) == "given"


@dataclasses.dataclass
class Link:
    value: str
    next_: Link | None


@dataclasses.dataclass(frozen=True)
class Frozen:
    items: list
    label: str = dataclasses.field(default="x", init=False)


@task
def to_str(x: int) -> str:
    return str(x)


@task
def linked(values: list[int]) -> Link | None:
    node = None
    for value in reversed(values):
        node = Link(to_str(value), node)  # type: ignore[arg-type]
    return node


def test_expressions_inside_dataclasses_are_evaluated() -> None:
    scheduler = Scheduler()
    assert scheduler.run(Link(to_str(1), Link(to_str(2), None))) == Link("1", Link("2", None))  # type: ignore[arg-type]
    assert scheduler.run(linked([1, 2, 3])) == Link("1", Link("2", Link("3", None)))
    frozen = scheduler.run(Frozen([to_str(4), 5]))
    assert frozen == Frozen(["4", 5]) and frozen.label == "x"
    plain = Link("a", None)
    assert scheduler.run(plain) is plain  # nothing to evaluate: the same object


def test_an_unconfigured_executor_fails_the_job_with_a_clear_error() -> None:
    @task(executor="nowhere")
    def far() -> int:
        return 1

    scheduler = Scheduler()
    # A SchedulerError as in redun, and a UsageError (the user's config is at fault).
    with pytest.raises(SchedulerError, match=r"executor 'nowhere' is not configured") as info:
        scheduler.run(far())
    assert isinstance(info.value, UsageError)
    # The job and its task are still recorded, failed.
    from redun.backends.db import Job as JobDb

    (job,) = scheduler.backend.session.query(JobDb).all()
    assert job.status == "FAILED" and job.task.name == "far"


def test_tasks_without_a_namespace_are_named_once(caplog: pytest.LogCaptureFixture) -> None:
    @task(namespace="")
    def bare() -> int:
        return 1

    scheduler = Scheduler()
    with caplog.at_level("WARNING", logger="redun"):
        scheduler.run(bare())
        scheduler.run(bare())
    warnings = [r.getMessage() for r in caplog.records if "without a namespace" in r.getMessage()]
    assert len(warnings) == 1 and "test_scheduler.py:bare" in warnings[0]
    caplog.clear()
    quiet = Scheduler(config=Config({"scheduler": {"ignore_warnings": "namespace"}}))
    assert quiet.ignore_warnings == {"namespace"}
    with caplog.at_level("WARNING", logger="redun"):
        quiet.run(bare())
    assert not [r for r in caplog.records if "without a namespace" in r.getMessage()]


def test_a_job_made_by_hand_reads_its_raw_options() -> None:
    # As redun's Job(task, expr): no execution needed, the call's options over the task's.
    from redun.scheduler import Job

    @task(option1="aaa", option2="bbb")
    def opts() -> int:
        return 10

    job = Job(opts, opts.options(option2="ccc")())
    assert job.get_raw_options() == {"option1": "aaa", "option2": "ccc"}
    assert Job(opts, opts()).get_raw_options() == {"option1": "aaa", "option2": "bbb"}


def test_hash_args_eval_gives_the_hashes_a_run_uses() -> None:
    from redun.task import hash_args_eval

    @task(config_args=["x", "z"])
    def configured(x: int, y: int, z: str = "hello") -> int:
        return x

    scheduler = Scheduler()
    first = hash_args_eval(scheduler.type_registry, configured, (10, 11), {})
    # config_args do not count; another y does.
    assert hash_args_eval(scheduler.type_registry, configured, (11, 11), {"z": "bye"}) == first
    assert hash_args_eval(scheduler.type_registry, configured, (10, 12), {}) != first
    scheduler.run(configured(10, 11))
    (job,) = scheduler.jobs()
    assert (job.eval_hash, job.args_hash) == first
