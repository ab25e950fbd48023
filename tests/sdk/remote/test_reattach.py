"""Matching jobs a platform still knows to the calls they run (recorded listings)."""

from __future__ import annotations

import pytest

from redun.errors import UsageError
from redun.executors.remote.backend import FoundJob, job_name
from redun.executors.remote.protocol import encode_calls
from redun.executors.remote.reattach import index_calls
from redun.executors.remote.scratch import Scratch
from redun.executors.remote.states import Observation, Phase, Report
from redun.executors.subproc import SubprocessExecutor


def write(scratch: Scratch, key: str, token: str, call_ids: list[str]) -> None:
    scratch.write(scratch.calls_url(key), encode_calls(token, call_ids, [b""] * len(call_ids)))


def test_found_jobs_are_matched_to_their_calls(tmp_path) -> None:
    scratch = Scratch(str(tmp_path))
    write(scratch, "a-a1a1a1a1a1a1a1a1", "a1a1a1a1a1a1a1a1", ["c1", "c2", "c3"])
    write(scratch, "c" * 40, "b2b2b2b2b2b2b2b2", ["c" * 40])
    write(scratch, "d" * 40, "d4d4d4d4d4d4d4d4", ["d" * 40])  # rewritten by a later submission
    array = FoundJob(
        "h1",
        job_name("a-a1a1a1a1a1a1a1a1", "a1a1a1a1a1a1a1a1"),
        Report(
            Phase.RUNNING,
            elements={0: Observation(Phase.SUCCEEDED), 1: Observation(Phase.FAILED)},
        ),
    )
    lone = FoundJob("h2", job_name("c" * 40, "b2b2b2b2b2b2b2b2"), Report(Phase.QUEUED))
    stale = FoundJob("h3", job_name("d" * 40, "c3c3c3c3c3c3c3c3"), Report(Phase.RUNNING))
    foreign = FoundJob("h4", "someone-elses-job", Report(Phase.RUNNING))
    retry_of_c2 = FoundJob(
        "h5", job_name("a-e5e5e5e5e5e5e5e5", "e5e5e5e5e5e5e5e5"), Report(Phase.RUNNING)
    )
    write(scratch, "a-e5e5e5e5e5e5e5e5", "e5e5e5e5e5e5e5e5", ["c2", "c9"])
    found = index_calls([array, lone, stale, foreign, retry_of_c2], scratch)
    assert set(found) == {"c" * 40, "c1", "c2", "c3", "c9"}
    assert found["c1"].observed.phase is Phase.SUCCEEDED and found["c1"].index == 0
    assert found["c3"].observed.phase is Phase.QUEUED  # not started in a running array
    assert found["c2"].found.handle == "h5"  # in flight beats failed
    assert found["c" * 40].token == "b2b2b2b2b2b2b2b2" and not found["c" * 40].array


def test_a_remote_executor_without_scratch_says_what_to_set() -> None:
    with pytest.raises(UsageError, match=r"\[executors.gpu\] needs scratch = PATH_OR_URL"):
        SubprocessExecutor("gpu", None, {"type": "subprocess"})
