"""Building the Batch job for one submission: resources, retries, labels, allocation, logs.

The task's options (``vcpus``, ``memory`` in GB, ``timeout`` in seconds,
``retries``, ``machine_type``, ``image``, ``provisioning_model``, ``labels``,
``service_account``, ``priority``, ``boot_disk_size``) override the
executor's defaults. Each is checked as it is read, so a bad option fails
before any API call.

Retries: ``max_retry_count = retries`` with a ``RETRY_TASK`` lifecycle
policy on the exit codes GCP Batch reserves for the loss of a VM (spot
preemption, a VM that stopped reporting, rebooted or was recreated), so
Batch runs a preempted task again in the same job, and a task that failed by
itself (any other exit status) is not retried.
"""

from __future__ import annotations

from typing import Any

from redun.errors import UsageError
from redun.executors.gcp_batch.settings import (
    MAX_RETRY_COUNT,
    PROVISIONING_MODELS,
    GcpSettings,
    label_value,
    parse_labels,
)
from redun.executors.remote.backend import Submission

PREEMPTED = 50001
VM_REPORTING_TIMEOUT = 50002
VM_REBOOTED = 50003
VM_UNRESPONSIVE = 50004
MAX_RUN_DURATION_EXCEEDED = 50005
VM_RECREATED = 50006
INFRASTRUCTURE_EXIT_CODES = (
    PREEMPTED,
    VM_REPORTING_TIMEOUT,
    VM_REBOOTED,
    VM_UNRESPONSIVE,
    VM_RECREATED,
)
"""Exit codes GCP Batch reserves for the loss of the task's VM: Batch retries these."""

TASK_GROUP = "group0"
SCRATCH_LABEL = "redun_scratch"
SESSION_LABEL = "redun_session"


def job_labels(submission: Submission, settings: GcpSettings, extra: dict[str, str]) -> dict:
    """The job's labels: the executor's and the task's, then redun's own (call, run, scratch)."""
    labels = {**settings.labels, **extra}
    for key, value in submission.labels.items():
        labels[key.replace("-", "_")] = label_value(value)
    return labels


def task_resources(options: dict[str, Any], settings: GcpSettings) -> dict[str, Any]:
    """cpu_milli, memory_mib, boot_disk_mib, max_run_duration, max_retry_count of a task."""
    where = f"task option of {options.get('__task__', 'the task')}"
    vcpus = _option(options, "vcpus", settings.vcpus, where)
    memory = _option(options, "memory", settings.memory, where)
    disk = _option(options, "boot_disk_size", settings.boot_disk_size, where)
    timeout = _option(options, "timeout", None, where)
    retries = _option(options, "retries", 0, where) or 0
    resources: dict[str, Any] = {}
    if vcpus:
        resources["cpu_milli"] = int(round(vcpus * 1000))
    if memory:
        resources["memory_mib"] = int(round(memory * 1024))
    if disk:
        resources["boot_disk_mib"] = int(round(disk * 1024))
    return {
        "compute_resource": resources,
        "max_run_duration": int(timeout) if timeout else None,
        "max_retry_count": min(int(retries), MAX_RETRY_COUNT),
    }


def build_job(submission: Submission, settings: GcpSettings, *, extra_labels: dict[str, str]):
    """The ``batch_v1.Job`` that runs ``submission`` (``task_count`` = the array's size)."""
    from google.cloud import batch_v1
    from google.protobuf import duration_pb2

    options = {**submission.options, "__task__": submission.task_name}
    shape = task_resources(options, settings)
    command = list(submission.command)
    entrypoint = settings.entrypoint
    if command and command[0] == "redun":
        command = command[1:]
    else:
        entrypoint = ""
    container = batch_v1.Runnable.Container(
        image_uri=str(options.get("image") or settings.image),
        entrypoint=entrypoint,
        commands=command,
    )
    spec = batch_v1.TaskSpec(
        runnables=[batch_v1.Runnable(container=container)],
        max_retry_count=shape["max_retry_count"],
        environment=batch_v1.Environment(variables={"PYTHONUNBUFFERED": "1"}),
        lifecycle_policies=[
            batch_v1.LifecyclePolicy(
                action=batch_v1.LifecyclePolicy.Action.RETRY_TASK,
                action_condition=batch_v1.LifecyclePolicy.ActionCondition(
                    exit_codes=list(INFRASTRUCTURE_EXIT_CODES)
                ),
            )
        ],
    )
    if shape["compute_resource"]:
        spec.compute_resource = batch_v1.ComputeResource(**shape["compute_resource"])
    if shape["max_run_duration"]:
        spec.max_run_duration = duration_pb2.Duration(seconds=shape["max_run_duration"])
    group = batch_v1.TaskGroup(
        task_count=submission.size or 1,
        task_spec=spec,
    )
    model = str(options.get("provisioning_model") or settings.provisioning_model).lower()
    if model not in PROVISIONING_MODELS:
        raise UsageError(
            f"task option provisioning_model = {model!r} of {submission.task_name}; use one of "
            f"{', '.join(PROVISIONING_MODELS)}"
        )
    policy = batch_v1.AllocationPolicy.InstancePolicy(
        provisioning_model=getattr(batch_v1.AllocationPolicy.ProvisioningModel, model.upper()),
    )
    machine_type = str(options.get("machine_type") or settings.machine_type)
    if machine_type:
        policy.machine_type = machine_type
    allocation = batch_v1.AllocationPolicy(
        instances=[batch_v1.AllocationPolicy.InstancePolicyOrTemplate(policy=policy)]
    )
    account = str(
        options.get("service_account")
        or options.get("service_account_email")
        or settings.service_account
    )
    if account:
        allocation.service_account = batch_v1.ServiceAccount(email=account)
    if settings.network or settings.subnetwork:
        allocation.network = batch_v1.AllocationPolicy.NetworkPolicy(
            network_interfaces=[
                batch_v1.AllocationPolicy.NetworkInterface(
                    network=settings.network,
                    subnetwork=settings.subnetwork,
                    no_external_ip_address=settings.no_external_ip,
                )
            ]
        )
    task_labels = parse_labels(
        options.get("labels"), f"task option labels of {submission.task_name}"
    )
    priority = options.get("priority", settings.priority)
    return batch_v1.Job(
        priority=int(priority or 0),
        task_groups=[group],
        allocation_policy=allocation,
        labels=job_labels(submission, settings, {**task_labels, **extra_labels}),
        logs_policy=batch_v1.LogsPolicy(destination=batch_v1.LogsPolicy.Destination.CLOUD_LOGGING),
    )


def _option(options: dict[str, Any], key: str, default: Any, where: str) -> float | None:
    value = options.get(key, default)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{key} = {value!r} ({where}) is not a number") from None
    if number < 0:
        raise UsageError(f"{key} = {value!r} ({where}) must not be negative")
    return number
