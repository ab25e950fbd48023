"""The live model without widgets: coalescing, the job board, filters, workflow parsing."""

from __future__ import annotations

import time

from redun_tui.live import EventBuffer, JobBoard, JobFilter
from redun_tui.workflow import find_tasks


def state(job_id: str, value: str, *, parent: str = "root", task: str = "t.inc", t: float = 1.0):
    return {
        "type": "job_state",
        "execution_id": "e",
        "job_id": job_id,
        "parent_job_id": parent or None,
        "task": task,
        "state": value,
        "executor": "default",
        "cached": value == "cached",
        "reason": "",
        "call_hash": "",
        "duration": 0.5 if value in ("done", "failed") else 0.0,
        "args_summary": f"x={job_id}",
        "time": t,
    }


def test_buffer_keeps_latest_state_in_first_order_and_start_time() -> None:
    buffer = EventBuffer()
    buffer.put([state("root", "pending", parent=""), state("a", "pending")])
    buffer.put([state("a", "running", t=5.0), state("root", "running", parent="")])
    buffer.put([state("a", "done", t=6.0), {"type": "execution_finished", "status": "done"}])
    jobs, others = buffer.drain()
    assert [(e["job_id"], e["state"]) for e in jobs] == [("root", "running"), ("a", "done")]
    assert jobs[1]["started"] == 5.0
    assert buffer.coalesced == 3 and buffer.received == 6
    assert [e["type"] for e in others] == ["execution_finished"]
    assert not buffer and buffer.drain() == ([], [])


def test_board_tree_counts_and_changes() -> None:
    board = JobBoard()
    buffer = EventBuffer()
    buffer.put([state("root", "running", parent="", task="t.main")])
    buffer.put([state(str(i), "pending") for i in range(3)])
    changes = board.apply(*buffer.drain())
    assert changes.added == ["root", "0", "1", "2"] and not changes.updated
    assert board.roots == ["root"] and board.children["root"] == ["0", "1", "2"]
    buffer.put([state("0", "running", t=2.0), state("0", "done", t=3.0), state("1", "failed")])
    changes = board.apply(*buffer.drain())
    assert changes.updated == ["0", "1"] and not changes.added
    assert board.jobs["0"].start == 2.0 and board.jobs["0"].duration == 0.5
    assert board.task_counts() == {
        "t.inc": {"done": 1, "failed": 1, "pending": 1},
        "t.main": {"running": 1},
    }
    assert board.state_counts() == {"done": 1, "failed": 1, "pending": 1, "running": 1}
    buffer.put([{"type": "execution_finished", "status": "failed"}])
    assert board.apply(*buffer.drain()).finished and board.status == "failed"


def test_ten_thousand_jobs_coalesce_and_apply_fast() -> None:
    board = JobBoard()
    buffer = EventBuffer()
    began = time.perf_counter()
    buffer.put([state("root", "running", parent="", task="t.main")])
    for step in ("pending", "running", "done"):
        for start in range(0, 10_000, 1000):
            buffer.put([state(str(i), step) for i in range(start, start + 1000)])
    jobs, others = buffer.drain()
    assert len(jobs) == 10_001 and buffer.coalesced == 20_000
    changes = board.apply(jobs, others)
    assert len(changes.added) == 10_001
    assert board.task_counts()["t.inc"] == {"done": 10_000}
    assert time.perf_counter() - began < 2.0


def test_filter_parses_words() -> None:
    board = JobBoard()
    board.apply(
        [
            state("root", "running", parent="", task="t.main"),
            state("a", "failed"),
            state("b", "done", task="t.total"),
        ],
        [],
    )
    assert JobFilter.parse("state:failed").select(board) == ["a"]
    assert JobFilter.parse("task:total").select(board) == ["b"]
    assert JobFilter.parse("s:failed,done t:inc").select(board) == ["a"]
    assert JobFilter.parse("x=b").select(board) == ["b"]
    assert not JobFilter.parse("  ")


def test_find_tasks_reads_signatures_without_importing() -> None:
    source = '''
import does_not_exist
from redun import task

@task
def main(n: int = 10, name: str = "x") -> int:
    """Run it."""
    return n

@task(cache=False)
def other(xs: list[int], *, flag: bool = False): ...

def helper(): ...
'''
    tasks = find_tasks(source)
    assert [t.name for t in tasks] == ["main", "other"]
    assert tasks[0].hint() == "--n INT=10 --name STR='x'" and tasks[0].doc == "Run it."
    assert tasks[1].hint() == "--xs LIST[INT] --flag BOOL=False"
