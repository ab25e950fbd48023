"""Remote (subprocess) tasks through the daemon: states, caching, logs and every way to cancel."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sdk.remote.helpers import mixed_project, processes_with, ran, wait_until

from .helpers import Daemon


@pytest.fixture
def remote_daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Daemon, Path]]:
    monkeypatch.chdir(tmp_path)  # clients submit from the project
    log = mixed_project(tmp_path, echo=False)
    running = Daemon(tmp_path)
    running.env["MIX_LOG"] = str(log)
    running.start()
    yield running, log
    running.stop()


def test_a_mixed_workflow_through_the_daemon(remote_daemon) -> None:
    daemon, log = remote_daemon
    first = daemon.redun("submit", "--wait", "flow.py", "main", "--n", "3", timeout=180)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == "2"
    assert ran(log) == sorted(
        ["remote_square"] * 3 + ["remote_neg"] * 3 + ["proc_add"] * 3 + ["thread_sum"]
    )
    log.unlink()
    again = daemon.redun("submit", "--wait", "flow.py", "main", "--n", "3", timeout=180)
    assert again.returncode == 0 and ran(log) == []
    flow = daemon.project / "flow.py"
    flow.write_text(flow.read_text().replace("    return -x\n", "    return 0 - x\n"))
    edited = daemon.redun("submit", "--wait", "flow.py", "main", "--n", "3", timeout=180)
    assert edited.returncode == 0, edited.stderr
    assert ran(log) == ["remote_neg"] * 3


def test_queued_remote_jobs_show_as_queued(remote_daemon) -> None:
    # Three calls in one array, two at a time: the third waits in the queue.
    daemon, log = remote_daemon
    flag = daemon.project / "flag"
    with daemon.client() as client:
        run = client.submit("flow.py", "waiting_many", args={"flag": str(flag), "n": "3"})
        wait_until(lambda: len(ran(log)) == 2, what="two elements running")

        def counts():
            return client.execution(run.id).job_counts

        # the root job and two elements run; the third element waits
        wait_until(lambda: counts().queued == 1 and counts().running == 3, what="1 queued")
        [queued] = list(client.jobs(run.id, states=["queued"]))
        assert queued.task == "mixflow.wait_for"
        flag.write_text("go")
        assert run.result(timeout=120) == ["released"] * 3
        assert counts().queued == 0 and counts().done == 4


def test_a_failing_remote_task_in_the_daemons_job_logs(remote_daemon) -> None:
    daemon, _ = remote_daemon
    with daemon.client() as client:
        run = client.submit("flow.py", "remote_fail", args={"x": "5"})
        with pytest.raises(Exception, match="remote failure 5"):
            run.result(timeout=120)
        [job] = [j for j in client.jobs(run.id) if j.task == "mixflow.remote_fail"]
        text = "".join(line.text for line in client.logs(job.id))
        detail = client.job(job.id)
    assert "about to fail on 5" in text  # the live tail of the job's output
    assert "remote failure 5" in detail.error.message
    assert 'raise ValueError(f"remote failure {x}")' in detail.error.traceback


def _start_sleepers(daemon: Daemon, tag: str) -> str:
    submitted = daemon.redun("submit", "flow.py", "sleepers", "--tag", tag)
    assert submitted.returncode == 0, submitted.stderr
    wait_until(lambda: len(processes_with(f"sleep 31.{tag}")) == 2, what="both sleeps")
    return submitted.stdout.strip()


def _nothing_left(daemon: Daemon, tag: str) -> None:
    scratch = str(daemon.home / "scratch")
    wait_until(
        lambda: not processes_with(f"sleep 31.{tag}") and not processes_with(scratch),
        timeout=30,
        what="every remote process to be gone",
    )


def test_cancelling_a_run_stops_its_remote_jobs(remote_daemon) -> None:
    daemon, _ = remote_daemon
    tag = str(os.getpid() % 10000 + 2000)
    execution_id = _start_sleepers(daemon, tag)
    cancelled = daemon.redun("cancel", execution_id)
    assert cancelled.returncode == 0, cancelled.stderr
    _nothing_left(daemon, tag)


def test_stopping_the_daemon_stops_remote_jobs(remote_daemon) -> None:
    daemon, _ = remote_daemon
    tag = str(os.getpid() % 10000 + 3000)
    _start_sleepers(daemon, tag)
    stopped = daemon.stop()
    assert stopped.returncode == 0, stopped.stderr
    _nothing_left(daemon, tag)


def test_a_restarted_daemon_adopts_the_remote_job_in_flight(remote_daemon) -> None:
    daemon, log = remote_daemon
    flag = daemon.project / "flag"
    submitted = daemon.redun("submit", "flow.py", "waiting", "--flag", str(flag))
    assert submitted.returncode == 0, submitted.stderr
    wait_until(lambda: ran(log) == ["wait_for"], what="the remote job to start")
    os.kill(daemon.pid(), signal.SIGKILL)  # the daemon and its runner die; the job does not
    state_dir = daemon.home / "scratch" / "subprocess"
    [job_dir] = state_dir.iterdir()
    daemon.start()
    with daemon.client() as client:
        run = client.submit("flow.py", "waiting", args={"flag": str(flag)})
        wait_until(
            lambda: any(
                "re-attached to redun-" in line.text
                for job in client.jobs(run.id)
                for line in client.logs(job.id)
            ),
            what="the new run to adopt the job",
        )
        flag.write_text("go")
        assert run.result(timeout=120) == "released"
    assert ran(log) == ["wait_for"]  # it ran once
    assert list(state_dir.iterdir()) == [job_dir]  # and was submitted once
