"""Jobs of an executor a user wrote the way insitro/redun's are, in the TUI, live.

The executor is registered by the workflow (``@register_executor``), configured
in ``redun.ini`` and reports with ``done_job(job, result, job_tags=...)`` from
threads of its own; the daemon runs it and the job screen shows the job as any
other: its executor, its tags, its result and why it ran.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from redun_tui.app import RedunApp
from redun_tui.data.grpc_source import GrpcSource
from redun_tui.screens import JobScreen
from redun_tui.widgets import DetailView

from ..e2e.helpers import Daemon, write_workflow
from .conftest import wait_for

SIZE = (160, 48)

FLOW = """
import threading

from redun import task
from redun.executors.base import Executor, register_executor

redun_namespace = "tui_lab"


@register_executor("tui_lab_threads")
class ThreadEach(Executor):
    def __init__(self, name, scheduler=None, config=None):
        super().__init__(name, scheduler=scheduler)
        self.site = (config or {}).get("site", "nowhere")

    def submit(self, job):
        args, kwargs = job.args
        threading.Thread(target=self._run, args=(job, args, kwargs), daemon=True).start()

    def _run(self, job, args, kwargs):
        try:
            result = job.task.func(*args, **kwargs)
        except Exception as error:
            self._scheduler.reject_job(job, error)
        else:
            self._scheduler.done_job(job, result, job_tags=[("site", self.site)])


@task(executor="lab")
def measure(i: int) -> int:
    return i * 7


@task
def main(n: int = 2) -> list:
    return [measure(i) for i in range(n)]
"""

CONFIG = """
[backend]
db_uri = sqlite:///${config_dir}/redun.db

[executors.lab]
type = tui_lab_threads
site = building-7
"""


@pytest.fixture
def lab_daemon(tmp_path: Path) -> Iterator[Daemon]:
    write_workflow(tmp_path, "labflow.py", FLOW)
    (tmp_path / ".redun").mkdir(exist_ok=True)
    (tmp_path / ".redun" / "redun.ini").write_text(CONFIG)
    daemon = Daemon(tmp_path)
    daemon.start()
    yield daemon
    daemon.stop()


def _rows(screen: object) -> dict[str, str]:
    """The job panel's rows by name (none until the job screen is up)."""
    if not isinstance(screen, JobScreen) or not screen.query("#job"):
        return {}
    return {name: str(value) for name, value in screen.query_one("#job", DetailView).rows}


def test_a_user_executors_job_shows_its_executor_tags_and_result(
    lab_daemon: Daemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = lab_daemon
    monkeypatch.chdir(daemon.project)
    with daemon.client() as client:
        run = client.submit("labflow.py", "main")
        assert run.result(timeout=60) == [0, 7]
        [job] = [
            job
            for job in client.jobs(run.id)
            if job.task == "tui_lab.measure" and job.args_summary == "1"
        ]
        job_id = job.id
    home = str(daemon.home)

    async def scenario() -> None:
        app = RedunApp(GrpcSource(home), home=home)
        async with app.run_test(size=SIZE) as pilot:
            app.open_job(job_id)
            await wait_for(
                pilot,
                lambda: _rows(app.screen).get("tags") == "site=building-7",
                what="the job's tags on the job screen",
            )
            rows = _rows(app.screen)
            assert rows["task"] == "tui_lab.measure"
            assert rows["executor"] == "lab"
            assert rows["state"] == "✔ done"
            arguments = app.screen.query_one("#arguments", DetailView).rows
            assert [str(value) for name, value in arguments if name == "→ result"] == ["7  int"]
            await pilot.press("q")

    asyncio.run(scenario())
    # Read-only, without the daemon, the store gives the same tags.
    from redun_tui.data.db_source import DbSource

    assert DbSource.for_home(home).job(job_id).tags == {"site": "building-7"}
    shown = daemon.redun("log", job_id)
    assert "  Tags: site=building-7" in shown.stdout.splitlines(), shown.stdout + shown.stderr
