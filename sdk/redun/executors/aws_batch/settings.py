"""The ``[executors.NAME] type = aws_batch`` section, read and checked before anything is sent.

Pure: no client is opened here. Every problem is a
:class:`~redun.errors.UsageError` that names the section, the key and what to
set, so a wrong configuration fails before the first job is submitted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from redun.errors import UsageError
from redun.executors.remote.options import number_option

RETRY_MODES = ("adaptive", "standard", "legacy")
MIN_TIMEOUT = 60
"""AWS Batch refuses an attemptDurationSeconds below 60."""

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
_TAG_KEY = re.compile(r"^[\w .:/=+@-]{1,128}$")
_TAG_VALUE = re.compile(r"^[\w .:/=+@-]{0,256}$")


@dataclass(frozen=True)
class AwsSettings:
    """What an AWS Batch executor needs to submit jobs (see the README's "AWS Batch").

    Attributes:
        queue: the job queue (name or ARN).
        image: the container image (with Python, redun and the task's requirements).
        scratch: the scratch root (``s3://bucket/prefix``).
        region: the AWS region ("" = the session's default).
        role: the IAM role ARN the jobs run as (``jobRoleArn``).
        job_def_name: an existing job definition to use instead of one of redun's.
        job_def_extra: extra keys merged into the containerProperties redun registers.
        tags: extra tags on every job.
        environment: extra environment variables of every job.
        vcpus, memory, gpus: default resources of a task (memory in GB).
        shared_memory: /dev/shm size in MiB (in the job definition).
        privileged: run the container privileged (in the job definition).
        entrypoint: the executable the container runs (``redun``).
        live_logs: tail CloudWatch Logs while jobs run.
        log_group: the CloudWatch log group of the jobs' output.
        log_interval: the least seconds between two reads of one job's log.
        log_reads_per_minute: the most CloudWatch reads a minute, over all jobs.
        runnable_warning: seconds a job may wait RUNNABLE before its events say so.
        retry_mode, max_attempts: botocore's retry mode and attempts for every call.
    """

    queue: str
    image: str
    scratch: str
    region: str = ""
    role: str = ""
    job_def_name: str = ""
    job_def_extra: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    vcpus: float | None = None
    memory: float | None = None
    gpus: int | None = None
    shared_memory: int | None = None
    privileged: bool = False
    entrypoint: str = "redun"
    live_logs: bool = True
    log_group: str = "/aws/batch/job"
    log_interval: float = 10.0
    log_reads_per_minute: int = 300
    runnable_warning: float = 900.0
    retry_mode: str = "adaptive"
    max_attempts: int = 10


def parse_settings(name: str, config: Mapping[str, Any]) -> AwsSettings:
    """The settings of ``[executors.<name>]``, checked.

    Raises:
        UsageError: a required key is missing or a value is not usable; the
            message names the key and what to set.
    """
    section = f"[executors.{name}]"

    def text(key: str, *aliases: str) -> str:
        for candidate in (key, *aliases):
            value = config.get(candidate)
            if value is not None and str(value).strip():
                return str(value).strip()
        return ""

    queue = text("queue", "job_queue")
    if not queue:
        raise UsageError(f"{section} has no queue; set queue = JOB_QUEUE (an AWS Batch job queue)")
    image = text("image")
    if not image and not text("job_def_name"):
        raise UsageError(
            f"{section} has no image; set image = IMAGE_URI (a container image with Python "
            "and redun installed, e.g. ACCOUNT.dkr.ecr.REGION.amazonaws.com/NAME:TAG)"
        )
    scratch = text("s3_scratch", "scratch")
    if not scratch:
        raise UsageError(
            f"{section} has no s3_scratch; set s3_scratch = s3://BUCKET/PREFIX "
            "(where calls, results and code packages go)"
        )
    if not scratch.startswith("s3://"):
        raise UsageError(
            f"{section} s3_scratch = {scratch!r}: Batch jobs reach the scratch over the "
            "network; set s3_scratch = s3://BUCKET/PREFIX"
        )
    region = text("region", "aws_region")
    if region and not _REGION.match(region):
        raise UsageError(f"{section} region = {region!r} is not an AWS region (e.g. us-west-2)")
    mode = text("retry_mode").lower() or "adaptive"
    if mode not in RETRY_MODES:
        raise UsageError(f"{section} retry_mode = {mode!r}; use one of {', '.join(RETRY_MODES)}")
    extra = config.get("job_def_extra") or {}
    if isinstance(extra, str) and extra.strip():
        try:
            extra = json.loads(extra)
        except ValueError as exc:
            raise UsageError(f"{section} job_def_extra is not a JSON object: {exc}") from None
    if not isinstance(extra, Mapping):
        raise UsageError(f"{section} job_def_extra must be a JSON object of containerProperties")
    gpus = number_option(section, config, "gpus", int)
    shared = number_option(section, config, "shared_memory", int)
    interval = number_option(section, config, "log_interval", float)
    reads = number_option(section, config, "log_reads_per_minute", int)
    warning = number_option(section, config, "runnable_warning", float)
    attempts = number_option(section, config, "max_attempts", int)
    return AwsSettings(
        queue=queue,
        image=image,
        scratch=scratch,
        region=region,
        role=text("role", "job_role"),
        job_def_name=text("job_def_name"),
        job_def_extra=dict(extra),
        tags=parse_pairs(config.get("tags"), f"{section} tags", tags=True),
        environment=parse_pairs(config.get("environment"), f"{section} environment"),
        vcpus=number_option(section, config, "vcpus", float),
        memory=number_option(section, config, "memory", float),
        gpus=gpus,
        shared_memory=shared,
        privileged=_flag(text("privileged"), False),
        entrypoint=text("entrypoint") or "redun",
        live_logs=_flag(text("live_logs"), True),
        log_group=text("log_group") or "/aws/batch/job",
        log_interval=10.0 if interval is None else interval,
        log_reads_per_minute=reads or 300,
        runnable_warning=900.0 if warning is None else warning,
        retry_mode=mode,
        max_attempts=attempts or 10,
    )


def parse_pairs(value: Any, where: str, *, tags: bool = False) -> dict[str, str]:
    """``KEY=VALUE`` pairs from a dict, a JSON object or ``k=v, k=v`` (tags checked as AWS does)."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        items = {str(k): str(v) for k, v in value.items()}
    else:
        raw = str(value).strip()
        if raw.startswith("{"):
            try:
                loaded = json.loads(raw)
            except ValueError as exc:
                raise UsageError(f"{where} = {raw!r} is not a JSON object: {exc}") from None
            if not isinstance(loaded, dict):
                raise UsageError(f"{where} = {raw!r} is not a JSON object")
            items = {str(k): str(v) for k, v in loaded.items()}
        else:
            items = {}
            for part in re.split(r"[,\n]", raw):
                if not part.strip():
                    continue
                key, sep, val = part.partition("=")
                if not sep:
                    raise UsageError(f"{where}: {part.strip()!r} is not KEY=VALUE")
                items[key.strip()] = val.strip()
    if tags:
        for key, val in items.items():
            if not _TAG_KEY.match(key) or key.lower().startswith("aws:"):
                raise UsageError(
                    f"{where}: tag key {key!r} must be 1-128 letters, digits, spaces or "
                    "_.:/=+-@ and must not start with 'aws:'"
                )
            if not _TAG_VALUE.match(val):
                raise UsageError(
                    f"{where}: tag {key}={val!r}: a value holds at most 256 letters, digits, "
                    "spaces or _.:/=+-@"
                )
    return items


def tag_value(text: str) -> str:
    """``text`` made a valid tag value (other characters become '_'; 256 long)."""
    return re.sub(r"[^\w .:/=+@-]", "_", text)[:256]


def _flag(value: str, default: bool) -> bool:
    if not value:
        return default
    return value.lower() in ("1", "true", "yes", "on")
