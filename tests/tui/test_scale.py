"""A 10,000-job execution stays responsive: lazy tree, bounded redraws."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from redun_tui.app import RedunApp
from redun_tui.data.source import Subscription
from redun_tui.screens import ExecutionScreen
from redun_tui.widgets import JobTree

from .conftest import wait_for
from .fakes import EXECUTION, NOW, ROOT, FakeSource

JOBS = 10_000


def event(job_id: str, state: str, parent: str | None = ROOT) -> dict[str, Any]:
    return {
        "type": "job_state",
        "execution_id": EXECUTION,
        "job_id": job_id,
        "parent_job_id": parent,
        "task": "demo.inc" if parent else "demo.main",
        "state": state,
        "executor": "default",
        "args_summary": job_id[-4:],
        "duration": 0.001 if state == "done" else 0.0,
        "time": NOW,
    }


class BigRun(FakeSource):
    """Every job goes pending, running, done: 30,000 events in 30 batches."""

    def follow_execution(self, execution_id: str) -> Subscription[dict[str, Any]]:
        def batches() -> Any:
            yield [event(ROOT, "running", None)]
            for step in ("pending", "running", "done"):
                for start in range(0, JOBS, 1000):
                    yield [event(f"{i:032x}", step) for i in range(start, start + 1000)]
            yield [{"type": "execution_finished", "execution_id": EXECUTION, "status": "done"}]

        return Subscription(batches())


def test_ten_thousand_jobs() -> None:
    async def scenario() -> None:
        app = RedunApp(BigRun(), clock=lambda: NOW)
        async with app.run_test(size=(160, 48)) as pilot:
            began = time.monotonic()
            app.open_execution(EXECUTION)
            await wait_for(pilot, lambda: isinstance(app.screen, ExecutionScreen))
            screen = app.screen
            await wait_for(pilot, lambda: screen.board.done, timeout=30, what="the big run")
            elapsed = time.monotonic() - began
            assert len(screen.board.jobs) == JOBS + 1
            assert screen.board.task_counts()["demo.inc"] == {"done": JOBS}
            # far fewer redraws than the 30,001 events, and a few hundred tree nodes
            assert screen.redraws <= elapsed / screen.redraw_interval + 2
            assert screen.buffer.coalesced > 0 or screen.redraws < 31
            tree = screen.query_one(JobTree)
            assert tree.node_count() == 1 + tree.page_size
            await pilot.press("space")  # collapse and expand the root: still one page
            await pilot.press("space")
            assert tree.node_count() == 1 + tree.page_size
            await pilot.press("q")
        assert elapsed < 20

    asyncio.run(scenario())
