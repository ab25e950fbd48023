"""The Spark executors on a real local-mode SparkSession (local[2]): slow, run by `make test-slow`."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from redun import File, Scheduler
from redun.config import Config
from redun.events import JobStateChanged, LogLine
from tests.sdk.spark.conftest import ONE_WAITS

pytestmark = pytest.mark.slow

FLOW = (
    textwrap.dedent(
        """
    import os
    import time

    from redun import Dir, File, task
    from redun.spark import get_spark_session

    redun_namespace = "{namespace}"
    LOG = {log!r}


    def ran(what):
        with open(LOG, "a") as out:
            out.write(what + "\\n")


    @task(executor="spark")
    def square(x: int) -> int:
        return x * x


    @task
    def fan(n: int) -> list:
        return [square(i) for i in range(n)]


    @task(executor="spark")
    def ok(x: int) -> int:
        print(f"ok {{x}}")
        return x


    @task(executor="spark")
    def boom(x: int) -> int:
        print(f"about to fail on {{x}}")
        raise ValueError(f"boom {{x}}")


    @task
    def ok_and_boom() -> list:
        return [ok(1), boom(2)]


    @task(executor="spark")
    def slow(x: int, seconds: float) -> int:
        time.sleep(seconds)
        return x


    @task
    def slow_fan(n: int, seconds: float) -> list:
        return [slow(i, seconds) for i in range(n)]


    @task(executor="spark")
    def sleepy(x: int, flag: str, pids: str) -> int:
        with open(os.path.join(pids, str(os.getpid())), "w") as out:
            out.write(str(x))
        while not os.path.exists(flag):
            time.sleep(0.05)
        ran(f"sleepy {{x}} finished")
        return x


    @task
    def sleepers(flag: str, pids: str) -> list:
        return [sleepy(i, flag, pids) for i in range(2)]


    def wait_in_worker(x, flag, pids):
        with open(os.path.join(pids, str(os.getpid())), "w") as out:
            out.write(str(x))
        while not os.path.exists(flag):
            time.sleep(0.05)
        return x


    @task(executor="spark_driver")
    def driver_waits(flag: str, pids: str) -> list:
        spark = get_spark_session()
        rdd = spark.sparkContext.parallelize(range(2), 2)
        result = rdd.map(lambda x: wait_in_worker(x, flag, pids)).collect()
        ran("driver_waits finished")
        return result


    @task(executor="spark_driver")
    def word_counts(text: File, out: str) -> Dir:
        ran("word_counts")
        spark = get_spark_session()
        words = spark.read.text(text.path).selectExpr("explode(split(value, ' ')) AS word")
        counts = words.where("word != ''").groupBy("word").count().orderBy("word")
        counts.coalesce(1).write.mode("overwrite").csv(out)
        return Dir(out)
    """
    )
    + ONE_WAITS
)

_counter = iter(range(1_000_000))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Path, Path]]:
    """A workflow module of its own (module name and namespace), importable here and in Spark."""
    name = f"sparkflow{os.getpid()}_{next(_counter)}"
    log = tmp_path / "ran.log"
    (tmp_path / f"{name}.py").write_text(FLOW.format(namespace=name, log=str(log)))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module(name)
    yield module, tmp_path, log
    sys.modules.pop(name, None)


def ran(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def make_scheduler(root: Path, **spark: str) -> Scheduler:
    config = Config(
        {
            "backend": {"db_uri": f"sqlite:///{root}/redun.db"},
            "executors.spark": {
                "type": "spark",
                "master": "local[2]",
                "code_root": str(root),
                **spark,
            },
            "executors.spark_driver": {
                "type": "spark_driver",
                "master": "local[2]",
                "code_root": str(root),
            },
        }
    )
    return Scheduler(config=config)


def wait_until(condition: Callable[[], Any], timeout: float = 120, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what or condition}")


def test_a_fan_out_of_1000_calls_is_one_spark_job_cached_call_by_call(spark, project) -> None:
    flow, root, _ = project
    first = make_scheduler(root)
    assert first.run(flow.fan(1000)) == [i * i for i in range(1000)]
    assert first.executors["spark"].submissions == 1  # one Spark job for the 1,000 calls
    first.stop()

    again = make_scheduler(root)
    assert again.run(flow.fan(1000)) == [i * i for i in range(1000)]
    assert "spark" not in again.executors  # all cached: nothing reached Spark
    again.stop()

    # One more call: only it runs (each call was cached on its own).
    more = make_scheduler(root)
    assert more.run(flow.fan(1001))[-1] == 1000 * 1000
    squares = [job for job in more.jobs() if job.task.name == "square"]
    assert len(squares) == 1001
    assert [job.call_args for job in squares if not job.cached] == [(1000,)]
    assert more.executors["spark"].submissions == 1
    more.stop()
    assert spark.sparkContext._jsc is not None  # the shared session outlives the schedulers


def test_an_exception_in_a_spark_task_comes_back_with_its_traceback(spark, project) -> None:
    flow, root, _ = project
    # One partition: both outcomes arrive together, ok(1)'s first. (In two, boom(2)'s
    # could arrive first and fail the run, which cancels what is still running.)
    scheduler = make_scheduler(root, partitions="1")
    with pytest.raises(ValueError, match="boom 2") as caught:
        scheduler.run(flow.ok_and_boom())
    text = caught.value.__redun_traceback__
    assert f'{flow.__name__}.py", line' in text
    assert 'raise ValueError(f"boom {x}")' in text
    assert "about to fail on 2" in text  # the call's output, with the error
    scheduler.stop()
    # The call beside it in the same Spark task succeeded and was cached on its own.
    again = make_scheduler(root)
    assert again.run(flow.ok(1)) == 1
    assert "spark" not in again.executors
    again.stop()


def test_logs_carry_the_spark_ui_and_progress(spark, project) -> None:
    flow, root, _ = project
    scheduler = make_scheduler(root, progress_interval="0.1")
    lines: list[LogLine] = []
    scheduler.events.subscribe(
        lambda event: lines.append(event) if type(event) is LogLine else None
    )
    assert scheduler.run(flow.slow(7, 1.5)) == 7
    scheduler.stop()
    text = "".join(line.text for line in lines)
    assert "[spark] 1 call as one Spark job, job group redun-" in text
    assert f"Spark UI {spark.sparkContext.uiWebUrl}" in text
    assert "tasks done" in text  # Spark's progress, while the call ran


def test_a_large_batch_keeps_its_progress_in_one_log_and_tenths_in_the_others(
    spark, project
) -> None:
    from redun.executors.spark.batch import PROGRESS_IN_EVERY_LOG

    flow, root, _ = project
    n = PROGRESS_IN_EVERY_LOG + 50
    scheduler = make_scheduler(root, progress_interval="0.05", partitions="30")
    logs: dict[str, list[str]] = {}
    scheduler.events.subscribe(
        lambda event: (
            logs.setdefault(event.job_id, []).append(event.text) if type(event) is LogLine else None
        )
    )
    assert scheduler.run(flow.slow_fan(n, 0.03)) == list(range(n))
    scheduler.stop()
    calls = {job_id: lines for job_id, lines in logs.items() if job_id and len(lines) > 1}
    assert len(calls) == n
    [header] = {lines[0] for lines in calls.values()}
    assert f"[spark] {n} call(s) as one Spark job" in header
    assert "progress in job " in header, header
    lead = header.split("progress in job ", 1)[1][:8]
    [lead_id] = [job_id for job_id in calls if job_id.startswith(lead)]
    every = calls.pop(lead_id)[1:]
    assert len(every) > 2, every  # the batch ran long enough to report several times

    def done(line: str) -> int:  # "Spark job 4: starting" (no stage known yet) is 0
        return 0 if line.endswith(": starting\n") else int(line.split(": ", 1)[1].split("/")[0])

    [total, *_] = {int(line.split("/", 1)[1].split(" ")[0]) for line in every if "/" in line}
    for lines in calls.values():
        progress = lines[1:]
        assert set(progress) <= set(every)  # lines of the lead's log, in its order
        tenths = [done(line) * 10 // total for line in progress]
        assert tenths == sorted(set(tenths)), progress  # one line per new tenth
    # A call's log ends when its partition's outcomes arrive: the logs are prefixes
    # of the longest (the tenths lines go to every call still running).
    longest = max((lines[1:] for lines in calls.values()), key=len)
    for lines in calls.values():
        assert lines[1:] == longest[: len(lines) - 1], (lines, longest)


def test_a_spark_program_task_writes_a_dir_cached_and_rerun_on_input_change(spark, project) -> None:
    flow, root, log = project
    text = root / "words.txt"
    text.write_text("b a b\nc b\n")
    out = str(root / "counts")

    def counts() -> dict[str, int]:
        [part] = sorted(Path(out).glob("part-*.csv"))
        return {word: int(n) for word, n in (line.split(",") for line in part.read_text().split())}

    scheduler = make_scheduler(root)
    result = scheduler.run(flow.word_counts(File(str(text)), out))
    assert result.path == out and counts() == {"a": 1, "b": 3, "c": 1}
    assert ran(log) == ["word_counts"]
    again = scheduler.run(flow.word_counts(File(str(text)), out))
    assert again.hash == result.hash and ran(log) == ["word_counts"]  # cached
    time.sleep(0.01)  # a later mtime, whatever the file system's resolution
    text.write_text("z z\n")
    changed = scheduler.run(flow.word_counts(File(str(text)), out))
    assert ran(log) == ["word_counts", "word_counts"]  # the input changed: it ran again
    assert counts() == {"z": 2} and changed.hash != result.hash
    scheduler.stop()


def _interrupt_when(condition: Callable[[], Any]) -> threading.Thread:
    """Send this process SIGINT (as Ctrl-C of `redun run`) once ``condition`` holds, or
    when waiting for it timed out (the test's own assertions then fail, not hang)."""

    def run() -> None:
        try:
            wait_until(condition, what="the condition to interrupt at")
        finally:
            os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _spark_idle(spark) -> bool:
    return not spark.sparkContext.statusTracker().getActiveJobsIds()


def test_a_partition_s_calls_are_done_and_cached_while_the_others_run(spark, project) -> None:
    flow, root, _ = project
    flag = root / "flag"
    scheduler = make_scheduler(root, partitions="2")  # first_or_wait(0) | first_or_wait(1)
    done: list[tuple] = []
    scheduler.events.subscribe(
        lambda event: (
            done.append(event.job.call_args)
            if type(event) is JobStateChanged
            and event.state == "done"
            and event.job.task.name == "first_or_wait"
            else None
        )
    )
    # Ctrl-C once the first call is done, while the second still waits for the flag.
    interrupter = _interrupt_when(lambda: done)
    with pytest.raises(KeyboardInterrupt):
        scheduler.run(flow.one_waits(str(flag)))
    interrupter.join()
    assert done == [(0, str(flag))] and not flag.exists()
    scheduler.stop()
    wait_until(lambda: _spark_idle(spark), timeout=60, what="Spark to have no active job")

    # The interrupted run recorded the call that was done: only the other runs again.
    flag.write_text("go")
    again = make_scheduler(root, partitions="2")
    assert again.run(flow.one_waits(str(flag))) == [0, 1]
    calls = sorted(
        (job.call_args[0], job.cached) for job in again.jobs() if job.task.name == "first_or_wait"
    )
    assert calls == [(0, True), (1, False)]
    again.stop()


@pytest.mark.parametrize("task_name", ["sleepers", "driver_waits"])
def test_cancelling_the_run_cancels_its_spark_job_group(
    spark, project, task_name, monkeypatch
) -> None:
    from redun.spark.session import LocalDriver

    flow, root, log = project
    flag, pids = root / "flag", root / "pids"
    pids.mkdir()
    cancelled: list[str] = []
    cancel_group = LocalDriver.cancel_group

    def counted(self: LocalDriver, group: str) -> None:
        cancelled.append(group)
        cancel_group(self, group)

    monkeypatch.setattr(LocalDriver, "cancel_group", counted)
    scheduler = make_scheduler(root)
    interrupter = _interrupt_when(lambda: len(list(pids.iterdir())) == 2)
    with pytest.raises(KeyboardInterrupt):
        scheduler.run(getattr(flow, task_name)(str(flag), str(pids)))
    interrupter.join()
    scheduler.stop()  # at once, as `redun run` does: the Spark job may not have ended yet
    assert {job.state.value for job in scheduler.jobs()} == {"cancelled"}
    wait_until(lambda: _spark_idle(spark), timeout=60, what="Spark to have no active job")
    workers = [int(path.name) for path in pids.iterdir()]
    wait_until(lambda: all(_gone(pid) for pid in workers), timeout=60, what="workers killed")
    flag.write_text("go")  # too late: nothing is left to see it
    time.sleep(0.5)
    assert ran(log) == []
    if task_name == "sleepers":
        # One batch, one Spark job group, cancelled once: not again when the executor
        # stops (Spark would warn that the group has no active job any more).
        assert len(cancelled) == 1 and cancelled[0].startswith("redun-"), cancelled
