"""script(): shell commands as tasks, with staging, caching by files, errors and logs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from redun import File, Scheduler, script, task
from redun.config import Config
from redun.errors import FileError
from redun.events import JobStateChanged, LogLine
from redun.expression import TaskExpression
from redun.file import Dir, RedunFileNotFoundError
from redun.scripting import ScriptError, get_wrapped_command, prepare_command

redun_namespace = "test_script"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


@task
def upper(src: File, dest: str) -> File:
    # Stages src in as in.txt, writes out.txt in a temp dir, stages it out to dest.
    return script(
        "tr a-z A-Z < in.txt > out.txt",
        inputs=[src.stage("in.txt")],
        outputs=File(dest).stage("out.txt"),
        tempdir=True,
    )


@task
def in_place(src: File) -> dict:
    return script(
        f"sort -r {src.path} > sorted.txt; echo sorted",
        inputs=[src],
        outputs={"sorted": File("sorted.txt"), "log": File("-"), "n": 1},
    )


@task
def failing() -> bytes:
    return script("echo starting; echo 'disk on fire' >&2; exit 3")


@task
def missing_input(path: str) -> File:
    return script("cat in.txt", inputs=[File(path).stage("in.txt")], tempdir=True)


@task
def missing_output() -> File:
    return script("echo nothing", outputs=File("never.txt"))


@task(script=True)
def greet(name: str) -> str:
    return f"echo hello {name}"


class Counter:
    def __init__(self, scheduler: Scheduler) -> None:
        self.ran: list[str] = []
        self.logs: list[LogLine] = []
        scheduler.events.subscribe(self)

    def __call__(self, event: object) -> None:
        if isinstance(event, JobStateChanged) and event.state == "done":
            self.ran.append(event.task)
        elif isinstance(event, LogLine):
            self.logs.append(event)

    def take(self) -> list[str]:
        ran, self.ran = self.ran, []
        return ran


def test_script_returns_an_expression_and_stdout_by_default():
    expr = script("echo hello")
    assert isinstance(expr, TaskExpression)
    assert expr.task_name == "redun.script"
    assert Scheduler().run(expr) == b"hello\n"


def test_argv_list_and_other_interpreters():
    scheduler = Scheduler()
    assert scheduler.run(script(["printf", "%s|", "a b", "c"])) == b"a b|c|"
    python = f"""
        #!{sys.executable}
        print(sum(range(10)))
    """
    assert scheduler.run(script(python)) == b"45\n"


def test_prepare_command_and_wrapped_command():
    assert prepare_command("\n   echo hi\n").splitlines() == [
        "#!/usr/bin/env bash",
        "set -exo pipefail",
        "echo hi",
    ]
    assert prepare_command("#!/bin/sh\necho hi") == "#!/bin/sh\necho hi"
    wrapped = get_wrapped_command("EOF\necho x")
    assert '<<"EOF1"' in wrapped


def test_staging_in_and_out_through_a_temp_dir(tmp_path):
    Path("data").mkdir()
    Path("data/in.txt").write_text("hello\n")
    scheduler = Scheduler()
    result = scheduler.run(upper(File("data/in.txt"), "results/out.txt"))
    assert isinstance(result, File) and result.path == "results/out.txt"
    assert Path("results/out.txt").read_text() == "HELLO\n"
    assert result.is_valid()
    # Nothing was left in the working directory.
    assert sorted(os.listdir(tmp_path)) == ["data", "results"]


def test_outputs_keep_their_shape(tmp_path):
    Path("in.txt").write_text("a\nc\nb\n")
    result = Scheduler().run(in_place(File("in.txt")))
    assert set(result) == {"sorted", "log", "n"}
    assert result["sorted"].read() == "c\nb\na\n"
    assert result["log"] == b"sorted\n"
    assert result["n"] == 1


def test_caching_follows_input_and_output_files():
    Path("in.txt").write_text("abc\n")
    scheduler = Scheduler()
    counter = Counter(scheduler)

    def run() -> list[str]:
        scheduler.run(upper(File("in.txt"), "out.txt"))
        return sorted(set(counter.take()))

    assert run() == ["redun.script", "test_script.upper"]
    assert run() == []  # nothing changed
    Path("in.txt").write_text("abcd\n")
    assert run() == ["redun.script", "test_script.upper"]  # input edited
    assert Path("out.txt").read_text() == "ABCD\n"
    os.remove("out.txt")
    assert "redun.script" in run()  # output deleted
    assert Path("out.txt").read_text() == "ABCD\n"
    Path("out.txt").write_text("tampered\n")
    assert "redun.script" in run()  # output changed
    assert Path("out.txt").read_text() == "ABCD\n"
    assert run() == []


def test_non_zero_exit_fails_with_stderr_in_the_message():
    with pytest.raises(ScriptError) as info:
        Scheduler().run(failing())
    error = info.value
    assert error.returncode == 3
    message = str(error)
    assert "status 3" in message
    assert "disk on fire" in message
    assert "called by test_script.failing" in message
    assert "disk on fire" in error.message


def test_missing_input_names_the_path_and_the_task():
    with pytest.raises(RedunFileNotFoundError) as info:
        Scheduler().run(missing_input("nowhere/in.txt"))
    message = str(info.value)
    assert "nowhere/in.txt" in message
    assert "test_script.missing_input" in message


def test_missing_output_is_an_error_naming_it():
    with pytest.raises(FileError, match=r"never\.txt.*did not create"):
        Scheduler().run(missing_output())


def test_script_tasks_return_stdout():
    assert Scheduler().run(greet("you")) == b"hello you\n"


def test_script_output_becomes_the_jobs_log_lines(capfd):
    scheduler = Scheduler()
    counter = Counter(scheduler)
    with pytest.raises(ScriptError):
        scheduler.run(failing())
    texts = [(e.stream, e.text) for e in counter.logs]
    assert ("stdout", "starting\n") in texts
    assert ("stderr", "disk on fire\n") in texts
    assert ("stderr", "+ echo starting\n") in texts  # bash's trace (set -x)
    # stderr is shown live too.
    assert "disk on fire" in capfd.readouterr().err


def test_dir_outputs_and_inputs(tmp_path):
    Path("src").mkdir()
    Path("src/a.txt").write_text("a")
    Path("src/b.txt").write_text("b")
    expr = script(
        "mkdir -p out && cat in/*.txt > out/all.txt",
        inputs=[Dir("src").stage("in")],
        outputs=Dir("dest").stage("out"),
        tempdir=True,
    )
    result = Scheduler().run(expr)
    assert isinstance(result, Dir) and result.path == "dest"
    assert Path("dest/all.txt").read_text() == "ab"


def test_task_options_pick_the_executor(tmp_path):
    Path("in.txt").write_text("x\n")
    config = Config({"executors.processes": {"type": "processes", "max_workers": "1"}})
    scheduler = Scheduler(config=config)
    counter = Counter(scheduler)
    try:
        expr = script(
            "echo $$ > pid.txt; echo from-worker >&2",
            inputs=[File("in.txt")],
            outputs=File("pid.txt"),
            executor="processes",
        )
        result = scheduler.run(expr)
    finally:
        scheduler.stop()
    assert result.read().strip().isdigit()
    assert ("stderr", "from-worker\n") in [(e.stream, e.text) for e in counter.logs]


@task(script=True)
def grumpy() -> str:
    return "echo 'no thanks' >&2; exit 2"


def test_script_task_failure_names_the_task_and_survives_pickling():
    import pickle

    with pytest.raises(ScriptError) as info:
        Scheduler().run(grumpy())
    assert "test_script.grumpy" in str(info.value) and "no thanks" in str(info.value)
    copy = pickle.loads(pickle.dumps(info.value))
    assert str(copy) == str(info.value) and copy.returncode == 2
