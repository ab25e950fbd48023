"""redun's Scheduler options that used to be accepted and ignored:
``job_status_interval`` (a periodic job status table) and ``migrate``."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from redun import Scheduler, task
from redun.backends.migrate import SchemaError
from redun.config import Config
from redun.errors import UsageError
from redun.scheduler.status import job_status_report
from tests.sdk.test_db_schema import _legacy_database

redun_namespace = "test_scheduler_options"

REPORTED = threading.Event()


class ReportSeen(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("| JOB STATUS"):
            REPORTED.set()


@task(cache=False)
def waits_for_a_report() -> bool:
    # Finishes only once the scheduler has logged a status report while it waited.
    return REPORTED.wait(30)


@task(cache=False)
def main() -> list:
    return [waits_for_a_report()]


@task
def seven() -> int:
    return 7


@pytest.mark.parametrize("how", ["argument", "config"])
def test_job_status_is_logged_every_interval(how: str, caplog: pytest.LogCaptureFixture) -> None:
    REPORTED.clear()
    if how == "argument":
        scheduler = Scheduler(job_status_interval=0.05)  # type: ignore[arg-type]
    else:
        scheduler = Scheduler(config=Config({"scheduler": {"job_status_interval": "0.05"}}))
    logger = logging.getLogger("redun")
    seen = ReportSeen()
    logger.addHandler(seen)
    try:
        with caplog.at_level(logging.INFO, logger="redun"):
            assert scheduler.run(main()) == [True]
    finally:
        logger.removeHandler(seen)
    reports = _reports([r.getMessage() for r in caplog.records])
    assert len(reports) >= 2, "one while it waited, one at the end"
    waiting = next(r for r in reports if any("waits_for_a_report" in line for line in r))
    row = next(line for line in waiting if "waits_for_a_report" in line)
    assert _columns(waiting[1], row)["PENDING"] == "0", row
    assert _columns(waiting[1], row)["RUNNING"] == "1", row
    final = reports[-1]
    assert set(_columns(final[1], final[-1]).items()) == {
        ("|", "|"), ("TASK", "test_scheduler_options.waits_for_a_report"), ("DONE", "1"),
        ("TOTAL", "1"), *((state, "0") for state in ("PENDING", "RUNNING", "FAILED", "CACHED")),
    }  # fmt: skip


def _reports(messages: list[str]) -> list[list[str]]:
    """The status tables among log messages: from "| JOB STATUS" to the empty line."""
    reports: list[list[str]] = []
    for message in messages:
        if message.startswith("| JOB STATUS"):
            reports.append([message])
        elif reports and reports[-1][-1] != "" and message.startswith("|"):
            reports[-1].append(message)
    return reports


def _columns(header: str, row: str) -> dict[str, str]:
    return dict(zip(header.split(), row.split()))


def test_job_status_is_off_by_default_and_validated() -> None:
    assert Scheduler().job_status_interval is None
    assert Scheduler(job_status_interval=0).job_status_interval is None  # redun: <= 0 is off
    with pytest.raises(UsageError, match=r"job_status_interval = 'often'"):
        Scheduler(config=Config({"scheduler": {"job_status_interval": "often"}}))


def test_report_table() -> None:
    # redun's table, to the character: a time stamp, the columns, ALL, then each task.
    assert job_status_report([], now=0)[1:] == [
        "| TASK    PENDING RUNNING  FAILED  CACHED    DONE   TOTAL",
        "| ",
        "| ALL           0       0       0       0       0       0",
        "",
    ]
    scheduler = Scheduler()
    assert scheduler.run(seven()) == 7
    stamp, header, gap, total, row, end = job_status_report(scheduler.jobs())
    assert stamp.startswith("| JOB STATUS 20") and gap == "| " and end == ""
    assert header.split() == [
        "|",
        "TASK",
        "PENDING",
        "RUNNING",
        "FAILED",
        "CACHED",
        "DONE",
        "TOTAL",
    ]
    assert total.split() == ["|", "ALL", "0", "0", "0", "0", "1", "1"]
    assert row.split() == ["|", "test_scheduler_options.seven", "0", "0", "0", "0", "1", "1"]


def test_report_table_shows_queued_and_cancelled_only_when_some_job_is() -> None:
    from redun.scheduler.job import Job, JobState

    jobs = [Job(seven, None) for _ in range(3)]
    jobs[0].state, jobs[1].state = JobState.QUEUED, JobState.CANCELLED
    header, *_ = job_status_report(jobs)[1:]
    assert header.split()[1:] == [
        "TASK", "PENDING", "RUNNING", "FAILED", "CACHED", "DONE", "QUEUED", "CANCELLED", "TOTAL",
    ]  # fmt: skip
    assert job_status_report(jobs)[3].split()[1:] == ["ALL", "1", "0", "0", "0", "0", "1", "1", "3"]


def test_migrate_false_refuses_an_old_schema(tmp_path: Path) -> None:
    path = tmp_path / "redun.db"
    _legacy_database(path)
    config = Config({"backend": {"db_uri": f"sqlite:///{path}"}})  # automigrate: on
    with pytest.raises(SchemaError, match="redun db upgrade"):
        Scheduler(config=config, migrate=False).run(seven())
    # migrate=True (or the default) upgrades it.
    assert Scheduler(config=config, migrate=True).run(seven()) == 7


def test_scheduler_log_and_the_status_report(caplog: pytest.LogCaptureFixture) -> None:
    # redun's Scheduler.log: messages joined by spaces, a record per line unless
    # multiline, indented; the status table through it in one record.
    scheduler = Scheduler()
    assert scheduler.run(seven()) == 7
    with caplog.at_level(logging.DEBUG, logger=scheduler.logger.name):
        caplog.clear()
        scheduler.log("a", 1, "\nb", indent=2)
        scheduler.log("x\ny", multiline=True, level=logging.WARNING)
        scheduler.log_job_statuses()
    records = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert records[:3] == [
        (logging.INFO, "  a 1 "),
        (logging.INFO, "  b"),
        (logging.WARNING, "x\ny"),
    ]
    report = scheduler.get_job_status_report()
    assert report[1:] == job_status_report(scheduler.jobs())[1:]
    # A record per line, between empty ones, as redun logs it.
    assert [message for _, message in records[3:]] == ["", *report, ""]
