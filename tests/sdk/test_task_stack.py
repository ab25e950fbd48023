"""The task stack hung on a failure's error: the calls that led to it, outermost first."""

from __future__ import annotations

import pytest

from redun import Scheduler, task
from redun.config import Config
from redun.scheduler.taskstack import MAX_DEPTH

redun_namespace = "stack"


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@task
def explode(x: int, thing: object = None) -> int:
    raise KeyError(x)


@task
def descend(n: int) -> int:
    if n == 0:
        return explode(n, Unprintable())
    return descend(n - 1)


@task
def two_levels(values: list) -> int:
    return explode(len(values))


def run_failing(expr: object) -> BaseException:
    scheduler = Scheduler(config=Config({"backend": {"db_uri": "memory"}}))
    with pytest.raises(KeyError) as caught:
        scheduler.run(expr)
    return caught.value


def test_each_call_with_its_arguments_outermost_first() -> None:
    error = run_failing(two_levels(list(range(100))))
    outer, inner = error.__redun_task_stack__.lines()  # type: ignore[attr-defined]
    assert outer.startswith("stack.two_levels(values=[0, 1, 2, 3, 4, 5, ...])")
    assert inner.startswith("stack.explode(x=100, thing=None)")
    job = error.__redun_job__  # type: ignore[attr-defined]
    assert f"job {job.id[:8]}" in inner and "test_task_stack.py:" in inner


def test_a_deep_stack_keeps_its_ends_and_an_unprintable_argument_its_type() -> None:
    error = run_failing(descend(MAX_DEPTH + 10))
    lines = error.__redun_task_stack__.lines()  # type: ignore[attr-defined]
    assert len(lines) == MAX_DEPTH + 1
    assert lines[0].startswith(f"stack.descend(n={MAX_DEPTH + 10})")
    # descend(50) ... descend(0) and explode: 52 calls, 40 shown.
    assert lines[MAX_DEPTH // 2].startswith("... 12 more call(s) ...")
    assert lines[-2].startswith("stack.descend(n=0)")
    assert lines[-1].startswith("stack.explode(x=0, thing=<Unprintable instance at ")


def test_the_stack_is_not_recorded_with_the_error() -> None:
    from redun.scheduler import ErrorValue

    error = run_failing(two_levels([1]))
    recorded = ErrorValue.of(error).error
    assert not hasattr(recorded, "__redun_task_stack__")


def test_a_failed_execution_is_logged_as_redun_logs_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging
    import re

    with caplog.at_level(logging.INFO, logger="redun"):
        error = run_failing(two_levels([7, 8]))
    messages = caplog.messages
    start = messages.index("*** Execution failed. Traceback (most recent task last):")
    report = messages[start:]
    jobs = [line for line in report if line.startswith("  Job ")]
    assert [re.sub(r"Job \w+: File \".*\", line \d+", "Job J: File F", line) for line in jobs] == [
        "  Job J: File F, in two_levels",
        "  Job J: File F, in explode",
    ]
    assert "    values = [7, 8]" in report and "    x = 2" in report
    assert "    def explode(x: int, thing: object = None) -> int:" in report
    assert "    raise KeyError(x)" in report  # the task's own frame, no engine frames
    assert not any("site-packages" in line or "/redun/" in line for line in report)
    assert report[-1] == "KeyError: 2"
    assert error.__redun_job__.id[:8] in jobs[1]  # type: ignore[attr-defined]


def test_errors_that_are_not_a_task_s_are_not_reported_as_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from redun.errors import SchedulerError

    @task
    def unknown_executor() -> int:
        return 1

    scheduler = Scheduler(config=Config({"backend": {"db_uri": "memory"}}))
    with caplog.at_level(logging.INFO, logger="redun"), pytest.raises(SchedulerError):
        scheduler.run(unknown_executor.options(executor="nowhere")())
    assert not any("Execution failed" in message for message in caplog.messages)
