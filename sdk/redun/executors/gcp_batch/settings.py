"""The ``[executors.NAME] type = gcp_batch`` section, read and checked before anything is sent.

Pure: no client is opened here. Every problem is a
:class:`~redun.errors.UsageError` that names the section, the key and what to
set, so a wrong configuration fails before the first job is submitted.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from redun.errors import UsageError
from redun.executors.remote.options import number_option

PROVISIONING_MODELS = ("standard", "spot", "preemptible")
MAX_RETRY_COUNT = 10
"""GCP Batch accepts max_retry_count in [0, 10]."""

_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")


@dataclass(frozen=True)
class GcpSettings:
    """What a GCP Batch executor needs to create jobs (see the README's "GCP Batch").

    Attributes:
        project: the Google Cloud project of the jobs.
        region: where they run (``us-central1``).
        image: the container image (with Python, redun and the task's requirements).
        scratch: the scratch root (``gs://bucket/prefix``).
        machine_type: Compute Engine machine type of the VMs (none: Batch chooses).
        service_account: the email of the service account the VMs run as.
        network, subnetwork: where the VMs' interface goes (full or short names).
        no_external_ip: VMs get no external address (needs Cloud NAT or private access).
        provisioning_model: ``standard``, ``spot`` or ``preemptible``.
        labels: extra labels on every job.
        vcpus, memory: default resources of a task (memory in GB), unless it sets its own.
        priority: the jobs' priority (0..99).
        boot_disk_size: boot disk in GB (none: Batch's default).
        endpoint: ``HOST:PORT`` of an emulator (plaintext gRPC on a loopback address).
        entrypoint: the executable the container runs (``redun``).
        live_logs: ``auto`` (tail Cloud Logging when google-cloud-logging is
            installed and Cloud Logging is reachable), ``true`` or ``false``.
        logging_endpoint: ``HOST:PORT`` of a Cloud Logging emulator (loopback only).
        log_interval: the least seconds between two reads of one job's log.
        log_reads_per_minute: the most Cloud Logging reads a minute.
    """

    project: str
    region: str
    image: str
    scratch: str
    machine_type: str = ""
    service_account: str = ""
    network: str = ""
    subnetwork: str = ""
    no_external_ip: bool = False
    provisioning_model: str = "standard"
    labels: dict[str, str] = field(default_factory=dict)
    vcpus: float | None = None
    memory: float | None = None
    priority: int = 0
    boot_disk_size: float | None = None
    endpoint: str = ""
    entrypoint: str = "redun"
    live_logs: str = "auto"
    logging_endpoint: str = ""
    log_interval: float = 15.0
    log_reads_per_minute: int = 50

    @property
    def parent(self) -> str:
        """``projects/P/locations/R``: where jobs are created and listed."""
        return f"projects/{self.project}/locations/{self.region}"


def parse_settings(name: str, config: Mapping[str, Any]) -> GcpSettings:
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

    missing = {
        "project": "project = YOUR_PROJECT_ID (the Google Cloud project the jobs run in)",
        "region": "region = REGION (where the jobs run, e.g. us-central1)",
        "image": "image = IMAGE_URI (a container image with Python and redun installed)",
    }
    for key, hint in missing.items():
        if not text(key):
            raise UsageError(f"{section} has no {key}; set {hint}")
    scratch = text("gcs_scratch", "scratch")
    if not scratch:
        raise UsageError(
            f"{section} has no gcs_scratch; set gcs_scratch = gs://BUCKET/PREFIX "
            "(where calls, results and code packages go)"
        )
    if not _NAME.match(text("region")):
        raise UsageError(f"{section} region = {text('region')!r} is not a region name")
    model = text("provisioning_model").lower() or "standard"
    if model not in PROVISIONING_MODELS:
        raise UsageError(
            f"{section} provisioning_model = {model!r}; use one of {', '.join(PROVISIONING_MODELS)}"
        )
    endpoint = text("endpoint")
    if endpoint:
        check_endpoint(section, endpoint)
    logging_endpoint = text("logging_endpoint")
    if logging_endpoint:
        check_endpoint(section, logging_endpoint, key="logging_endpoint")
    live_logs = text("live_logs").lower() or "auto"
    if live_logs in ("1", "yes", "on"):
        live_logs = "true"
    if live_logs in ("0", "no", "off"):
        live_logs = "false"
    if live_logs not in ("auto", "true", "false"):
        raise UsageError(f"{section} live_logs = {live_logs!r}; use auto, true or false")
    log_interval = number_option(section, config, "log_interval", float)
    reads = number_option(section, config, "log_reads_per_minute", int)
    priority = number_option(section, config, "priority", int) or 0
    if not 0 <= priority < 100:
        raise UsageError(f"{section} priority = {priority}; use 0 to 99")
    return GcpSettings(
        project=text("project"),
        region=text("region"),
        image=text("image"),
        scratch=scratch,
        machine_type=text("machine_type"),
        service_account=text("service_account", "service_account_email"),
        network=text("network"),
        subnetwork=text("subnetwork"),
        no_external_ip=text("no_external_ip").lower() in ("1", "true", "yes", "on"),
        provisioning_model=model,
        labels=parse_labels(config.get("labels"), f"{section} labels"),
        vcpus=number_option(section, config, "vcpus", float),
        memory=number_option(section, config, "memory", float),
        priority=priority,
        boot_disk_size=number_option(section, config, "boot_disk_size", float),
        endpoint=endpoint,
        entrypoint=text("entrypoint") or "redun",
        live_logs=live_logs,
        logging_endpoint=logging_endpoint,
        log_interval=15.0 if log_interval is None else log_interval,
        log_reads_per_minute=50 if not reads else reads,
    )


def check_endpoint(section: str, endpoint: str, *, key: str = "endpoint") -> tuple[str, int]:
    """``(host, port)`` of an emulator's ``HOST:PORT``; only loopback addresses are allowed.

    The emulator is reached over plaintext gRPC, without credentials: that is
    safe on this machine only.
    """
    host, _, port = endpoint.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit():
        raise UsageError(f"{section} {key} = {endpoint!r} is not HOST:PORT")
    loopback = host == "localhost"
    if not loopback:
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
    if not loopback:
        raise UsageError(
            f"{section} {key} = {endpoint!r}: plaintext gRPC is allowed only to a loopback "
            f"address (an emulator on this machine, e.g. 127.0.0.1:PORT); remove {key} to "
            "use Google Cloud"
        )
    return host, int(port)


def parse_labels(value: Any, where: str) -> dict[str, str]:
    """Labels from a dict, a JSON object or ``k=v, k=v``; checked against GCP's label rules."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        items = dict(value)
    else:
        raw = str(value).strip()
        if raw.startswith("{"):
            try:
                items = json.loads(raw)
            except ValueError as exc:
                raise UsageError(f"{where} = {raw!r} is not a JSON object: {exc}") from None
            if not isinstance(items, dict):
                raise UsageError(f"{where} = {raw!r} is not a JSON object")
        else:
            items = {}
            for part in re.split(r"[,\n]", raw):
                if not part.strip():
                    continue
                key, sep, val = part.partition("=")
                if not sep:
                    raise UsageError(f"{where}: {part.strip()!r} is not KEY=VALUE")
                items[key.strip()] = val.strip()
    labels: dict[str, str] = {}
    for key, val in items.items():
        key, val = str(key), str(val)
        if not _LABEL_KEY.match(key):
            raise UsageError(
                f"{where}: label key {key!r} must start with a lower-case letter and hold only "
                "lower-case letters, digits, '_' and '-' (at most 63)"
            )
        if not _LABEL_VALUE.match(val):
            raise UsageError(
                f"{where}: label {key}={val!r}: a value holds only lower-case letters, digits, "
                "'_' and '-' (at most 63)"
            )
        labels[key] = val
    return labels


def label_value(text: str) -> str:
    """``text`` made a valid label value (lower case; other characters become '_'; 63 long)."""
    return re.sub(r"[^a-z0-9_-]", "_", text.lower())[:63]
