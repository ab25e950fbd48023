"""The docker executor in a scheduler, against the stand-in ``docker`` (real entrypoint processes).

Each test checks what the stand-in was asked (image, mounts, environment,
labels, resources) besides what the workflow got back, so it proves the
executor's real command lines.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from redun import Scheduler
from redun.config import Config
from redun.errors import ExecutorError, UsageError
from redun.events import JobStateChanged, LogLine
from redun.workflow.loader import find_task, import_workflow

from ..remote.helpers import FLOW, pid_in, wait_until
from .conftest import FakeDocker


def docker_section(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "type": "docker",
        "image": "example/flow:1",
        "scratch": str(tmp_path / "scratch"),
        "code_root": str(tmp_path / "code"),
        "max_concurrency": "2",
        "poll_interval": "0.2",
        **extra,
    }


class Run:
    """A scheduler with a ``remote`` docker executor, and what its events said."""

    def __init__(self, tmp_path: Path, **extra: str) -> None:
        self.tmp_path = tmp_path
        code = tmp_path / "code"
        code.mkdir(exist_ok=True)
        (code / "subflow.py").write_text(FLOW)
        self.module = import_workflow(str(code / "subflow.py"))
        config = Config({"executors.remote": docker_section(tmp_path, **extra)})
        self.scheduler = Scheduler(config=config)
        self.states: dict[str, list[str]] = {}
        self.logs: list[tuple[str, str, str]] = []
        self.scheduler.events.subscribe(self._record)

    def _record(self, event) -> None:
        if isinstance(event, JobStateChanged):
            self.states.setdefault(event.job_id, []).append(event.state)
        elif isinstance(event, LogLine):
            self.logs.append((event.job_id, event.stream, event.text))

    def run(self, name: str, *args, **options):
        task = find_task(self.module, name, "subflow")
        if options:
            task = task.options(**options)
        return self.scheduler.run(task(*args))

    @property
    def executor(self):
        return self.scheduler.executors["remote"]

    def output(self) -> str:
        return "".join(text for _, _, text in self.logs)


@pytest.fixture
def run(tmp_path: Path, fake_docker: FakeDocker) -> Iterator[Run]:
    started = Run(tmp_path)
    yield started
    started.scheduler.stop()


def alive(pid: int) -> bool:
    """True if ``pid`` is a live process (not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as infile:
            return infile.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def flag_value(argv: list[str], flag: str) -> list[str]:
    """Every value given to ``flag`` in ``argv`` (``--flag value``)."""
    return [argv[i + 1] for i, word in enumerate(argv[:-1]) if word == flag]


def test_a_single_job_runs_in_a_container_of_the_image(run: Run, fake_docker: FakeDocker) -> None:
    value, pid, cwd = run.run("square", 7)
    assert value == 49 and pid != os.getpid()
    [job_states] = run.states.values()
    assert job_states == ["pending", "queued", "running", "done"]
    assert "squaring 7\n" in run.output()  # read with docker logs, kept as the job's log

    [spec] = fake_docker.runs()
    scratch = str(run.tmp_path / "scratch")
    assert spec["Image"] == "example/flow:1" and spec["Detach"]
    assert cwd.startswith(str(fake_docker.state / "containers" / spec["Id"] / "rootfs"))
    command = spec["Config"]["Cmd"]
    assert command[:4] == ["redun", "oneshot", "--scratch", scratch]
    assert command[4] == "--code" and command[5].startswith(f"{scratch}/code/")
    call_id = command[6]
    assert spec["Name"].startswith(f"redun-{call_id}-")
    assert spec["HostConfig"]["Binds"] == [f"{scratch}:{scratch}"]  # the scratch, at its path
    labels = spec["Config"]["Labels"]
    assert labels["redun-executor"] == "remote" and labels["redun-task"] == "subflow.square"
    assert labels["redun-key"] == call_id and labels["redun-name"] == spec["Name"]
    assert labels["redun-run"] == run.scheduler.execution.id
    assert "PYTHONUNBUFFERED=1" in spec["Config"]["Env"]
    # redun's defaults: one CPU and 4 GB per container.
    assert spec["HostConfig"]["NanoCpus"] == 10**9
    assert spec["HostConfig"]["Memory"] == 4 << 30
    assert fake_docker.containers() == []  # removed once its output was read
    assert run.executor.submissions == 1


def test_a_fan_out_runs_one_container_per_call_at_most_max_concurrency_at_once(
    run: Run, fake_docker: FakeDocker
) -> None:
    assert run.run("fan", 6) == [i * i for i in range(6)]
    assert run.executor.submissions == 1  # one array submission
    specs = fake_docker.runs()
    assert len(specs) == 6
    [name] = {spec["Config"]["Labels"]["redun-name"] for spec in specs}
    assert sorted(spec["Name"] for spec in specs) == sorted(f"{name}-{i}" for i in range(6))
    for spec in specs:
        index = spec["Config"]["Labels"]["redun-index"]
        assert spec["Config"]["Labels"]["redun-size"] == "6"
        assert spec["Config"]["Cmd"][-2:] == ["--array-index", index]
    assert fake_docker.max_running() == 2  # max_concurrency = 2
    assert fake_docker.containers() == []
    assert run.run("fan", 8) == [i * i for i in range(8)]  # 0..5 cached
    assert len(fake_docker.runs()) == 8


def test_a_failing_task_brings_its_traceback_and_output(run: Run, fake_docker) -> None:
    with pytest.raises(ValueError, match="cannot take 3") as caught:
        run.run("fail", 3, retries=2)
    text = caught.value.__redun_traceback__
    assert "Task failed remotely: job" in text and "(task subflow.fail)" in text
    assert 'raise ValueError(f"cannot take {x}")' in text
    assert "failing 3 soon" in text
    assert "failing 3 soon\n" in run.output()
    assert run.executor.submissions == 1  # the task's own failure is not retried
    assert fake_docker.containers() == []


CHATTY = """
import sys
import time

from redun import task


@task(executor="remote", namespace="chatty")
def chatter(n: int) -> int:
    for i in range(n):
        print(f"line {i}", flush=True)
        if i % 10 == 0:
            print(f"err {i}", file=sys.stderr, flush=True)
        time.sleep(0.02)
    return n
"""


def test_output_streams_into_the_job_log_whole_and_once(tmp_path, fake_docker) -> None:
    run = Run(tmp_path, poll_interval="0.1")
    (tmp_path / "code" / "chatty.py").write_text(CHATTY)
    module = import_workflow(str(tmp_path / "code" / "chatty.py"))
    try:
        assert run.scheduler.run(find_task(module, "chatter", "chatty")(120)) == 120
    finally:
        run.scheduler.stop()
    stdout = "".join(text for _, stream, text in run.logs if stream == "stdout")
    stderr = "".join(text for _, stream, text in run.logs if stream == "stderr")
    assert stdout == "".join(f"line {i}\n" for i in range(120))
    assert stderr.count("err ") == 12 and "err 110\n" in stderr
    reads = [argv for argv in fake_docker.calls("logs")]
    assert len(reads) >= 3  # tailed while it ran, not only at the end


def test_task_options_become_docker_run_flags(tmp_path: Path, fake_docker: FakeDocker) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("hello")
    run = Run(
        tmp_path,
        env="GREETING=hi PASSED_ALONG",
        volumes='[["data", "/data", "ro"]]',
        run_args="--network none",
        user="1000:1000",
        workdir="/work",
    )
    os.environ["PASSED_ALONG"] = "from the scheduler"
    try:
        value, _, cwd = run.run(
            "square", 3, image="example/other:2", memory=0.5, vcpus=2, gpus=1, shared_memory=1
        )
    finally:
        del os.environ["PASSED_ALONG"]
        run.scheduler.stop()
    assert value == 9 and cwd.endswith("/rootfs/work")
    [spec] = fake_docker.runs()
    argv = spec["Args"]
    assert spec["Image"] == "example/other:2"
    assert "--cpus=2" in argv and "--memory=512m" in argv and "--shm-size=1024m" in argv
    assert flag_value(argv, "--gpus") == ["1"] and flag_value(argv, "--user") == ["1000:1000"]
    assert flag_value(argv, "--network") == ["none"]
    assert spec["HostConfig"]["Memory"] == 512 << 20
    # Relative host paths come from the config directory (here: the default .redun).
    config_dir = os.path.abspath(".redun")
    assert f"{config_dir}/data:/data:ro" in spec["HostConfig"]["Binds"]
    env = spec["Config"]["Env"]
    assert "GREETING=hi" in env and "PASSED_ALONG=from the scheduler" in env
    assert "PASSED_ALONG" in flag_value(argv, "-e")  # by name: the value is not on the line


def test_a_local_scratch_can_be_mounted_at_another_path(tmp_path, fake_docker) -> None:
    run = Run(tmp_path, scratch_mount="/scratch")
    try:
        assert run.run("fan", 3) == [0, 1, 4]
    finally:
        run.scheduler.stop()
    scratch = str(tmp_path / "scratch")
    for spec in fake_docker.runs():
        assert spec["HostConfig"]["Binds"] == [f"{scratch}:/scratch"]
        command = spec["Config"]["Cmd"]
        assert command[2:4] == ["--scratch", "/scratch"]
        assert command[5].startswith("/scratch/code/")
        assert scratch not in " ".join(command)


def test_without_a_code_package_the_image_provides_the_code(tmp_path, fake_docker) -> None:
    # The stand-in's containers see this machine's files: PYTHONPATH plays an image
    # that has the workflow's code installed.
    code = tmp_path / "code"
    run = Run(tmp_path, code_package="false", env=f"PYTHONPATH={code}")
    try:
        assert run.run("square", 6)[0] == 36
    finally:
        run.scheduler.stop()
    [spec] = fake_docker.runs()
    assert "--code" not in spec["Config"]["Cmd"]
    assert not (tmp_path / "scratch" / "code").exists()


def test_interactive_runs_the_container_in_the_foreground(tmp_path, fake_docker, capfd) -> None:
    run = Run(tmp_path, interactive="true")
    try:
        assert run.run("square", 5)[0] == 25
    finally:
        run.scheduler.stop()
    [spec] = fake_docker.runs()
    assert not spec["Detach"] and spec["Interactive"]
    assert "squaring 5" in capfd.readouterr().out  # on the terminal, not through docker logs


def test_cancelling_a_run_kills_and_removes_its_containers(tmp_path, fake_docker) -> None:
    run = Run(tmp_path)
    flag, marker = tmp_path / "flag", tmp_path / "marker"
    outcome: dict = {}

    def go() -> None:
        try:
            outcome["value"] = run.run("wait_for", str(flag), str(marker))
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    try:
        pid = pid_in(marker)
        assert alive(pid)
        [job] = [job for job in run.scheduler.jobs() if job.task.name == "wait_for"]
        run.scheduler.cancel_job(job, "stop it")
        thread.join(timeout=60)
        assert not thread.is_alive()
        assert not alive(pid)  # killed by docker rm -f (its flag was never set)
    finally:
        flag.write_text("go")
        thread.join(timeout=60)  # the run ends before its executors stop
        run.scheduler.stop()
    assert "stop it" in str(outcome.get("error")), outcome
    assert fake_docker.containers() == []
    [name] = [spec["Name"] for spec in fake_docker.runs()]
    assert ["rm", "-f", name] in fake_docker.calls("rm")


def test_an_image_that_cannot_be_pulled_fails_the_job_with_dockers_words(
    tmp_path, fake_docker
) -> None:
    run = Run(tmp_path, image="missing/nothing:1")
    try:
        with pytest.raises(ExecutorError) as caught:
            run.run("square", 2)
    finally:
        run.scheduler.stop()
    message = str(caught.value)
    assert "could not submit job" in message and "(task subflow.square)" in message
    assert "docker run of image 'missing/nothing:1' failed (exit status 125)" in message
    assert "pull access denied for missing/nothing" in message


def test_an_image_without_redun_says_to_install_it(tmp_path, fake_docker) -> None:
    run = Run(tmp_path, image="bare/python:3")
    try:
        with pytest.raises(ExecutorError) as caught:
            run.run("square", 2)
    finally:
        run.scheduler.stop()
    message = str(caught.value)
    assert "exit status 127" in message and "install redun" in message
    assert 'exec: "redun": executable file not found in $PATH' in message
    assert fake_docker.containers() == []  # the container docker created is removed


def test_no_docker_on_path_says_to_install_it_or_use_subprocess(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    run = Run(tmp_path)
    try:
        with pytest.raises(UsageError) as caught:
            run.run("square", 2)
    finally:
        run.scheduler.stop()
    message = str(caught.value)
    assert "[executors.remote] type = docker needs the 'docker' command" in message
    assert "install Docker" in message and "use type = subprocess" in message


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"image": ""}, r"\[executors.remote\] type = docker needs image = IMAGE"),
        (
            {"memory": "lots"},
            r"\[executors.remote\] memory = 'lots' is not a positive number \(GB\)",
        ),
        ({"volumes": "data:/data"}, r"\[executors.remote\] volumes = 'data:/data' is not JSON"),
        ({"max_concurrency": "0"}, r"max_concurrency = '0' is not a whole number of at least 1"),
        ({"scratch_mount": "scratch"}, r"scratch_mount = 'scratch' must be an absolute"),
        ({"gpus": "two"}, r"gpus = 'two' is not a number of GPUs or 'all'"),
    ],
)
def test_bad_configuration_is_refused_naming_the_key(tmp_path, extra, expected) -> None:
    config = Config({"executors.remote": docker_section(tmp_path, **extra)})
    with pytest.raises(UsageError, match=expected):
        Scheduler(config=config).get_executor("remote")


def test_a_bad_task_option_fails_its_job_naming_the_task(run: Run, fake_docker) -> None:
    with pytest.raises(
        ExecutorError, match=r"task subflow.square option memory = -1 is not a positive"
    ):
        run.run("square", 2, memory=-1)
    assert fake_docker.runs() == []


def test_cancelling_one_call_of_a_fan_out_removes_its_container_only(
    tmp_path: Path, fake_docker: FakeDocker
) -> None:
    run = Run(tmp_path, max_concurrency="3")
    flag, marker = tmp_path / "flag", tmp_path / "marker"
    outcome: dict = {}

    def go() -> None:
        try:
            outcome["value"] = run.run("waiters_spared", str(flag), str(marker), 3)
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    try:
        pids = [pid_in(Path(f"{marker}{i}")) for i in range(3)]
        [job] = [
            job
            for job in run.scheduler.jobs()
            if job.task.name == "wait_for" and job.call_args[1].endswith("1")
        ]
        run.scheduler.cancel_job(job, "not wanted")
        wait_until(lambda: not alive(pids[1]), what="the cancelled call's container to go")
        assert alive(pids[0]) and alive(pids[2])
        flag.write_text("go")
        thread.join(timeout=60)
        assert not thread.is_alive()
    finally:
        flag.write_text("go")
        thread.join(timeout=60)  # the run ends before its executors stop
        run.scheduler.stop()
    assert outcome.get("value") == ["released", None, "released"], outcome
    assert len(fake_docker.calls("rm")) >= 1
