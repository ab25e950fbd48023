"""Live tails that may miss lines (``live_logs_complete = False``, e.g. a log service that
ingests late): when a call ends, what the tails did not show is posted from its outcome, and
nothing is posted twice."""

from __future__ import annotations

from pathlib import Path

from redun import task
from redun.events import LogLine
from redun.executors.remote.flight import unshown

from .test_layer import ThreadBackend, make


def test_unshown_drops_what_the_tails_showed_per_stream() -> None:
    output = [("stdout", "a\nb\n"), ("stderr", "x\n"), ("stdout", "c\n")]
    assert unshown(output, {"stdout": "", "stderr": ""}) == output
    assert unshown(output, {"stdout": "a\n", "stderr": ""}) == [
        ("stdout", "b\n"),
        ("stderr", "x\n"),
        ("stdout", "c\n"),
    ]
    assert unshown(output, {"stdout": "a\nb\nc\n", "stderr": "x\n"}) == []
    # lines a tail showed that the output does not start with are not taken for it
    assert unshown(output, {"stdout": "boot message\na\n", "stderr": ""}) == output
    # a tail with more than the output (the entrypoint's own last words) drops it all
    assert unshown(output, {"stdout": "", "stderr": "x\nredun oneshot: failed\n"}) == [
        ("stdout", "a\nb\n"),
        ("stdout", "c\n"),
    ]


class LaggingTails(ThreadBackend):
    """Tails that show only the first line a job printed (the rest not ingested yet)."""

    live_logs = True
    live_logs_complete = False

    def read_logs(self, handle, index, *, final: bool) -> list[tuple[str, str]]:
        if not final:
            return []
        return [("stdout", "line 0\n")]


@task(executor="inline", namespace="tails")
def chatty(n: int) -> int:
    for i in range(n):
        print(f"line {i}")
    return n


def test_a_lagging_tail_loses_no_line_and_doubles_none(tmp_path: Path) -> None:
    scheduler, _ = make(tmp_path, LaggingTails)
    lines: list[str] = []
    scheduler.events.subscribe(
        lambda event: lines.append(event.text) if isinstance(event, LogLine) else None
    )
    try:
        assert scheduler.run(chatty(3)) == 3
    finally:
        scheduler.stop()
    text = "".join(lines)
    assert [text.count(f"line {i}\n") for i in range(3)] == [1, 1, 1], text
