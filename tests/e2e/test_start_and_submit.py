"""Starting the daemon and submitting to it as users do: honest status, one-line errors."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from redun.client import ExecutionFailed, InvalidArgument
from redun.v1 import common_pb2

from .helpers import Daemon, clean_env, redund, write_workflow


@pytest.fixture(autouse=True)
def _in_project(daemon: Daemon, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(daemon.project)


def test_typed_keyword_arguments_fill_required_arguments(daemon: Daemon) -> None:
    with daemon.client() as client:
        assert client.submit("flow.py", "inc", x=5).result(timeout=30) == 6
        assert client.submit("flow.py", "sum_list", xs=[1, 2, 3]).result(timeout=30) == 6


def test_submit_takes_context_values_as_redun_run_does(daemon: Daemon) -> None:
    write_workflow(
        daemon.project,
        "ctx.py",
        "from redun import get_context, task\n\n"
        "@task\ndef main(p: int = get_context('tool.p', 0), q: str = get_context('q', '')) -> str:\n"
        "    return f'{p}/{q}'\n",
    )
    given = ["--context", "tool.p=20", "ctx.py", "main", "--context", "q=x", "--wait"]
    result = daemon.redun("submit", "--option", 'context={"q": "json"}', *given)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "'20/x'"
    bad = daemon.redun("submit", "--context", "nope", "ctx.py", "main")
    assert bad.returncode == 2 and "--context takes KEY=VALUE" in bad.stderr


def test_a_task_raising_keyboard_interrupt_fails_its_run(daemon: Daemon) -> None:
    write_workflow(
        daemon.project,
        "interrupts.py",
        "from redun import task\n\n@task\ndef main() -> int:\n    raise KeyboardInterrupt\n",
    )
    with daemon.client() as client:
        run = client.submit("interrupts.py", "main")
        with pytest.raises(ExecutionFailed, match="task main raised KeyboardInterrupt"):
            run.result(timeout=30)
        assert run.status() == "failed"


def test_an_unknown_executor_option_is_refused_at_submit(daemon: Daemon) -> None:
    with daemon.client() as client, pytest.raises(InvalidArgument, match="executor='nope'"):
        client.submit("flow.py", "greet", options={"executor": "nope"})
    result = daemon.redun("submit", "flow.py", "greet", "--option", "executor=nope")
    assert result.returncode == 2 and "known types: " in result.stderr


def test_submit_options_may_follow_the_task_arguments(daemon: Daemon) -> None:
    result = daemon.redun("submit", "flow.py", "greet", "--name", "late", "--no-cache", "--wait")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "'Hello, late!'"


def test_a_syntax_error_exits_2_from_run_and_from_submit(daemon: Daemon) -> None:
    write_workflow(daemon.project, "broken3.py", "from redun import task\n\ndef main(:\n")
    assert daemon.redun("submit", "broken3.py", "main").returncode == 2
    assert daemon.redun("run", "broken3.py", "main").returncode == 2


def test_ctrl_c_of_submit_wait_says_the_run_goes_on(daemon: Daemon) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "redun.cli.main", "submit", "--wait", "flow.py", "hang"],
        cwd=daemon.project,
        env=daemon.env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    first = process.stderr.readline()
    assert first.startswith("redun: submitted execution "), first
    execution_id = first.split()[-1]
    with daemon.client() as client:
        for event in client.events(execution_id, replay=True):
            if event["type"] == "job_state" and event["state"] == "running":
                break
        process.send_signal(signal.SIGINT)
        rest = process.stderr.read()
        assert process.wait(timeout=30) == 130
        assert f"execution {execution_id} goes on in the daemon" in rest
        assert f"redun cancel {execution_id}" in rest
        assert client.execution(execution_id).status == common_pb2.EXECUTION_STATUS_RUNNING
        client.cancel(execution_id)


# -- starting ----------------------------------------------------------------------------------
def test_a_corrupt_store_stops_redund_start_with_one_line(tmp_path: Path) -> None:
    home = tmp_path / ".redun"
    home.mkdir()
    (home / "redun.db").write_bytes(os.urandom(8192))
    try:
        result = redund("start", "--home", str(home), env=clean_env())
    finally:  # should it start after all, leave no daemon behind
        redund("stop", "--home", str(home), env=clean_env())
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"redund: error: cannot prepare database sqlite:///{home / 'redun.db'}: "
        "file is not a database"
    ]


def test_a_malformed_redun_ini_stops_redund_start_with_one_line(tmp_path: Path) -> None:
    home = tmp_path / ".redun"
    home.mkdir()
    (home / "redun.ini").write_text("[backend\ndb_uri = x\n")
    try:
        result = redund("start", "--home", str(home), env=clean_env())
    finally:
        redund("stop", "--home", str(home), env=clean_env())
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"redund: error: {home / 'redun.ini'}: line 1: expected a [section] header, got '[backend'"
    ]


def test_parallel_starts_start_one_daemon_and_all_say_which(fresh_daemon: Daemon) -> None:
    outputs: list[subprocess.CompletedProcess] = []

    def start() -> None:
        outputs.append(redund("start", "--home", str(fresh_daemon.home), env=fresh_daemon.env))

    threads = [threading.Thread(target=start) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pid = fresh_daemon.pid()
    lines = [result.stdout.strip() for result in outputs]
    assert all(result.returncode == 0 for result in outputs), lines
    assert sum(line.startswith("redund: started for") for line in lines) == 1, lines
    assert sum(line.startswith("redund: already running for") for line in lines) == 4, lines
    assert all(f"(pid {pid}, unix:" in line and "?" not in line for line in lines), lines
    assert stat.S_IMODE(fresh_daemon.home.stat().st_mode) == 0o700


def test_a_jobs_output_outlives_the_daemon_in_the_store(fresh_daemon: Daemon) -> None:
    fresh_daemon.start()
    with fresh_daemon.client() as client:
        run = client.submit("flow.py", "chatty", args={"lines": "2"})
        assert run.result(timeout=30) == 2
        job_id = client.execution(run.id).root_job_id
    fresh_daemon.stop()
    fresh_daemon.start()
    with fresh_daemon.client() as client:
        assert "".join(line.text for line in client.logs(job_id)) == "line 0\nline 1\n"
