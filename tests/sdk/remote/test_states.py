"""The monitor's decisions (pure): platform reports in, instructions and verdicts out."""

from __future__ import annotations

from redun.errors import ExecutorError
from redun.executors.remote.errors import InfrastructureError, ProtocolError
from redun.executors.remote.states import (
    Act,
    Observation,
    Phase,
    Report,
    Seen,
    Told,
    Verdict,
    decide,
    settle,
)

LOST_AFTER = 30.0


def acts(instructions: list) -> list[tuple[str, int]]:
    return [(i.act.value, i.index) for i in instructions]


def test_a_lone_job_goes_queued_running_then_is_collected() -> None:
    seen = {0: Seen()}
    steps = [
        Report(Phase.QUEUED, "waiting for capacity"),
        Report(Phase.QUEUED, "waiting for capacity"),
        Report(Phase.RUNNING),
        Report(Phase.RUNNING),
        Report(Phase.SUCCEEDED),
    ]
    got = [
        acts(decide(seen, report, array=False, now=float(t), lost_after=LOST_AFTER))
        for t, report in enumerate(steps)
    ]
    assert got == [
        [("note", 0), ("queued", 0)],  # the platform's words, once
        [],
        [("running", 0)],
        [],
        [("collect", 0)],
    ]
    assert seen[0].told is Told.RUNNING


def test_an_element_finishing_between_polls_is_collected_without_running() -> None:
    seen = {0: Seen(told=Told.QUEUED)}
    out = decide(seen, Report(Phase.SUCCEEDED), array=False, now=0.0, lost_after=LOST_AFTER)
    assert acts(out) == [("collect", 0)]
    assert out[0].phase is Phase.SUCCEEDED


def test_array_elements_follow_their_own_reports_and_the_whole_job() -> None:
    # A recorded array of 4: the parent runs; 0 succeeded, 1 failed, 2 runs, 3 waits.
    report = Report(
        Phase.RUNNING,
        elements={
            0: Observation(Phase.SUCCEEDED),
            1: Observation(Phase.FAILED, "exit status 1"),
            2: Observation(Phase.RUNNING),
        },
    )
    seen = {i: Seen() for i in range(4)}
    out = decide(seen, report, array=True, now=0.0, lost_after=LOST_AFTER)
    assert sorted(acts(out)) == [("collect", 0), ("collect", 1), ("queued", 3), ("running", 2)]
    failed = next(i for i in out if i.index == 1)
    assert failed.phase is Phase.FAILED and failed.text == "exit status 1"


def test_only_limits_the_elements_looked_at() -> None:
    report = Report(Phase.RUNNING, elements={2: Observation(Phase.SUCCEEDED)})
    seen = {i: Seen(told=Told.QUEUED) for i in range(1000)}
    out = decide(seen, report, array=True, now=0.0, lost_after=LOST_AFTER, only=[2, 5000])
    assert acts(out) == [("collect", 2)]


def test_a_job_unknown_to_the_platform_is_lost_only_after_a_while() -> None:
    seen = {0: Seen(told=Told.QUEUED)}
    assert decide(seen, None, array=False, now=100.0, lost_after=LOST_AFTER) == []
    assert decide(seen, None, array=False, now=120.0, lost_after=LOST_AFTER) == []
    out = decide(seen, None, array=False, now=131.0, lost_after=LOST_AFTER)
    assert acts(out) == [("collect", 0)] and out[0].phase is Phase.LOST
    # Seen again in time: the clock restarts.
    seen = {0: Seen(told=Told.QUEUED)}
    decide(seen, None, array=False, now=100.0, lost_after=LOST_AFTER)
    decide(seen, Report(Phase.RUNNING), array=False, now=110.0, lost_after=LOST_AFTER)
    assert seen[0].unknown_since is None


def test_a_lost_array_loses_its_unfinished_elements() -> None:
    report = Report(
        Phase.LOST,
        "host terminated",
        elements={0: Observation(Phase.SUCCEEDED), 1: Observation(Phase.LOST, "host terminated")},
    )
    seen = {0: Seen(), 1: Seen(), 2: Seen()}
    out = {i.index: i for i in decide(seen, report, array=True, now=0, lost_after=LOST_AFTER)}
    assert out[0].phase is Phase.SUCCEEDED
    assert out[1].phase is Phase.LOST and out[2].phase is Phase.LOST
    assert all(i.act is Act.COLLECT for i in out.values())


OUTCOME = {"ok": True, "token": "t1", "value": b""}


def verdict(phase: Phase, outcome: dict | None, problem: ProtocolError | None = None):
    return settle(
        phase, "why", outcome, problem, token="t1", label="job 1234 (task t)", where="s://c"
    )


def test_an_outcome_of_this_submission_wins_whatever_the_platform_says() -> None:
    for phase in (Phase.SUCCEEDED, Phase.FAILED, Phase.LOST):
        assert verdict(phase, OUTCOME).verdict is Verdict.OUTCOME
    error_outcome = {**OUTCOME, "ok": False}
    assert verdict(Phase.FAILED, error_outcome).outcome is error_outcome


def test_no_outcome_means_protocol_failure_job_failure_or_retry() -> None:
    missing = verdict(Phase.SUCCEEDED, None)
    assert missing.verdict is Verdict.FAIL and isinstance(missing.error, ProtocolError)
    assert "wrote no result" in str(missing.error) and "job 1234" in str(missing.error)
    crashed = verdict(Phase.FAILED, None)
    assert crashed.verdict is Verdict.FAIL and type(crashed.error) is ExecutorError
    assert "without writing a result" in str(crashed.error)
    lost = verdict(Phase.LOST, None)
    assert lost.verdict is Verdict.RETRY and isinstance(lost.error, InfrastructureError)
    assert "lost by its platform: why" in str(lost.error)


def test_a_stale_outcome_of_another_submission_does_not_count() -> None:
    stale = {**OUTCOME, "token": "old"}
    assert verdict(Phase.LOST, stale).verdict is Verdict.RETRY
    assert verdict(Phase.SUCCEEDED, stale).verdict is Verdict.FAIL


def test_an_unreadable_outcome_fails_with_its_problem() -> None:
    problem = ProtocolError("truncated")
    settled = verdict(Phase.SUCCEEDED, None, problem)
    assert settled.verdict is Verdict.FAIL and settled.error is problem
