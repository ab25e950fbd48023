"""Per-job capture of printed output: JobOutput, the stream routers, and LogLine events."""

from __future__ import annotations

import contextvars
import re
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from redun import Scheduler, task
from redun.config import Config
from redun.events import JobStateChanged, LogLine
from redun.logs import (
    MAX_PARTIAL,
    JobOutput,
    NoJobOutput,
    StreamRouter,
    get_current_output,
    get_current_task_name,
    install_routers,
    list_sink,
)
from redun.workflow.loader import find_task, import_workflow

redun_namespace = "test_logs"


# -- JobOutput ----------------------------------------------------------------


def test_whole_lines_are_delivered_as_they_complete():
    lines: list[tuple[str, str]] = []
    output = JobOutput(list_sink(lines))
    output.write("stdout", "a")
    output.write("stdout", "b\nc")
    output.write("stderr", "e1\ne2\n")
    assert lines == [("stdout", "ab\n"), ("stderr", "e1\ne2\n")]
    output.close()
    assert lines[-1] == ("stdout", "c")


def test_flush_delivers_a_partial_line_once():
    lines: list[tuple[str, str]] = []
    output = JobOutput(list_sink(lines))
    output.write("stdout", "progress: 10%")
    output.flush("stdout")
    output.flush()
    output.close()
    assert lines == [("stdout", "progress: 10%")]


def test_a_huge_line_without_newline_is_not_held_forever():
    lines: list[tuple[str, str]] = []
    output = JobOutput(list_sink(lines))
    output.write("stdout", "x" * (MAX_PARTIAL + 1))
    assert lines == [("stdout", "x" * (MAX_PARTIAL + 1))]


def test_current_output_is_per_context():
    assert get_current_output(required=False) is None
    assert get_current_task_name() is None
    with pytest.raises(NoJobOutput):
        get_current_output()
    with JobOutput(list_sink([]), task_name="ns.t") as output:
        assert get_current_output() is output
        assert get_current_task_name() == "ns.t"
        seen: list = []
        thread = threading.Thread(target=lambda: seen.append(get_current_output(required=False)))
        thread.start()
        thread.join()
        assert seen == [None]  # a plain new thread is outside the job
    assert get_current_output(required=False) is None


# -- routers ----------------------------------------------------------------------


def test_routers_capture_job_writes_and_pass_everything_on(capsys):
    lines: list[tuple[str, str]] = []
    print("before")
    with JobOutput(list_sink(lines)):
        assert type(sys.stdout) is StreamRouter and type(sys.stderr) is StreamRouter
        print("inside")
        print("warn", file=sys.stderr)
        sys.stdout.writelines(["x\n", "y"])
    print("after")
    assert lines == [
        ("stdout", "inside\n"),
        ("stderr", "warn\n"),
        ("stdout", "x\n"),
        ("stdout", "y"),
    ]
    captured = capsys.readouterr()
    assert captured.out == "before\ninside\nx\ny\nafter\n"  # the job's last line is ended
    assert captured.err == "warn\n"


def test_router_forwards_stream_attributes(capsys):
    install_routers()
    assert sys.stdout.encoding == sys.stdout._redun_target.encoding
    assert callable(sys.stdout.isatty)
    install_routers()  # idempotent
    assert type(sys.stdout._redun_target) is not StreamRouter


def test_nested_routers_capture_once(capsys):
    # A live display may wrap our router in its own proxy, which we wrap again.
    install_routers()
    inner = sys.stdout
    sys.stdout = StreamRouter("stdout", inner)
    lines: list[tuple[str, str]] = []
    try:
        with JobOutput(list_sink(lines)):
            print("once")
    finally:
        sys.stdout = inner
    assert lines == [("stdout", "once\n")]
    assert capsys.readouterr().out == "once\n"


def test_threads_started_in_a_copy_of_the_context_are_captured(capsys):
    lines: list[tuple[str, str]] = []
    with JobOutput(list_sink(lines)):
        thread = threading.Thread(
            target=contextvars.copy_context().run, args=(print, "from a helper thread")
        )
        thread.start()
        thread.join()
    assert lines == [("stdout", "from a helper thread\n")]


# -- in the scheduler ------------------------------------------------------------

BARRIER = threading.Barrier(3, timeout=10)


@task
def chatty(name: str) -> str:
    # All three jobs print at once, interleaving on the real stream.
    BARRIER.wait()
    for i in range(20):
        print(f"{name} line {i}")
    print(f"{name} to stderr", file=sys.stderr)
    print(f"{name} unfinished", end="")
    return name


@task
def chorus() -> list:
    return [chatty("alto"), chatty("bass"), chatty("tenor")]


@task
def noisy_failure() -> None:
    print("about to fail")
    raise ValueError("boom")


def collect(scheduler: Scheduler) -> list:
    events: list = []
    scheduler.events.subscribe(events.append)
    return events


def test_each_jobs_output_becomes_its_log_lines(capsys):
    BARRIER.reset()
    scheduler = Scheduler()
    events = collect(scheduler)
    assert scheduler.run(chorus()) == ["alto", "bass", "tenor"]
    jobs = {e.job_id: e.task for e in events if isinstance(e, JobStateChanged)}
    by_job: dict[str, dict[str, str]] = {}
    for event in events:
        if isinstance(event, LogLine):
            streams = by_job.setdefault(event.job_id, {"stdout": "", "stderr": ""})
            streams[event.stream] += event.text
    names = {}
    for job_id, streams in by_job.items():
        assert jobs[job_id] == "test_logs.chatty"
        name = streams["stdout"].split(" ", 1)[0]
        names[name] = job_id
        expected = "".join(f"{name} line {i}\n" for i in range(20)) + f"{name} unfinished"
        assert streams["stdout"] == expected
        assert streams["stderr"] == f"{name} to stderr\n"
    assert sorted(names) == ["alto", "bass", "tenor"]
    # Still shown live (here: in pytest's capture of the real streams), whole
    # lines at a time although the three jobs printed at once.
    captured = capsys.readouterr()
    shown = captured.out.splitlines()
    assert len(shown) == 3 * 21
    assert all(re.fullmatch(r"(alto|bass|tenor) (line \d+|unfinished)", line) for line in shown)
    assert sorted(captured.err.splitlines()) == [
        f"{n} to stderr" for n in ("alto", "bass", "tenor")
    ]


def test_log_lines_come_before_the_jobs_end():
    scheduler = Scheduler()
    events = collect(scheduler)
    with pytest.raises(ValueError, match="boom"):
        scheduler.run(noisy_failure())
    kinds = [
        (type(e).__name__, getattr(e, "state", getattr(e, "text", "")))
        for e in events
        if isinstance(e, (LogLine, JobStateChanged))
    ]
    assert kinds.index(("LogLine", "about to fail\n")) < kinds.index(("JobStateChanged", "failed"))


def test_cached_jobs_print_nothing(capsys):
    BARRIER.reset()
    scheduler = Scheduler()
    scheduler.run(chorus())
    events = collect(scheduler)
    capsys.readouterr()
    scheduler.run(chorus())
    assert not [e for e in events if isinstance(e, LogLine)]
    assert capsys.readouterr().out == ""


PROCESS_FLOW = textwrap.dedent(
    """
    import sys
    from redun import task

    redun_namespace = "logs_procs"


    @task(executor="processes")
    def shout(x: int) -> int:
        print(f"worker says {x}")
        print(f"worker warns {x}", file=sys.stderr)
        return x


    @task
    def main() -> list:
        return [shout(1), shout(2)]
    """
)


def test_process_workers_ship_their_output_back(tmp_path: Path) -> None:
    path = tmp_path / "logsflow.py"
    path.write_text(PROCESS_FLOW)
    module = import_workflow(str(path))
    main = find_task(module, "main", str(path))
    config = Config({"executors.processes": {"type": "processes", "max_workers": "2"}})
    scheduler = Scheduler(config=config)
    events = collect(scheduler)
    try:
        assert scheduler.run(main()) == [1, 2]
    finally:
        scheduler.stop()
    tasks = {e.job_id: e.task for e in events if isinstance(e, JobStateChanged)}
    logs = sorted((tasks[e.job_id], e.stream, e.text) for e in events if isinstance(e, LogLine))
    assert logs == [
        ("logs_procs.shout", "stderr", "worker warns 1\n"),
        ("logs_procs.shout", "stderr", "worker warns 2\n"),
        ("logs_procs.shout", "stdout", "worker says 1\n"),
        ("logs_procs.shout", "stdout", "worker says 2\n"),
    ]


LIVE_PROCESS_FLOW = textwrap.dedent(
    """
    import os
    import time
    from redun import task

    redun_namespace = "logs_procs_live"


    @task(executor="processes")
    def talk(signal: str) -> bool:
        print("waiting for the scheduler to see this line", flush=True)
        deadline = time.monotonic() + 30
        while not os.path.exists(signal) and time.monotonic() < deadline:
            time.sleep(0.02)
        print("seen")
        return os.path.exists(signal)
    """
)


def test_process_workers_send_their_output_while_the_job_runs(tmp_path: Path) -> None:
    # The job returns True only if the scheduler got its first line while it ran.
    path = tmp_path / "liveflow.py"
    path.write_text(LIVE_PROCESS_FLOW)
    module = import_workflow(str(path))
    talk = find_task(module, "talk", str(path))
    signal = tmp_path / "seen"
    scheduler = Scheduler(config=Config({"backend": {"db_uri": "memory"}}))
    lines: list[LogLine] = []

    def on_event(event: object) -> None:
        if isinstance(event, LogLine):
            lines.append(event)
            if "waiting for the scheduler" in event.text:
                signal.touch()

    scheduler.events.subscribe(on_event)
    try:
        assert scheduler.run(talk(str(signal))) is True
    finally:
        scheduler.stop()
    # Each line once, in order, whether it came live or with the result.
    assert [line.text for line in lines] == [
        "waiting for the scheduler to see this line\n",
        "seen\n",
    ]


class _ShippingStream:
    """A stdout like a daemon runner's: job output written to it is shipped already."""

    quiet_for_jobs = True

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass


@pytest.mark.parametrize("shipping", [False, True])
def test_process_workers_echo_unless_their_output_is_shipped_already(
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    shipping: bool,
) -> None:
    # Workers inherit the scheduler's file descriptors: at a terminal they echo what their
    # jobs print; under a daemon's runner, whose output becomes log events, that would
    # show every line twice.
    path = tmp_path / "logsflow.py"
    path.write_text(PROCESS_FLOW)
    module = import_workflow(str(path))
    main = find_task(module, "main", str(path))
    if shipping:
        monkeypatch.setattr(sys, "stdout", _ShippingStream())
    scheduler = Scheduler(config=Config({"backend": {"db_uri": "memory"}}))
    events = collect(scheduler)
    try:
        assert scheduler.run(main()) == [1, 2]
    finally:
        scheduler.stop()
    echoed = capfd.readouterr()
    assert ("worker says 1" in echoed.out) is not shipping
    assert ("worker warns 2" in echoed.err) is not shipping
    logs = sorted(e.text for e in events if isinstance(e, LogLine))
    assert logs == ["worker says 1\n", "worker says 2\n", "worker warns 1\n", "worker warns 2\n"]


RETRY_PROCESS_FLOW = textwrap.dedent(
    """
    import os
    from redun import task

    redun_namespace = "logs_procs_retry"


    @task(executor="processes", retries=1)
    def flaky(marker: str) -> int:
        first = not os.path.exists(marker)
        print("first attempt" if first else "second attempt")
        if first:
            open(marker, "w").close()
            raise OSError("the platform hiccuped")
        return 7
    """
)


def test_each_attempt_of_a_process_job_keeps_its_own_lines(tmp_path: Path) -> None:
    path = tmp_path / "retryflow.py"
    path.write_text(RETRY_PROCESS_FLOW)
    module = import_workflow(str(path))
    flaky = find_task(module, "flaky", str(path))
    scheduler = Scheduler(config=Config({"backend": {"db_uri": "memory"}}))
    events = collect(scheduler)
    try:
        assert scheduler.run(flaky(str(tmp_path / "marker"))) == 7
    finally:
        scheduler.stop()
    assert [e.text for e in events if isinstance(e, LogLine)] == [
        "first attempt\n",
        "second attempt\n",
    ]
