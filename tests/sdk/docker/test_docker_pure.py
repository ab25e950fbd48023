"""Pure parts: container states as phases (recorded ``docker inspect`` output), the
``docker run`` line, and the configuration as redun writes it."""

from __future__ import annotations

import pytest

from redun.errors import ExecutorError, UsageError
from redun.executors.docker.command import Placement, in_container, run_command
from redun.executors.docker.executor import as_redun_reads_it
from redun.executors.docker.monitor import observe, summarize
from redun.executors.docker.settings import Volume, parse_env, parse_settings, parse_volumes
from redun.executors.remote.backend import Submission
from redun.executors.remote.states import Observation, Phase


def state(**fields) -> dict:
    """A ``docker inspect`` entry (the fields Docker 24 writes under State)."""
    base = {
        "Status": "running",
        "Running": True,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": 4242,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": "2024-05-02T10:11:12.123456789Z",
        "FinishedAt": "0001-01-01T00:00:00Z",
    }
    return {"Id": "f" * 64, "Name": "/redun-x-0123abcd", "State": {**base, **fields}}


@pytest.mark.parametrize(
    ("fields", "phase", "reason"),
    [
        ({}, Phase.RUNNING, ""),
        ({"Status": "paused", "Paused": True}, Phase.RUNNING, ""),
        ({"Status": "created", "Running": False, "Pid": 0}, Phase.QUEUED, ""),
        ({"Status": "exited", "Running": False, "ExitCode": 0}, Phase.SUCCEEDED, ""),
        ({"Status": "exited", "Running": False, "ExitCode": 1}, Phase.FAILED, "exit status 1"),
        (
            {"Status": "exited", "Running": False, "ExitCode": 137},
            Phase.FAILED,
            "exit status 137 (killed by SIGKILL)",
        ),
        (
            {"Status": "exited", "Running": False, "ExitCode": 137, "OOMKilled": True},
            Phase.FAILED,
            "out of memory: Docker stopped the container at its memory limit (raise memory, in GB)",
        ),
        (
            {
                "Status": "created",
                "Running": False,
                "Pid": 0,
                "ExitCode": 127,
                "Error": 'exec: "redun": executable file not found in $PATH',
            },
            Phase.FAILED,
            "exit status 127: the command was not found in the image (install redun, the same "
            'version as the scheduler\'s, in the image): exec: "redun": executable file not '
            "found in $PATH",
        ),
        ({"Status": "dead", "Running": False, "Dead": True}, Phase.LOST, "Docker reports the "),
        ({"Status": "bogus"}, Phase.UNKNOWN, "the container's status is 'bogus'"),
    ],
)
def test_container_states_map_to_phases(fields, phase, reason) -> None:
    seen = observe(state(**fields))
    assert seen.phase is phase
    assert seen.reason.startswith(reason) if reason else seen.reason == ""


def test_an_array_is_queued_then_running_then_final_from_its_elements() -> None:
    assert summarize(3, {}).phase is Phase.QUEUED
    assert summarize(3, {0: Observation(Phase.QUEUED)}).phase is Phase.QUEUED
    running = summarize(3, {0: Observation(Phase.SUCCEEDED)})
    assert running.phase is Phase.RUNNING  # two elements still wait for a slot
    assert running.element(1, True).phase is Phase.QUEUED
    done = {i: Observation(Phase.SUCCEEDED) for i in range(3)}
    assert summarize(3, done).phase is Phase.SUCCEEDED
    assert (
        summarize(3, {**done, 1: Observation(Phase.FAILED, "exit status 1")}).phase is Phase.FAILED
    )
    assert summarize(3, {**done, 2: Observation(Phase.LOST)}).phase is Phase.LOST
    lone = summarize(None, {0: Observation(Phase.FAILED, "exit status 2")})
    assert (lone.phase, lone.reason) == (Phase.FAILED, "exit status 2")


SUBMISSION = Submission(
    key="a-0123456789abcdef",
    token="0123456789abcdef",
    name="redun-a-0123456789abcdef-01234567",
    size=4,
    command=["redun", "oneshot", "--scratch", "/s", "--code", "/s/code/x.tar.gz", "a-0123"],
    task_name="flow.align",
    options={"memory": 2, "image": "lab/align:3"},
    labels={"redun-run": "e1", "redun-key": "a-0123", "redun-token": "0123", "redun-task": "t"},
    scratch="/s",
)


def test_the_run_line_of_an_array_element() -> None:
    settings = parse_settings(
        "gpu", {"image": "lab/base:1", "gpus": "all", "env": "A=1 TOKEN", "user": "1000"}, "/cfg"
    )
    placement = Placement("/s", "/scratch", (Volume("/s", "/scratch"),), ("AWS_REGION",), "/cfg")
    argv = run_command(settings, SUBMISSION, 2, placement, created=1714644672.5)
    assert argv[:5] == ["docker", "run", "-d", "--name", f"{SUBMISSION.name}-2"]
    tail = argv[argv.index("lab/align:3") :]
    assert tail == [
        "lab/align:3",
        "redun", "oneshot", "--scratch", "/scratch", "--code", "/scratch/code/x.tar.gz",
        "a-0123", "--array-index", "2",
    ]  # fmt: skip
    assert "--label" in argv and "redun-index=2" in argv and "redun-size=4" in argv
    assert "redun-executor=gpu" in argv and "redun-created=1714644672.500" in argv
    assert argv[argv.index("-v") + 1] == "/s:/scratch"
    pairs = [argv[i + 1] for i, word in enumerate(argv) if word == "-e"]
    assert pairs == ["PYTHONUNBUFFERED=1", "AWS_REGION", "A=1", "TOKEN"]
    assert "--memory=2048m" in argv and "--cpus=1" in argv  # the task's memory, redun's vcpus
    assert argv[argv.index("--gpus") + 1] == "all" and argv[argv.index("--user") + 1] == "1000"


def test_interactive_runs_attach_instead_of_detaching() -> None:
    settings = parse_settings("dbg", {"image": "lab/base:1"}, "/cfg")
    placement = Placement("/s")
    lone = Submission("k", "t" * 16, "redun-k-tttttttt", None, ["redun", "oneshot", "k"], "f.g")
    argv = run_command(settings, lone, None, placement, created=0, detach=False, tty=True)
    assert argv[2] == "-it" and "-d" not in argv and argv[-3:] == ["redun", "oneshot", "k"]
    assert "redun-index" not in " ".join(argv)


def test_paths_move_into_the_container_only_under_the_scratch() -> None:
    placement = Placement("/data/scratch", "/scratch")
    command = ["x", "/data/scratch", "/data/scratch/code/a", "/data/scratchy", "/other"]
    assert in_container(command, placement) == [
        "x", "/scratch", "/scratch/code/a", "/data/scratchy", "/other",
    ]  # fmt: skip


def test_volumes_and_env_parse_as_redun_writes_them() -> None:
    volumes = parse_volumes('[["data", "/data"], ["/ref", "/ref", "ro"], "~/x:/x"]', "/cfg", "v")
    assert volumes[0] == Volume("/cfg/data", "/data")
    assert volumes[1].flag() == "/ref:/ref:ro"
    assert volumes[2].host.endswith("/x") and not volumes[2].host.startswith("~")
    assert parse_env({"A": 1, "B": None}, "e") == (("A", "1"), ("B", None))
    assert parse_env("A='two words' B", "e") == (("A", "two words"), ("B", None))
    with pytest.raises(UsageError, match="'1A' is not a variable name"):
        parse_env("1A=x", "e")
    with pytest.raises(UsageError, match="container path 'data' must be absolute"):
        parse_volumes('[["data", "data"]]', "/cfg", "v")


def test_a_bad_task_option_is_an_executor_error_naming_the_task() -> None:
    settings = parse_settings("d", {"image": "lab/base:1"}, "/cfg")
    bad = Submission("k", "t" * 16, "redun-k-tttttttt", None, ["redun"], "f.g", {"vcpus": "x"})
    with pytest.raises(ExecutorError, match="task f.g option vcpus = 'x' is not a positive"):
        run_command(settings, bad, None, Placement("/s"), created=0)


def test_redun_conventions_scratch_from_the_config_dir_and_job_monitor_interval() -> None:
    section = as_redun_reads_it({"scratch": "scratch", "job_monitor_interval": "3"}, "/cfg")
    assert section["scratch"] == "/cfg/scratch" and section["poll_interval"] == "3"
    assert as_redun_reads_it({"scratch": "s3://b/p"}, "/cfg")["scratch"] == "s3://b/p"
    assert as_redun_reads_it({"scratch": "/abs"}, "/cfg")["scratch"] == "/abs"
    assert as_redun_reads_it({"interactive": "true"}, "/cfg")["echo"] == "false"
