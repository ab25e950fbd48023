"""`redun run` with remote tasks: caching, code edits, Ctrl-C, and a scheduler restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from .helpers import launcher_pids, mixed_project, processes_with, ran, wait_until


@pytest.fixture
def project(tmp_path: Path, cli_env: dict[str, str]):
    log = mixed_project(tmp_path)
    cli_env["MIX_LOG"] = str(log)
    return tmp_path, log, cli_env


def redun_run(directory: Path, env: dict, *args: str, timeout: float = 180):
    return subprocess.run(
        [sys.executable, "-m", "redun", "run", "--no-progress", "flow.py", *args],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_run(directory: Path, env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "redun", "run", "--no-progress", "flow.py", *args],
        cwd=directory,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_mixed_workflow_caches_and_reruns_only_an_edited_remote_task(project) -> None:
    directory, log, env = project
    first = redun_run(directory, env, "main", "--n", "3")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == "2"  # (0 - 0) + (1 - 1) + (4 - 2)
    assert ran(log) == sorted(
        ["remote_square"] * 3 + ["remote_neg"] * 3 + ["proc_add"] * 3 + ["thread_sum"]
    )
    assert "squared 2" in first.stdout  # remote output is shown, as local jobs' is
    log.unlink()
    again = redun_run(directory, env, "main", "--n", "3")
    assert again.returncode == 0 and ran(log) == []  # all cached
    flow = directory / "flow.py"
    flow.write_text(flow.read_text().replace("    return -x\n", "    return 0 - x\n"))
    edited = redun_run(directory, env, "main", "--n", "3")
    assert edited.returncode == 0, edited.stderr
    assert ran(log) == ["remote_neg"] * 3  # same results: nothing downstream re-runs


def test_a_failing_remote_task_reaches_redun_log(project) -> None:
    directory, _, env = project
    failed = redun_run(directory, env, "remote_fail", "--x", "5")
    assert failed.returncode == 1
    assert "Task failed remotely" in failed.stderr and "remote failure 5" in failed.stderr
    shown = subprocess.run(
        [sys.executable, "-m", "redun", "log", "--format", "json", "-"],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert 'raise ValueError(f\\"remote failure {x}\\")' in shown.stdout
    assert "about to fail on 5" in shown.stdout  # its output, with the traceback


def test_ctrl_c_leaves_no_remote_process_behind(project) -> None:
    directory, _, env = project
    tag = str(os.getpid() % 10000 + 1000)
    run = start_run(directory, env, "sleepers", "--tag", tag)
    try:
        wait_until(lambda: len(processes_with(f"sleep 31.{tag}")) == 2, what="both sleeps")
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, err
    scratch = str(directory / ".redun" / "scratch")
    assert processes_with(f"sleep 31.{tag}") == []
    assert processes_with(scratch) == []  # no launcher, no entrypoint


def test_a_restarted_scheduler_adopts_a_job_in_flight(project) -> None:
    directory, log, env = project
    flag = directory / "flag"
    first = start_run(directory, env, "waiting", "--flag", str(flag))
    state_dir = directory / ".redun" / "scratch" / "subprocess"
    try:
        wait_until(lambda: ran(log) == ["wait_for"], what="the remote job to start")
    finally:
        first.kill()  # the scheduler dies; its remote job does not
        first.communicate()
    [launcher] = launcher_pids(state_dir)
    second = start_run(directory, env, "waiting", "--flag", str(flag))
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(second.stderr.readline, "")))
    reader.start()
    try:
        wait_until(lambda: any("re-attached to redun-" in line for line in lines), what="adopt")
        flag.write_text("go")
        out = second.stdout.read()
        second.wait(timeout=120)
    finally:
        if second.poll() is None:
            second.kill()
        reader.join(timeout=10)
    assert second.returncode == 0, "".join(lines)
    assert out.strip().splitlines()[-1] == "'released'"
    assert ran(log) == ["wait_for"]  # it ran once
    assert len(list(state_dir.iterdir())) == 1 and launcher_pids(state_dir) == [launcher]


def test_a_restarted_scheduler_reads_back_a_result_finished_meanwhile(project) -> None:
    directory, log, env = project
    flag = directory / "flag"
    first = start_run(directory, env, "waiting", "--flag", str(flag))
    state_dir = directory / ".redun" / "scratch" / "subprocess"
    try:
        wait_until(lambda: ran(log) == ["wait_for"], what="the remote job to start")
    finally:
        first.kill()
        first.communicate()
    flag.write_text("go")
    [job_dir] = state_dir.iterdir()
    wait_until(lambda: "end" in (job_dir / "events").read_text(), what="the job to end")
    second = redun_run(directory, env, "waiting", "--flag", str(flag))
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().splitlines()[-1] == "'released'"
    assert "read the result of redun-" in second.stdout + second.stderr
    assert ran(log) == ["wait_for"] and list(state_dir.iterdir()) == [job_dir]


def test_launch_on_an_executor_runs_the_command_as_a_remote_script_job(project) -> None:
    # redun launch --executor NAME: the `redun run` command itself runs there, in the job's
    # directory with the code package unpacked (its own store there, as on a fresh node).
    directory, log, env = project
    # The job's shell finds `redun` on its PATH, as in an image with redun installed.
    env["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{env.get('PATH', '')}"

    def launch(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "redun", "launch", *args],
            cwd=directory,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    waited = launch(
        "--executor", "remote", "--wait", "redun", "run", "--no-progress", "flow.py", "proc_add",
        "--a", "2", "--b", "3",
    )  # fmt: skip
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout.strip().splitlines()[-1] == "5"  # the inner run's result, printed there
    assert ran(log) == ["proc_add"]  # it ran once, in the remote job's process
    listing = subprocess.run(
        [sys.executable, "-m", "redun", "log", "--job", "--format", "json"],
        cwd=directory, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert '"redun.script_task"' in listing.stdout and '"executor": "remote"' in listing.stdout

    log.unlink()
    detached = launch("--executor", "remote", "run", "flow.py", "proc_add", "--a", "1", "--b", "1")
    assert detached.returncode == 0, detached.stderr
    assert "launched on executor remote" in detached.stdout  # returned at once...
    wait_until(lambda: ran(log) == ["proc_add"], what="the detached launch's job")  # ...ran

    unknown = launch("--executor", "nowhere", "--wait", "run", "flow.py", "main")
    assert unknown.returncode == 2 and "[executors.nowhere]" in unknown.stderr
    stray = launch("-o", "memory=2", "run", "flow.py", "main")
    assert stray.returncode == 2 and "--executor" in stray.stderr
