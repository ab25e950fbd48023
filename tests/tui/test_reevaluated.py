"""A cached job whose returned expression was evaluated again: the DAG line says so."""

from __future__ import annotations

from redun.scheduler.replay import REPLAY_REASON_PREFIX
from redun_tui.data.model import JobInfo
from redun_tui.format import job_label


def job(**fields: object) -> JobInfo:
    base: dict = {"id": "j1", "execution_id": "e1", "task": "flow.main", "state": "cached"}
    base.update(fields)
    return JobInfo(**base)


def test_a_replayed_job_is_marked_apart_from_a_plain_hit() -> None:
    replayed = job(cached=True, reason=REPLAY_REASON_PREFIX + "the code of task flow.step changed")
    hit = job(cached=True, reason="cached: same code and arguments as an earlier call")
    ran = job(state="done", reason="no earlier call with this code and these arguments")
    assert replayed.reevaluated and not hit.reevaluated and not ran.reevaluated
    assert "cache hit, re-evaluated" in job_label(replayed, now=0.0).plain
    assert "cache hit" in job_label(hit, now=0.0).plain
    assert "re-evaluated" not in job_label(hit, now=0.0).plain
    assert "cache hit" not in job_label(ran, now=0.0).plain


def test_the_reason_arrives_with_the_events() -> None:
    event = {
        "type": "job_state",
        "job_id": "j2",
        "execution_id": "e1",
        "task": "flow.main",
        "state": "pending",
        "cached": True,
        "reason": REPLAY_REASON_PREFIX + "files passed to flow.read changed",
    }
    info = JobInfo.from_event(event)
    assert info.cached and info.reevaluated and info.state == "pending"
