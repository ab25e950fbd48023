"""Spark's progress of one job group, as one line a job's log can show.

:func:`read_group` asks Spark's status tracker (I/O); :func:`summarize` turns
what it answered into a :class:`GroupProgress` (pure, tested on recorded
answers). A job group is one batch of calls (the ``spark`` executor) or one
driver task (``spark_driver``); it may run several Spark jobs, each several
stages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StageState:
    """One stage as the status tracker reports it."""

    stage_id: int
    name: str
    num_tasks: int
    active: int
    completed: int
    failed: int


@dataclass(frozen=True)
class JobState:
    """One Spark job of a group: its status (RUNNING, SUCCEEDED, FAILED, UNKNOWN) and stages."""

    job_id: int
    status: str
    stage_ids: tuple[int, ...]


@dataclass(frozen=True)
class GroupProgress:
    """What a group's Spark jobs are doing.

    ``started``: some task of the group ran or runs (the calls are running,
    not waiting for executors). ``text``: one line for the job's log; empty
    while nothing is known.
    """

    started: bool
    text: str
    tasks_done: int = 0
    tasks_total: int = 0


NOTHING = GroupProgress(False, "")


def summarize(jobs: list[JobState], stages: dict[int, StageState]) -> GroupProgress:
    """The progress of a group from its jobs and their stages (unknown stages skipped)."""
    if not jobs:
        return NOTHING
    done = total = active = failed = known = 0
    running: list[StageState] = []
    for job in jobs:
        for stage_id in job.stage_ids:
            stage = stages.get(stage_id)
            if stage is None:
                continue
            known += 1
            total += stage.num_tasks
            done += stage.completed
            active += stage.active
            failed += stage.failed
            if stage.active and stage not in running:
                running.append(stage)
    finished = sum(1 for job in jobs if job.status == "SUCCEEDED")
    jobs_text = (
        f"{finished}/{len(jobs)} Spark jobs" if len(jobs) > 1 else f"Spark job {jobs[0].job_id}"
    )
    if not known:  # submitted; the tracker knows none of its stages yet (no task count)
        return GroupProgress(finished > 0, f"{jobs_text}: starting")
    parts = [f"{done}/{total} tasks done"]
    if active:
        parts.append(f"{active} running")
    if failed:
        parts.append(f"{failed} failed")
    where = ", ".join(f"stage {stage.stage_id} ({stage.name})" for stage in running[:2])
    text = f"{jobs_text}: {', '.join(parts)}" + (f"; {where}" if where else "")
    return GroupProgress(done > 0 or active > 0 or finished > 0, text, done, total)


def read_group(spark_context: Any, group: str) -> GroupProgress:
    """Ask the status tracker of ``spark_context`` about ``group`` (driver side)."""
    tracker = spark_context.statusTracker()
    jobs: list[JobState] = []
    stages: dict[int, StageState] = {}
    for job_id in tracker.getJobIdsForGroup(group):
        info = tracker.getJobInfo(job_id)
        if info is None:
            continue
        jobs.append(JobState(job_id, str(info.status), tuple(info.stageIds)))
        for stage_id in info.stageIds:
            stage = tracker.getStageInfo(stage_id)
            if stage is not None:
                stages[stage_id] = StageState(
                    stage_id,
                    str(stage.name).split(" at ", 1)[0],
                    stage.numTasks,
                    stage.numActiveTasks,
                    stage.numCompletedTasks,
                    stage.numFailedTasks,
                )
    jobs.sort(key=lambda job: job.job_id)
    return summarize(jobs, stages)
