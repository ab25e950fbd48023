"""`redun run` with docker tasks: a mixed workflow, Ctrl-C, and a scheduler restart.

The stand-in ``docker`` is first on PATH of each ``redun run``; its
containers outlive a killed scheduler, as Docker's do.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ..remote.helpers import MIXED, processes_with, ran, wait_until
from .conftest import FakeDocker

REDUN_INI = """\
[backend]
db_uri = sqlite:///${config_dir}/redun.db

[executors.processes]
type = processes
max_workers = 2

[executors.remote]
type = docker
image = example/mixflow:1
scratch = scratch
env = MIX_LOG
max_concurrency = 2
poll_interval = 0.2
echo = true
"""


@pytest.fixture
def project(tmp_path: Path, cli_env: dict[str, str], fake_docker: FakeDocker):
    (tmp_path / "flow.py").write_text(MIXED)
    (tmp_path / ".redun").mkdir()
    (tmp_path / ".redun" / "redun.ini").write_text(REDUN_INI)
    log = tmp_path / "runs.log"
    env = fake_docker.env(cli_env)
    env["MIX_LOG"] = str(log)
    return tmp_path, log, env


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


def test_a_mixed_local_and_docker_workflow_runs_and_caches(project, fake_docker) -> None:
    directory, log, env = project
    first = redun_run(directory, env, "main", "--n", "3")
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().splitlines()[-1] == "2"
    assert ran(log) == sorted(
        ["remote_square"] * 3 + ["remote_neg"] * 3 + ["proc_add"] * 3 + ["thread_sum"]
    )
    assert "squared 2" in first.stdout  # container output is shown, as local jobs' is
    specs = fake_docker.runs()
    assert len(specs) == 6  # one container per remote call; local tasks ran locally
    scratch = str(directory / ".redun" / "scratch")  # relative: from the config directory
    for spec in specs:
        assert spec["Image"] == "example/mixflow:1"
        assert spec["HostConfig"]["Binds"] == [f"{scratch}:{scratch}"]
        assert f"MIX_LOG={log}" in spec["Config"]["Env"]  # passed by name (env = MIX_LOG)
        assert spec["Config"]["Labels"]["redun-task"] in (
            "mixflow.remote_square",
            "mixflow.remote_neg",
        )
    assert fake_docker.containers() == []
    log.unlink()
    again = redun_run(directory, env, "main", "--n", "3")
    assert again.returncode == 0 and ran(log) == []  # all cached
    assert len(fake_docker.runs()) == 6  # no container started


def test_a_failing_docker_task_fails_the_run_with_its_traceback(project) -> None:
    directory, _, env = project
    failed = redun_run(directory, env, "remote_fail", "--x", "5")
    assert failed.returncode == 1
    assert "Task failed remotely" in failed.stderr and "remote failure 5" in failed.stderr
    assert 'raise ValueError(f"remote failure {x}")' in failed.stderr


def test_ctrl_c_kills_and_removes_the_containers(project, fake_docker) -> None:
    directory, _, env = project
    tag = str(os.getpid() % 10000 + 2000)
    run = start_run(directory, env, "sleepers", "--tag", tag)
    try:
        wait_until(lambda: len(processes_with(f"sleep 31.{tag}")) == 2, what="both sleeps")
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, err
    assert processes_with(f"sleep 31.{tag}") == []
    assert fake_docker.containers() == []
    names = {spec["Name"] for spec in fake_docker.runs()}
    removed = {name for argv in fake_docker.calls("rm") for name in argv[2:]}
    assert len(names) == 2 and names <= removed


def _kill_while_running(directory: Path, log: Path, env: dict, flag: Path) -> None:
    first = start_run(directory, env, "waiting", "--flag", str(flag))
    try:
        wait_until(lambda: ran(log) == ["wait_for"], what="the container to start")
    finally:
        first.kill()  # the scheduler dies; its container does not
        first.communicate()


def test_a_restarted_scheduler_adopts_a_container_in_flight(project, fake_docker) -> None:
    directory, log, env = project
    flag = directory / "flag"
    _kill_while_running(directory, log, env, flag)
    [name] = fake_docker.containers()
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
    assert [spec["Name"] for spec in fake_docker.runs()] == [name]  # one container, ever
    found = [argv for argv in fake_docker.calls("ps") if "--filter" in argv]
    assert found and "label=redun-executor=remote" in found[-1]
    assert fake_docker.containers() == []


def test_a_restarted_scheduler_reads_back_a_result_finished_meanwhile(project, fake_docker) -> None:
    directory, log, env = project
    flag = directory / "flag"
    _kill_while_running(directory, log, env, flag)
    [name] = fake_docker.containers()
    flag.write_text("go")

    def exited() -> bool:
        [info] = json.loads(fake_docker.docker("inspect", name).stdout)
        return info["State"]["Status"] == "exited"

    wait_until(exited, what="the container to exit")
    second = redun_run(directory, env, "waiting", "--flag", str(flag))
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip().splitlines()[-1] == "'released'"
    assert "read the result of redun-" in second.stdout + second.stderr
    assert ran(log) == ["wait_for"] and len(fake_docker.runs()) == 1
