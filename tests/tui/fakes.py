"""A readable fake data source with fixed records, for snapshots and screen tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from redun_tui.data.model import (
    ExecutionInfo,
    FileInfo,
    JobDetail,
    JobInfo,
    LineageEdge,
    LineageGraph,
    LineageNode,
    LogChunk,
    RunRequest,
    SearchHit,
    TaskInfo,
    TaskVersion,
    ValuePreview,
    WatchInfo,
)
from redun_tui.data.source import DataSource, Subscription

NOW = 1_700_000_000.0
EXECUTION = "e" * 8 + "0" * 24
ROOT = "a" * 8 + "0" * 24


def _job(index: int, state: str, *, parent: str = ROOT, task: str = "demo.inc") -> JobInfo:
    job_id = f"{index:08x}" + "1" * 24
    return JobInfo(
        id=job_id,
        execution_id=EXECUTION,
        task=task,
        state=state,
        parent_id=parent,
        executor="default",
        cached=state == "cached",
        reason="cached: same code and arguments" if state == "cached" else "first run",
        args_summary=f"x={index}",
        call_hash=f"{index:040x}",
        task_hash="7" * 40,
        start=NOW - 30 + index,
        end=None if state in ("running", "pending") else NOW - 29 + index,
        duration=None if state in ("running", "pending") else 0.25 * (index + 1),
    )


class FakeSource(DataSource):
    """Fixed executions, a small DAG in every state, logs, lineage and provenance."""

    live = True
    description = "fake daemon"
    home = "/proj/.redun"

    def __init__(self) -> None:
        self.submitted: list[RunRequest] = []
        self.cancelled: list[str] = []
        request = RunRequest("flow.py", "main", {"n": "6"}, working_dir="/proj")
        self.info = ExecutionInfo(
            id=EXECUTION,
            status="running",
            request=request,
            start=NOW - 31,
            root_job_id=ROOT,
            counts={"running": 2, "done": 2, "cached": 1, "failed": 1, "pending": 1},
            total=7,
        )
        self.old = ExecutionInfo(
            id="b" * 32,
            status="failed",
            request=RunRequest("flow.py", "boom", {"x": "1"}, working_dir="/proj"),
            start=NOW - 7200,
            end=NOW - 7199,
            counts={"failed": 1},
            total=1,
            error="ValueError: boom 1",
        )
        root = JobInfo(
            id=ROOT, execution_id=EXECUTION, task="demo.main", state="running",
            args_summary="n=6", executor="default", start=NOW - 31, call_hash="9" * 40,
            task_hash="8" * 40, reason="first run",
        )  # fmt: skip
        self.jobs = [root] + [
            _job(i, state)
            for i, state in enumerate(["done", "done", "cached", "running", "failed", "pending"])
        ]
        self.jobs[5].error = "ValueError: x=4 is unlucky"
        self.jobs[5].traceback = (
            "Traceback (most recent call last):\n"
            '  File "flow.py", line 12, in inc\n'
            "    raise ValueError(f'x={x} is unlucky')\n"
            "ValueError: x=4 is unlucky"
        )

    def executions(self, limit: int = 200) -> list[ExecutionInfo]:
        return [self.info, self.old]

    def execution(self, execution_id: str) -> ExecutionInfo:
        return self.info if execution_id == EXECUTION else self.old

    def follow_execution(self, execution_id: str) -> Subscription[dict[str, Any]]:
        events = [
            {
                "type": "job_state",
                "execution_id": EXECUTION,
                "job_id": job.id,
                "parent_job_id": job.parent_id or None,
                "task": job.task,
                "state": job.state,
                "executor": job.executor,
                "cached": job.cached,
                "reason": job.reason,
                "call_hash": job.call_hash,
                "duration": job.duration or 0.0,
                "args_summary": job.args_summary,
                "time": job.end or job.start or NOW,
                "error": job.error or None,
            }
            for job in self.jobs
        ]
        return Subscription([events])

    def follow_all(self) -> Subscription[dict[str, Any]]:
        """Like a daemon's: no event comes, and the stream lasts until closed."""
        closed = threading.Event()

        def batches() -> Iterator[list[dict[str, Any]]]:
            closed.wait()
            return
            yield

        return Subscription(batches(), on_close=closed.set)

    def job(self, job_id: str) -> JobDetail:
        job = next(j for j in self.jobs if j.id == job_id)
        result = None
        if job.state in ("done", "cached"):
            result = ValuePreview(hash="4" * 40, type_name="int", repr="42", size=5)
        return JobDetail(
            job=job,
            args=[("x", ValuePreview(hash="3" * 40, type_name="int", repr="41", size=5))],
            result=result,
            explanation=[job.reason, "- argument x changed"],
        )

    def logs(self, job_id: str, *, follow: bool) -> Subscription[LogChunk]:
        return Subscription([[LogChunk("computing 41 + 1\n"), LogChunk("half a line")]])

    def watches(self) -> list[WatchInfo]:
        return [
            WatchInfo(
                id="c" * 32,
                request=RunRequest("flow.py", "main", {"n": "6"}),
                created=NOW - 3600,
                last_execution_id=EXECUTION,
                last_status="running",
                last_trigger=NOW - 31,
                path_count=3,
            )
        ]

    def submit(self, request: RunRequest) -> str:
        self.submitted.append(request)
        return EXECUTION

    def cancel(self, execution_id: str) -> int:
        self.cancelled.append(execution_id)
        return 2

    def lineage(self, *, value_hash: str = "", file_path: str = "") -> LineageGraph:
        result = ValuePreview(hash="4" * 40, type_name="int", repr="42")
        argument = ValuePreview(hash="3" * 40, type_name="int", repr="41")
        graph = LineageGraph(root_id=result.hash)
        graph.nodes = {
            result.hash: LineageNode(result.hash, "value", "42", value=result),
            argument.hash: LineageNode(argument.hash, "value", "41", value=argument),
            "c1" * 20: LineageNode("c1" * 20, "call", "demo.inc", task="demo.inc", job_id=self.jobs[1].id),
            "c2" * 20: LineageNode("c2" * 20, "call", "demo.total", task="demo.total", job_id=ROOT),
        }  # fmt: skip
        graph.edges = [
            LineageEdge("c1" * 20, result.hash, "result"),
            LineageEdge(argument.hash, "c1" * 20, "argument", "x"),
            LineageEdge(result.hash, "c2" * 20, "argument", "values"),
        ]
        return graph

    def tasks(self, query: str = "") -> list[TaskInfo]:
        return [
            TaskInfo("demo.inc", [TaskVersion("7" * 40, "", "", 12, NOW - 60)]),
            TaskInfo("demo.main", [TaskVersion("8" * 40, "2", "", 3, NOW - 31)]),
        ]

    def task(self, full_name: str) -> TaskInfo:
        source = "@task\ndef inc(x: int) -> int:\n    return x + 1\n"
        return TaskInfo(full_name, [TaskVersion("7" * 40, "", source, 12, NOW - 60)])

    def values(self, limit: int = 500) -> list[ValuePreview]:
        return [ValuePreview("4" * 40, "int", "42", size=5)]

    def value(self, value_hash: str) -> ValuePreview:
        return ValuePreview(value_hash, "int", "42", size=5)

    def files(self, prefix: str = "") -> list[FileInfo]:
        return [FileInfo("/proj/data/in.txt", "5" * 40, "6" * 40, 120)]

    def search(self, query: str) -> list[SearchHit]:
        return [
            SearchHit("task", "demo.inc", "demo.inc"),
            SearchHit("execution", EXECUTION, "main --n 6"),
        ]
