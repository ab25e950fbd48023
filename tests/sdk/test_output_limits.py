"""A job's kept output is bounded (the terminal still sees all of it); cancel() stops a run."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from redun import Scheduler, task
from redun.errors import ExecutionCancelled
from redun.events import JobStateChanged, LogLine
from redun.logs import JobOutput


def test_output_past_the_limit_is_not_delivered_but_still_echoed(capsys) -> None:
    got: list[tuple[str, str]] = []
    with JobOutput(lambda stream, text: got.append((stream, text)), limit=100) as output:
        for _ in range(50):
            sys.stdout.write("y" * 9 + "\n")
    kept = "".join(text for _, text in got)
    assert kept.startswith("yyyyyyyyy\n" * 10)
    assert kept.endswith("the rest is not kept]\n")
    assert len(kept) < 200 and output.dropped == 400
    assert capsys.readouterr().out.count("y" * 9) == 50  # echoed whole


def test_a_line_longer_than_the_limit_is_cut() -> None:
    got: list[str] = []
    with JobOutput(lambda stream, text: got.append(text), limit=10):
        sys.stdout.write("z" * 1000)
        sys.stdout.flush()
        sys.stdout.write("more\n")
    assert got[0].startswith("z" * 10 + "\n[redun:") and len(got) == 1


def test_a_printing_loop_keeps_the_run_bounded() -> None:
    @task
    def chatter(n: int) -> int:
        for _ in range(n):
            print("y" * 99)
        return n

    scheduler = Scheduler()
    chars = [0]

    def count(event: object) -> None:
        if type(event) is LogLine:
            chars[0] += len(event.text)  # type: ignore[attr-defined]

    scheduler.events.subscribe(count)
    assert scheduler.run(chatter(20_000)) == 20_000
    assert 1 << 20 <= chars[0] < (1 << 20) + 200


def test_cancel_from_another_thread_stops_the_run() -> None:
    release = threading.Event()

    @task
    def wait_for_release() -> str:
        release.wait(30)
        return "released"

    @task
    def root() -> list:
        return [wait_for_release(), wait_for_release.options(name="w2")()]

    scheduler = Scheduler()
    states: dict[str, str] = {}
    running = threading.Event()

    def watch(event: object) -> None:
        if type(event) is JobStateChanged:
            states[event.task] = event.state  # type: ignore[attr-defined]
            if event.state == "running" and "wait_for_release" in event.task:  # type: ignore[attr-defined]
                running.set()

    scheduler.events.subscribe(watch)

    def cancel_when_running() -> None:
        running.wait(30)
        scheduler.cancel("stop, please")

    threading.Thread(target=cancel_when_running, daemon=True).start()
    began = time.monotonic()
    with pytest.raises(ExecutionCancelled, match="stop, please"):
        scheduler.run(root())
    release.set()
    assert time.monotonic() - began < 30
    assert states and set(states.values()) == {"cancelled"}
    assert not scheduler.is_running
