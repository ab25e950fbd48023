"""Building what AWS Batch is sent: the job definition, and each submit's overrides.

A job definition holds what cannot be overridden per job (image, job role,
shared memory, privileged, the executor's ``job_def_extra``); its name is a
hash of that content (``redun-<hash>``), so reusing one is a single lookup
and a change of image registers a new one. Everything per task goes into the
submit: resources (``vcpus``, ``memory`` in GB, ``gpus``), ``timeout``
(seconds, at least 60), tags, environment, and a retry strategy of one
attempt: redun itself retries a job whose host was lost (up to the task's
``retries``), so AWS must not retry it a second time. Every option is
checked as it is read, so a bad option fails before any API call.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from redun.errors import UsageError
from redun.executors.aws_batch.settings import MIN_TIMEOUT, AwsSettings, parse_pairs, tag_value
from redun.executors.remote.backend import Submission

DEFAULT_VCPUS = 1.0
DEFAULT_MEMORY_GB = 4.0
EXECUTOR_TAG = "redun-executor"


def definition_spec(settings: AwsSettings, image: str) -> dict[str, Any]:
    """The ``register_job_definition`` arguments of redun's definition for ``image``.

    The default resources in it are placeholders: each submit overrides them.
    """
    container: dict[str, Any] = {
        "image": image,
        "command": [settings.entrypoint, "oneshot", "--help"],
        "resourceRequirements": [
            {"type": "VCPU", "value": _vcpu_text(DEFAULT_VCPUS)},
            {"type": "MEMORY", "value": str(int(DEFAULT_MEMORY_GB * 1024))},
        ],
    }
    if settings.role:
        container["jobRoleArn"] = settings.role
    if settings.shared_memory:
        container["linuxParameters"] = {"sharedMemorySize": settings.shared_memory}
    if settings.privileged:
        container["privileged"] = True
    container.update(settings.job_def_extra)
    digest = hashlib.sha256(json.dumps(container, sort_keys=True).encode()).hexdigest()[:16]
    return {
        "jobDefinitionName": f"redun-{digest}",
        "type": "container",
        "containerProperties": container,
        "platformCapabilities": ["EC2"],
    }


def resources(options: dict[str, Any], settings: AwsSettings) -> list[dict[str, str]]:
    """The submit's ``resourceRequirements``: the task's vcpus, memory (GB) and gpus."""
    vcpus = _option(options, "vcpus", float, settings.vcpus, DEFAULT_VCPUS)
    memory = _option(options, "memory", float, settings.memory, DEFAULT_MEMORY_GB)
    gpus = _option(options, "gpus", int, settings.gpus, 0)
    if vcpus <= 0:
        raise UsageError(f"task option vcpus = {vcpus!r} must be positive")
    if memory * 1024 < 4:
        raise UsageError(f"task option memory = {memory!r} (GB) is below AWS Batch's 4 MiB")
    found = [
        {"type": "VCPU", "value": _vcpu_text(vcpus)},
        {"type": "MEMORY", "value": str(int(memory * 1024))},
    ]
    if gpus:
        found.append({"type": "GPU", "value": str(gpus)})
    return found


def timeout_seconds(options: dict[str, Any]) -> int | None:
    """The task's ``timeout`` in seconds, checked against AWS Batch's minimum."""
    value = options.get("timeout")
    if value is None or value == "":
        return None
    try:
        seconds = int(float(value))
    except (TypeError, ValueError):
        raise UsageError(f"task option timeout = {value!r} is not a number of seconds") from None
    if seconds < MIN_TIMEOUT:
        raise UsageError(
            f"task option timeout = {value!r}: AWS Batch's shortest timeout is {MIN_TIMEOUT} "
            "seconds; set timeout to at least 60"
        )
    return seconds


def submit_request(
    submission: Submission,
    settings: AwsSettings,
    definition: str,
    *,
    executor: str,
) -> dict[str, Any]:
    """The ``submit_job`` arguments for one submission (a lone job, or an array)."""
    options = submission.options
    queue = str(options.get("queue") or options.get("job_queue") or settings.queue)
    environment = {
        **settings.environment,
        **parse_pairs(options.get("environment"), "task option environment"),
    }
    tags = {**settings.tags, **parse_pairs(options.get("tags"), "task option tags", tags=True)}
    for key, value in submission.labels.items():
        tags[key] = tag_value(value)
    tags[EXECUTOR_TAG] = tag_value(executor)
    request: dict[str, Any] = {
        "jobName": submission.name,
        "jobQueue": queue,
        "jobDefinition": definition,
        "containerOverrides": {
            "command": [settings.entrypoint, *_without_redun(submission.command)],
            "resourceRequirements": resources(options, settings),
            "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
        },
        "retryStrategy": {"attempts": 1},
        "tags": tags,
        "propagateTags": True,
    }
    seconds = timeout_seconds(options)
    if seconds is not None:
        request["timeout"] = {"attemptDurationSeconds": seconds}
    if submission.size is not None:
        request["arrayProperties"] = {"size": submission.size}
    return request


def task_image(options: dict[str, Any], settings: AwsSettings) -> str:
    image = str(options.get("image") or settings.image)
    if not image:
        raise UsageError("the task has no image; set image = IMAGE_URI in the executor's section")
    return image


def _without_redun(command: list[str]) -> list[str]:
    """The entrypoint's arguments (the layer's command starts with ``redun``)."""
    return command[1:] if command and command[0] == "redun" else command


def _vcpu_text(vcpus: float) -> str:
    return str(int(vcpus)) if float(vcpus).is_integer() else str(vcpus)


def _option(options: dict[str, Any], key: str, kind: type, default: Any, fallback: Any) -> Any:
    value = options.get(key)
    if value is None or value == "":
        return fallback if default is None else default
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise UsageError(f"task option {key} = {value!r} is not a number") from None
    if number < 0:
        raise UsageError(f"task option {key} = {value!r} must not be negative")
    return number
