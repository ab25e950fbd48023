"""Helpers of the watch tests: a workflow to edit, saves as editors do them, a watch's events."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FLOW = """
import time

from redun import File, task

import helpers

redun_namespace = "{namespace}"

OFFSET = 10


@task
def scaled(x: int) -> int:
    return helpers.scale(x)


@task
def offset(x: int) -> int:
    return x + OFFSET


@task
def words(data: File) -> int:
    return len(data.read().split())


@task
def combine(a: int, b: int, c: int) -> int:
    return a + b + c


@task
def main(x: int = 2, data: File = File("data.txt")) -> int:
    return combine(scaled(x), offset(x), words(data))


@task
def by_name(name: str = "data.txt") -> int:
    # The File is made inside the task: only the call below it records it.
    return words(File(name))


@task
def pause(delay: File) -> float:
    seconds = float(delay.read())
    time.sleep(seconds)
    return seconds


@task
def slow_main(delay: File = File("delay.txt")) -> float:
    return pause(delay)


@task
def shout(data: File, dest: str = "out/loud.txt") -> File:
    out = File(dest)
    out.write(data.read().upper())
    return out


@task
def count_loud(loud: File) -> int:
    return len(loud.read().split())


@task
def publish(data: File = File("data.txt")) -> int:
    return count_loud(shout(data))
"""

HELPERS = "FACTOR = 3\n\n\ndef scale(x):\n    return x * FACTOR\n"


def make_project(directory: Path, namespace: str) -> Path:
    """A workflow (``flow.py``), its helper module and its data, dated a second ago."""
    directory.mkdir(parents=True, exist_ok=True)
    files = {
        "flow.py": FLOW.format(namespace=namespace),
        "helpers.py": HELPERS,
        "data.txt": "a b c d\n",
        "delay.txt": "0\n",
    }
    past = time.time() - 1
    for name, text in files.items():
        path = directory / name
        path.write_text(text)
        os.utime(path, (past, past))
    return directory


def save(path: Path, text: str, *, atomic: bool = True) -> None:
    """Save as an editor does: write a temporary file and rename it over the original."""
    if not atomic:
        path.write_text(text)
        return
    temp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    temp.write_text(text)
    os.replace(temp, path)


def edit(path: Path, old: str, new: str, *, atomic: bool = True) -> None:
    text = path.read_text()
    assert old in text, old
    save(path, text.replace(old, new, 1), atomic=atomic)


@dataclass
class Run:
    """One run of a watch as its events told it."""

    execution_id: str
    trigger: dict[str, Any] | None
    started: dict[str, Any]
    finished: dict[str, Any]
    states: dict[str, set[str]] = field(default_factory=dict)  # task -> states seen

    @property
    def ran(self) -> set[str]:
        """Tasks whose job ran (running, done or failed), not answered from the cache."""
        return {task for task, seen in self.states.items() if seen & {"running", "done", "failed"}}

    @property
    def cached(self) -> set[str]:
        return {task for task, seen in self.states.items() if "cached" in seen}


def replay_run(client: Any, execution_id: str) -> Run:
    """A finished (or finishing) run, from the replay of its events."""
    events = list(client.events(execution_id, replay=True))
    started = next(e for e in events if e["type"] == "execution_started")
    finished = next(e for e in events if e["type"] == "execution_finished")
    run = Run(execution_id, None, started, finished)
    for event in events:
        if event["type"] == "job_state":
            run.states.setdefault(event["task"].rsplit(".", 1)[-1], set()).add(event["state"])
    return run


class WatchEvents:
    """Collects a watch's events in a thread (``redun.client`` streams block)."""

    def __init__(self, client: Any, watch_id: str) -> None:
        self.client = client
        self.watch_id = watch_id
        self.events: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(30), "the event stream did not start"

    def _run(self) -> None:
        from redun.client.convert import event_to_dict

        try:
            for batch in self.client.event_batches(watch_id=self.watch_id, replay=True):
                with self.cond:
                    self.events.extend(event_to_dict(event) for event in batch.events)
                    self.cond.notify_all()
                if batch.caught_up:
                    self.ready.set()
        except Exception:  # the client closed
            pass
        finally:
            self.ready.set()

    def mark(self) -> int:
        """A position in the stream: later waits look at what comes after it."""
        with self.cond:
            return len(self.events)

    def wait(
        self, predicate: Callable[[dict[str, Any]], bool], *, start: int = 0, timeout: float = 30
    ) -> tuple[int, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        index = start
        with self.cond:
            while True:
                while index < len(self.events):
                    if predicate(self.events[index]):
                        return index, self.events[index]
                    index += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no such event within {timeout} s; got {self.events[start:]}"
                    )
                self.cond.wait(left)

    def next_run(self, start: int, *, timeout: float = 30, triggered: bool = True) -> Run:
        """The first run started after ``start``, once it finished."""
        trigger = None
        if triggered:
            index, trigger = self.wait(lambda e: e["type"] == "watch_triggered", start=start)
            start = index
        index, started = self.wait(
            lambda e: e["type"] == "execution_started", start=start, timeout=timeout
        )
        execution_id = started["execution_id"]
        end, finished = self.wait(
            lambda e: e["type"] == "execution_finished" and e["execution_id"] == execution_id,
            start=index,
            timeout=timeout,
        )
        run = Run(execution_id, trigger, started, finished)
        with self.cond:
            for event in self.events[index:end]:
                if event["type"] == "job_state" and event["execution_id"] == execution_id:
                    task = event["task"].rsplit(".", 1)[-1]
                    run.states.setdefault(task, set()).add(event["state"])
        return run

    def count(self, kind: str, start: int = 0) -> int:
        with self.cond:
            return sum(1 for event in self.events[start:] if event["type"] == kind)

    def first_run_is(self, start: int, change: Callable[[], Path]) -> Run:
        """Show that nothing of the watch happened after ``start``, without a timer.

        ``change()`` saves a file that does trigger a run and returns its path.
        Changes reach the watch in order, so had anything triggered after
        ``start``, its trigger would come first (or be folded into this one):
        the first trigger must be this change alone, with no run before it.
        """
        path = change()
        run = self.next_run(start)
        assert run.trigger is not None
        assert run.trigger["changed_paths"] == [str(path)], run.trigger
        with self.cond:
            before = self.events[start : self.events.index(run.trigger, start)]
        assert not [e for e in before if e["type"] != "log"], before
        return run

    def close(self) -> None:
        self.client.close()
        self.thread.join(5)
