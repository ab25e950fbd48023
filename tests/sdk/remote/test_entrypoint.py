"""`redun oneshot`, run as a real process against a scratch, as a container runs it."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from redun.executors.remote.package import build_package, ensure_uploaded
from redun.executors.remote.protocol import (
    call_spec,
    decode_outcome,
    encode_calls,
    outcome_value,
    task_location,
)
from redun.executors.remote.scratch import Scratch
from redun.scheduler.job import Job
from redun.workflow.loader import find_task, import_workflow

FLOW = textwrap.dedent(
    """
    from redun import task, script

    redun_namespace = "oneshot_flow"

    @task
    def double(x: int) -> int:
        print(f"doubling {x}")
        return 2 * x

    @task
    def fail(x: int) -> int:
        raise RuntimeError(f"failing on {x}")

    @task(script=True)
    def shout(word: str) -> str:
        return f"echo {word} | tr a-z A-Z"
    """
)


class Setup:
    def __init__(self, tmp_path: Path) -> None:
        self.code = tmp_path / "code"
        self.code.mkdir()
        (self.code / "oneshot_flow.py").write_text(FLOW)
        self.module = import_workflow(str(self.code / "oneshot_flow.py"))
        self.scratch = Scratch(str(tmp_path / "scratch"))
        self.code_url, _ = ensure_uploaded(self.scratch, build_package(str(self.code)))
        self.run_dir = tmp_path / "run"
        self.run_dir.mkdir()

    def write(self, key: str, calls: list[tuple[str, tuple]], token: str = "tok1") -> list[str]:
        """Write a call list for (task name, args) pairs; returns their call ids."""
        call_ids, pickled = [], []
        for index, (name, args) in enumerate(calls):
            task = find_task(self.module, name, "flow")
            expr = task(*args)
            job = Job(task, expr, None)
            job.call_args, job.kwargs = expr.args, expr.kwargs
            job.eval_hash = f"{index:02d}" + key[-6:].rjust(38, "0")
            module, path = task_location(
                task.load_module, str(self.code / "oneshot_flow.py"), str(self.code)
            )
            spec = call_spec(job, module=module, path=path, token=token)
            pickled.append(pickle.dumps(spec))
            call_ids.append(job.eval_hash)
        self.scratch.write(self.scratch.calls_url(key), encode_calls(token, call_ids, pickled))
        return call_ids

    def oneshot(self, key: str, *extra: str, env: dict | None = None):
        command = [sys.executable, "-m", "redun", "oneshot", "--scratch", self.scratch.root]
        command += ["--code", self.code_url, *extra, key]
        clean = {k: v for k, v in os.environ.items() if "ARRAY_INDEX" not in k}
        clean.pop("BATCH_TASK_INDEX", None)
        return subprocess.run(
            command,
            cwd=self.run_dir,  # not the code directory: the package is what runs
            env={**clean, **(env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )

    def outcome(self, call_id: str, kind: str = "result") -> dict:
        url = getattr(self.scratch, f"{kind}_url")(call_id)
        data = self.scratch.read(url)
        assert data is not None, f"no {kind} for {call_id}"
        return decode_outcome(data, url)


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


def test_a_lone_call_runs_from_the_code_package(setup: Setup) -> None:
    key = "d" * 40
    [call_id] = setup.write(key, [("double", (21,))])
    done = setup.oneshot(key)
    assert done.returncode == 0, done.stderr
    assert "doubling 21" in done.stdout  # the job's output is shown as it runs
    outcome = setup.outcome(call_id)
    assert outcome_value(outcome, "j") == (True, 42)
    assert outcome["output"] == [("stdout", "doubling 21\n")]
    assert (setup.run_dir / "oneshot_flow.py").exists()  # unpacked where it runs
    status = json.loads(setup.scratch.read(setup.scratch.status_url(call_id)) or b"")
    assert status["state"] == "done" and status["token"] == "tok1"


@pytest.mark.parametrize(
    "how",
    [
        ({"AWS_BATCH_JOB_ARRAY_INDEX": "2"}, []),
        ({"BATCH_TASK_INDEX": "2"}, []),
        ({}, ["--array-index", "2"]),
        ({"MY_RANK": "2"}, ["--array-job", "--array-rank-env", "MY_RANK"]),
    ],
)
def test_an_array_element_finds_its_index(setup: Setup, how) -> None:
    env, flags = how
    key = "a-00000000000000aa"
    call_ids = setup.write(key, [("double", (i,)) for i in range(4)])
    done = setup.oneshot(key, *flags, env=env)
    assert done.returncode == 0, done.stderr
    assert outcome_value(setup.outcome(call_ids[2]), "j") == (True, 4)
    assert setup.scratch.read(setup.scratch.result_url(call_ids[1])) is None


def test_an_array_element_without_an_index_is_a_usage_error(setup: Setup) -> None:
    key = "a-00000000000000bb"
    setup.write(key, [("double", (i,)) for i in range(2)])
    done = setup.oneshot(key)
    assert done.returncode == 2
    assert "give --array-index or set one of AWS_BATCH_JOB_ARRAY_INDEX" in done.stderr
    out_of_range = setup.oneshot(key, "--array-index", "5")
    assert out_of_range.returncode == 2 and "out of range" in out_of_range.stderr


def test_a_failing_call_writes_its_error_and_exits_1(setup: Setup) -> None:
    key = "e" * 40
    [call_id] = setup.write(key, [("fail", (7,))])
    setup.scratch.write(setup.scratch.result_url(call_id), b"stale")
    done = setup.oneshot(key)
    assert done.returncode == 1
    assert "RuntimeError: failing on 7" in done.stderr
    ok, error = outcome_value(setup.outcome(call_id, "error"), "job x (task fail)")
    assert not ok and isinstance(error, RuntimeError)
    assert "oneshot_flow.py" in error.__redun_traceback__
    assert setup.scratch.read(setup.scratch.result_url(call_id)) is None  # no stale result


def test_script_tasks_run(setup: Setup) -> None:
    key = "f" * 40
    [call_id] = setup.write(key, [("shout", ("hello",))])
    done = setup.oneshot(key)
    assert done.returncode == 0, done.stderr
    assert outcome_value(setup.outcome(call_id), "j") == (True, b"HELLO\n")


def test_another_protocol_version_is_refused_clearly(setup: Setup) -> None:
    key = "b" * 40
    setup.write(key, [("double", (1,))])
    url = setup.scratch.calls_url(key)
    data = setup.scratch.read(url) or b""
    setup.scratch.write(url, data.replace(b"redun/calls 1 ", b"redun/calls 9 ", 1))
    done = setup.oneshot(key)
    assert done.returncode == 3
    assert "written with remote protocol version 9" in done.stderr
    assert "install the same redun version" in done.stderr


def test_a_finished_submission_is_not_run_twice(setup: Setup) -> None:
    key = "c" * 40
    [call_id] = setup.write(key, [("double", (5,))])
    assert setup.oneshot(key).returncode == 0
    again = setup.oneshot(key)
    assert again.returncode == 0 and "already in the scratch" in again.stderr
    assert "doubling" not in again.stdout
    assert "doubling 5" in setup.oneshot(key, "--no-cache").stdout
