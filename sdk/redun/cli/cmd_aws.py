"""``redun aws list-jobs|kill-jobs|logs``: the AWS Batch jobs of this config's executors.

::

    redun aws list-jobs [-s STATUS,...]     redun's jobs in the executors' queues (default: all
                                            statuses), newest first, one JSON object a line
    redun aws kill-jobs [-s STATUS,...]     terminate them (default: the active ones)
    redun aws logs ID ...                   CloudWatch lines of Batch jobs: ID is a Batch job id,
                                            or a redun job or execution id (a prefix will do)
    redun aws logs -a [-s STATUS,...]       ... of all of them
    redun aws logs -j JOB -b BATCH_JOB -l LOG_STREAM   (redun's options)

The executors are the ``[executors.NAME] type = aws_batch`` sections of the
config directory's redun.ini; see :mod:`redun.executors.aws_batch.admin`
for how their jobs are found and told from others in the same queue.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from redun.cli.main import EXIT_FAILED, EXIT_OK
from redun.errors import BackendError, UsageError

if TYPE_CHECKING:
    from redun.executors.aws_batch.admin import BatchJob, QueueReader

_BATCH_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(:\d+)?$")
_ALL = "SUBMITTED,PENDING,RUNNABLE,STARTING,RUNNING,SUCCEEDED,FAILED"


def register(commands: Any) -> None:
    aws = commands.add_parser(
        "aws",
        help="list and kill the AWS Batch jobs of this config's executors, and read their logs",
        description="Commands for the config's aws_batch executors ([executors.NAME] "
        "type = aws_batch in redun.ini).",
    )
    actions = aws.add_subparsers(dest="aws_command", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "list-jobs",
        help="list AWS Batch jobs",
        description="List the Batch jobs redun submitted to the executors' queues, newest "
        "first: one JSON object a line (list_jobs' fields, plus the redun executor, "
        "execution, task and job ids when known).",
    )
    _status_option(listing, "all of them")
    listing.add_argument(
        "--format",
        choices=("json", "text"),
        default="json",
        help="json: one object a line, as redun prints (default); text: columns",
    )
    listing.set_defaults(handler=list_jobs_command)

    kill = actions.add_parser(
        "kill-jobs",
        help="kill AWS Batch jobs",
        description="Terminate the Batch jobs redun submitted to the executors' queues "
        "(no confirmation is asked).",
    )
    _status_option(kill, "the active ones, SUBMITTED to RUNNING")
    kill.set_defaults(handler=kill_jobs_command)

    logs = actions.add_parser(
        "logs",
        help="fetch AWS Batch job logs",
        description="Print the CloudWatch log lines of Batch jobs, newest job first.",
    )
    logs.add_argument(
        "ids",
        nargs="*",
        metavar="ID",
        help="a Batch job id, or a redun job or execution id (or a unique prefix)",
    )
    logs.add_argument("-j", "--job", action="append", default=[], help="show logs for redun Job id")
    logs.add_argument(
        "-b", "--batch-job", action="append", default=[], help="show logs for AWS Batch Job id"
    )
    logs.add_argument(
        "-l", "--log-stream", action="append", default=[], help="show logs for AWS Log Stream"
    )
    logs.add_argument("-a", "--all", action="store_true", help="show logs for all jobs")
    _status_option(logs, "all of them; with -a")
    logs.set_defaults(handler=logs_command)


def _status_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "-s",
        "--status",
        help=f"filter on comma separated statuses ({_ALL}); default: {default}",
    )


# -- the commands ----------------------------------------------------------------------


def list_jobs_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.executors.aws_batch.admin import STATUSES, our_jobs, parse_statuses

    statuses = parse_statuses(args.status, STATUSES)
    readers = _readers(args)
    found = our_jobs(readers, statuses)
    _attach_redun_jobs(args, readers, [job for jobs in found.values() for job in jobs])
    for reader in readers:
        print(f"Executor {reader.name} jobs:")
        for job in found[reader.name]:
            if args.format == "json":
                print("  " + json.dumps(job.summary(), sort_keys=True))
            else:
                print("  " + _text_line(job))
        print()
    return EXIT_OK


def kill_jobs_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.executors.aws_batch.admin import ACTIVE_STATES, our_jobs, parse_statuses

    statuses = parse_statuses(args.status, ACTIVE_STATES)
    readers = _readers(args)
    found = our_jobs(readers, statuses)
    by_name = {reader.name: reader for reader in readers}
    killed = 0
    for name, jobs in found.items():
        for job in jobs:
            print(f"Killing job {job.job_id}...")
            if by_name[name].terminate(job.job_id):
                killed += 1
    print(f"Killed {killed} AWS Batch job(s) ({','.join(statuses)}).")
    return EXIT_OK


def logs_command(args: argparse.Namespace, task_argv: list[str]) -> int:
    from redun.executors.aws_batch.admin import parse_statuses

    batch_ids = list(args.batch_job)
    redun_ids = list(args.job)
    for target in args.ids:
        (batch_ids if _BATCH_ID.match(target.lower()) else redun_ids).append(target)
    if not (batch_ids or redun_ids or args.log_stream or args.all):
        raise UsageError(
            "say whose logs: a Batch job id, a redun job or execution id, -l LOG_STREAM, "
            "or -a for all jobs"
        )
    readers = _readers(args)
    # (Batch job, redun job id, reader, stream): the streams to print.
    shown: list[tuple[BatchJob | None, str, QueueReader, str]] = []
    missing = 0
    if args.all:
        from redun.executors.aws_batch.admin import STATUSES, our_jobs

        found = our_jobs(readers, parse_statuses(args.status, STATUSES))
        every = [
            one for jobs in found.values() for job in jobs for one in _with_children(readers, job)
        ]
        _attach_redun_jobs(args, readers, every)
        shown.extend((one, _first(one.redun_jobs), _reader(readers, one), "") for one in every)
    if batch_ids:
        described = _describe_anywhere(readers, batch_ids)
        for batch_id in batch_ids:
            job = described.get(batch_id)
            if job is None:
                print(
                    f"redun: no AWS Batch job {batch_id} in the executors' regions", file=sys.stderr
                )
                missing += 1
                continue
            ones = _with_children(readers, job)
            _attach_redun_jobs(args, readers, ones)
            shown.extend((one, _first(one.redun_jobs), _reader(readers, one), "") for one in ones)
    if redun_ids:
        pairs, lost = _batch_jobs_of(args, readers, redun_ids)
        missing += lost
        shown.extend((job, redun_id, _reader(readers, job), "") for job, redun_id in pairs)
    shown.sort(key=lambda item: item[0].created if item[0] is not None else 0, reverse=True)
    shown.extend((None, "", readers[0], stream) for stream in args.log_stream)
    for job, redun_id, reader, stream in shown:
        _print_log(job, redun_id, reader, stream)
    return EXIT_FAILED if missing else EXIT_OK


# -- the executors and their jobs -------------------------------------------------------


def _readers(args: argparse.Namespace) -> list[QueueReader]:
    """A connected reader per aws_batch executor of the config, or a UsageError."""
    from redun.config import CONFIG_FILENAME, find_config_dir, load_config
    from redun.executors.aws_batch.admin import readers

    config_dir = find_config_dir(args.config)
    config = load_config(config_dir, create=False)
    sections: Mapping[str, Any] = config.get("executors") or {}
    found = readers(sections)
    if not found:
        path = os.path.join(config_dir, CONFIG_FILENAME)
        raise UsageError(
            f"no AWS Batch executor in {path}: add a section [executors.NAME] with "
            "type = aws_batch, queue, image and s3_scratch (or point at the config with -c DIR)"
        )
    return found


def _reader(readers: list[QueueReader], job: BatchJob) -> QueueReader:
    return next((reader for reader in readers if reader.name == job.executor), readers[0])


def _with_children(readers: list[QueueReader], job: BatchJob) -> list[BatchJob]:
    """The job itself, or an array's children (the parent has no log of its own)."""
    from redun.executors.aws_batch.admin import BatchJob

    if not job.is_array:
        return [job]
    children = _reader(readers, job).children(job.detail)
    return [BatchJob(job.executor, child, job.key) for child in children]


def _describe_anywhere(readers: list[QueueReader], job_ids: list[str]) -> dict[str, BatchJob]:
    """The given Batch jobs, described in whichever executor's region knows them."""
    from redun.executors.aws_batch.admin import BatchJob
    from redun.executors.aws_batch.request import EXECUTOR_TAG
    from redun.executors.remote.backend import parse_name

    found: dict[str, BatchJob] = {}
    regions: dict[str, QueueReader] = {}
    for reader in readers:
        regions.setdefault(reader.region, reader)
    for reader in regions.values():
        wanted = [job_id for job_id in job_ids if job_id not in found]
        if not wanted:
            break
        for job_id, detail in reader.describe(wanted).items():
            tagged = str((detail.get("tags") or {}).get(EXECUTOR_TAG, ""))
            executor = tagged if any(r.name == tagged for r in readers) else reader.name
            parsed = parse_name(str(detail.get("jobName", "")))
            found[job_id] = BatchJob(executor, detail, parsed[0] if parsed else "")
    return found


def _open_store(args: argparse.Namespace) -> Any:
    """The redun database, or None if there is none yet (the mapping to redun jobs is then unknown)."""
    from redun.cli.cmd_db import open_store

    try:
        return open_store(args)
    except BackendError:
        return None


def _attach_redun_jobs(
    args: argparse.Namespace, readers: list[QueueReader], jobs: list[BatchJob]
) -> None:
    """Fill each job's ``redun_jobs`` from the store: its calls' jobs in its execution."""
    from redun.executors.aws_batch.monitor import child_index

    if not jobs:
        return
    store = _open_store(args)
    if store is None:
        return
    try:
        hashes: dict[int, list[str]] = {}
        for number, job in enumerate(jobs):
            if job.is_array:
                hashes[number] = _reader(readers, job).call_ids(job.key)
            elif job.key:
                index = child_index(job.detail)
                if index is not None:  # an array's child: its element of the call list
                    calls = _reader(readers, job).call_ids(job.key)
                    hashes[number] = calls[index : index + 1]
                else:
                    hashes[number] = [job.key]
        wanted = [value for values in hashes.values() for value in values]
        rows = store.query_in(
            "SELECT id, eval_hash, execution_id FROM redun_job WHERE eval_hash IN :hashes",
            "hashes",
            wanted,
        )
        by_hash: dict[str, list[tuple[str, str]]] = {}
        for job_id, eval_hash, execution_id in sorted(rows):
            by_hash.setdefault(eval_hash, []).append((job_id, execution_id))
        for number, values in hashes.items():
            job = jobs[number]
            job.redun_jobs = [
                job_id
                for value in values
                for job_id, execution_id in by_hash.get(value, ())
                if not job.run or execution_id == job.run
            ]
    finally:
        store.close()


def _batch_jobs_of(
    args: argparse.Namespace, readers: list[QueueReader], targets: list[str]
) -> tuple[list[tuple[BatchJob, str]], int]:
    """The Batch jobs (lone or array children) that ran the redun jobs or executions given."""
    from redun.backends.queries import StoreReader
    from redun.executors.aws_batch.admin import STATUSES, our_jobs

    store = _open_store(args)
    if store is None:
        raise UsageError(
            f"no redun database to look up {', '.join(targets)} in; give Batch job ids "
            "(-b), or point at the config with -c DIR"
        )
    missing = 0
    try:
        reader = StoreReader(store)
        records: list[Any] = []
        for target in targets:
            matches = [(kind, full) for kind, full in reader.find_id(target) if kind != "call"]
            kinds = {kind for kind, _ in matches if kind in ("job", "execution")}
            ids = [full for kind, full in matches if kind in kinds]
            if len(ids) != 1:
                what = "matches no" if not ids else "is ambiguous among"
                print(f"redun: {target!r} {what} redun job or execution", file=sys.stderr)
                missing += 1
                continue
            if "execution" in kinds:
                names = {r.name for r in readers}
                records.extend(
                    job for job in reader.jobs_of_execution(ids[0]) if job.executor in names
                )
            else:
                record = reader.job(ids[0])
                records.extend([record] if record is not None else [])
    finally:
        store.close()
    listed = our_jobs(readers, STATUSES)
    pairs: list[tuple[BatchJob, str]] = []
    for record in records:
        found = _batch_job_of(readers, listed.get(record.executor or "", []), record)
        if found is None:
            if record.executor not in listed:
                reason = f"it ran on executor {record.executor!r}, not an AWS Batch one"
            elif record.cached:
                reason = "it was a cache hit: nothing ran"
            else:
                reason = "the executor's queue lists none for it (Batch keeps jobs for days)"
            print(f"redun: no AWS Batch job for redun job {record.id} ({reason})", file=sys.stderr)
            missing += 1
            continue
        pairs.append((found, record.id))
    return pairs, missing


def _batch_job_of(readers: list[QueueReader], jobs: list[BatchJob], record: Any) -> BatchJob | None:
    """The Batch job that ran ``record`` (the newest, if it ran more than once)."""
    from redun.executors.aws_batch.admin import BatchJob

    for job in jobs:  # newest first
        if job.run and job.run != record.execution_id:
            continue
        if not job.is_array:
            if job.key == record.eval_hash:
                return job
            continue
        calls = _reader(readers, job).call_ids(job.key)
        if record.eval_hash in calls:
            index = calls.index(record.eval_hash)
            child_id = f"{job.job_id}:{index}"
            child = _reader(readers, job).describe([child_id]).get(child_id)
            if child is not None:
                return BatchJob(job.executor, child, job.key, [record.id])
    return None


# -- output -----------------------------------------------------------------------------


def _first(values: list[str]) -> str:
    return values[0] if values else ""


def _when(milliseconds: int) -> str:
    return str(datetime.datetime.fromtimestamp(milliseconds / 1000)) if milliseconds else ""


def _text_line(job: BatchJob) -> str:
    detail = job.detail
    if job.redun_jobs:
        ran = "redun job " + ",".join(job_id[:8] for job_id in job.redun_jobs)
    elif job.run:
        ran = "execution " + job.run[:8]
    else:
        ran = ""
    created = _when(job.created)[:19]
    return (
        f"{created:19}  {detail.get('status', ''):9}  {job.job_id}  "
        f"{detail.get('jobName', '')}  {ran}"
    ).rstrip()


def _print_log(job: BatchJob | None, redun_id: str, reader: QueueReader, stream: str) -> None:
    if redun_id:
        print(f"# redun Job {redun_id}")
    if job is not None:
        print(f"# AWS Batch job {job.job_id}")
        stream = job.log_stream
        if not stream:
            print(f"# (no log stream yet: the job is {job.detail.get('status', 'unknown')})")
            print()
            return
    print(f"# AWS Log Stream {stream}")
    for event in reader.log_events(stream):
        message = str(event.get("message", "")).rstrip("\n")
        print(f"{_when(int(event.get('timestamp') or 0))}  {message}")
    print()
