"""The call and outcome protocol: framing, running a call, and every way it can go wrong."""

from __future__ import annotations

import pickle
import sys
import threading
import types

import pytest

from redun import Scheduler, task
from redun.executors.remote.errors import ProtocolError, RemoteTaskError
from redun.executors.remote.protocol import (
    PROTOCOL_VERSION,
    call_spec,
    decode_calls,
    decode_outcome,
    encode_calls,
    encode_outcome,
    frame,
    outcome_value,
    run_call,
    task_location,
    unframe,
)
from redun.scheduler.job import Job


@task(namespace="remote_protocol")
def add(a: int, b: int = 1) -> int:
    print(f"adding {a} and {b}")
    return a + b


@task(namespace="remote_protocol")
def explode(message: str) -> int:
    print("about to explode")
    raise KeyError(message)


class Unpicklable:
    def __reduce__(self):
        raise TypeError("this object refuses to be pickled")


@task(namespace="remote_protocol")
def returns_lock() -> object:
    return threading.Lock()


class PickyError(Exception):
    """Pickles, but cannot be rebuilt (its __init__ wants two arguments)."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a}/{b}")


@task(namespace="remote_protocol")
def raises_picky() -> None:
    raise PickyError("x", "y")


def make_job(expr) -> Job:
    job = Job(expr.task, expr, None)
    job.call_args, job.kwargs = expr.args, expr.kwargs
    job.eval_hash = "c" * 40
    return job


def spec_bytes(expr, token: str = "tok") -> bytes:
    module, path = task_location(__name__, __file__, "/nowhere")
    return pickle.dumps(call_spec(make_job(expr), module=module, path=path, token=token))


def test_frames_round_trip_and_say_what_is_wrong() -> None:
    data = frame("result", b"payload")
    assert data.startswith(f"redun/result {PROTOCOL_VERSION} 7\n".encode())
    assert unframe(data, ("result",), "f") == ("result", b"payload")
    with pytest.raises(ProtocolError, match=r"f is truncated \(3 of 7 bytes\)"):
        unframe(data[:-4], ("result",), "f")
    newer = data.replace(f" {PROTOCOL_VERSION} ".encode(), b" 99 ", 1)
    with pytest.raises(ProtocolError, match="protocol version 99.*speaks version"):
        unframe(newer, ("result",), "f")
    with pytest.raises(ProtocolError, match="not a redun file"):
        unframe(b"\x80\x04garbage", ("result",), "f")
    with pytest.raises(ProtocolError, match="holds a 'result', expected calls"):
        unframe(data, ("calls",), "f")


def test_a_call_runs_here_with_its_output_captured() -> None:
    outcome = run_call(spec_bytes(add(2, b=5)), call_id="c" * 40)
    assert outcome["ok"] and pickle.loads(outcome["value"]) == 7
    assert outcome["output"] == [("stdout", "adding 2 and 5\n")]
    assert outcome["token"] == "tok" and outcome["call_id"] == "c" * 40
    decoded = decode_outcome(encode_outcome(outcome), "result file")
    assert outcome_value(decoded, "job x") == (True, 7)


def test_a_failing_call_brings_back_its_error_traceback_and_output() -> None:
    outcome = run_call(spec_bytes(explode("nope")))
    assert not outcome["ok"] and outcome["error_type"] == "builtins.KeyError"
    assert "raise KeyError(message)" in outcome["traceback"]
    assert "redun/executors" not in outcome["traceback"]  # the engine's frames are left out
    ok, error = outcome_value(decode_outcome(encode_outcome(outcome), "e"), "job 1234 (task t)")
    assert not ok and isinstance(error, KeyError) and error.args == ("nope",)
    assert error.__redun_no_retry__ is True  # the task's own failure: never retried
    text = error.__redun_traceback__
    assert text.startswith("Task failed remotely: job 1234 (task t) on ")
    assert "raise KeyError(message)" in text and "about to explode" in text


def test_a_result_that_cannot_be_pickled_is_a_clear_error() -> None:
    outcome = run_call(spec_bytes(returns_lock()))
    assert not outcome["ok"]
    ok, error = outcome_value(outcome, "job 1 (task t)")
    assert isinstance(error, RemoteTaskError)
    assert "the result of job" in str(error) and "cannot be pickled" in str(error)


def test_an_error_that_cannot_be_rebuilt_comes_back_as_remote_task_error() -> None:
    outcome = run_call(spec_bytes(raises_picky()))
    ok, error = outcome_value(outcome, "job 1 (task t)")
    assert isinstance(error, RemoteTaskError)
    assert error.error_type.endswith("PickyError") and "x/y" in str(error)
    assert "raise PickyError" in error.__redun_traceback__


def test_arguments_that_cannot_be_pickled_name_the_job() -> None:
    job = make_job(add(Unpicklable()))
    with pytest.raises(ProtocolError, match=r"arguments of job \w+ \(task remote_protocol.add\)"):
        call_spec(job, module=__name__, path="", token="t")


def test_arguments_that_cannot_be_unpickled_there_fail_only_their_call() -> None:
    # A class from a module the job's side cannot import.
    ghost = types.ModuleType("ghost_module_for_remote_test")
    exec("class Ghost:\n    pass\n", ghost.__dict__)
    sys.modules["ghost_module_for_remote_test"] = ghost
    try:
        bad = spec_bytes(add(ghost.Ghost()))
    finally:
        del sys.modules["ghost_module_for_remote_test"]
    outcome = run_call(bad)
    assert not outcome["ok"]
    assert "cannot unpickle the arguments of job" in outcome["error_message"]
    assert "ghost_module_for_remote_test" in outcome["error_message"]
    assert run_call(spec_bytes(add(1)))["ok"]  # its neighbours are fine


def test_call_lists_round_trip_and_refuse_damage() -> None:
    data = encode_calls("tok", ["a", "b"], [b"1", b"2"])
    calls = decode_calls(data, "the call list")
    assert calls == {"token": "tok", "call_ids": ["a", "b"], "calls": [b"1", b"2"]}
    with pytest.raises(ProtocolError, match="the call list is truncated"):
        decode_calls(data[:-10], "the call list")


def test_task_location_is_relative_to_the_code_root(tmp_path) -> None:
    (tmp_path / "pkg").mkdir()
    flow = tmp_path / "pkg" / "flow.py"
    assert task_location("flow", str(flow), str(tmp_path)) == ("flow", "pkg/flow.py")
    assert task_location("__main__", str(flow), str(tmp_path)) == ("flow", "pkg/flow.py")
    assert task_location("numpy.x", "/usr/lib/numpy/x.py", str(tmp_path)) == ("numpy.x", "")


def test_in_process_tasks_still_run() -> None:
    assert Scheduler().run(add(1, 2)) == 3
