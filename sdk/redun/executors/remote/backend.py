"""The hooks a back end implements: submit, poll, cancel, and (optionally) find and tail.

See :mod:`redun.executors.remote` ("Writing a back end") for how they are used.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from redun.executors.remote.states import Report

Handle = Hashable
"""A back end's id for a submitted job (an AWS job id, a GCP job name, a process id...)."""

NAME_PREFIX = "redun-"
_NAME = re.compile(r"^redun-([0-9a-z-]+)-([0-9a-f]{8})$")


@dataclass(frozen=True)
class Submission:
    """One platform job to start: a lone call, or an array of calls of one task.

    Attributes:
        key: the call id of a lone job, ``a-<token>`` for an array.
        token: unique to this submission; outcomes written for it carry it.
        name: the platform job's name, ``redun-<key>-<token[:8]>`` (lower-case
            letters, digits and hyphens, at most 63 characters: valid for AWS
            and GCP). :func:`parse_name` reads it back when re-attaching.
        size: None for a lone job, else the number of array elements.
        command: the entrypoint's command line to run in the job (for an
            array, each element finds its index in the platform's variable).
        task_name: the task all its calls run.
        options: that task's options (memory, vcpus, image, timeout...).
        labels: ``redun-run`` (execution id), ``redun-key``, ``redun-token``,
            ``redun-task``; attach them as tags or labels where the platform can.
        scratch: the scratch's root URL.
    """

    key: str
    token: str
    name: str
    size: int | None
    command: list[str]
    task_name: str
    options: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    scratch: str = ""

    @property
    def is_array(self) -> bool:
        return self.size is not None


@dataclass(frozen=True)
class FoundJob:
    """A job the platform still knows, found when (re-)attaching: its handle, name and report."""

    handle: Handle
    name: str
    report: Report


def job_name(key: str, token: str) -> str:
    """The platform name of the submission ``key`` with ``token``."""
    return f"{NAME_PREFIX}{key}-{token[:8]}"


def parse_name(name: str) -> tuple[str, str] | None:
    """``(key, token prefix)`` of a name made by :func:`job_name`, or None."""
    match = _NAME.match(name)
    return (match.group(1), match.group(2)) if match else None


class RemoteBackend(abc.ABC):
    """How one platform submits, polls and cancels jobs. Everything else is shared.

    Class attributes a back end may set:

    - ``live_logs``: True if :meth:`read_logs` tails output while jobs run;
      otherwise the output captured in each outcome is posted when it ends.
    - ``live_logs_complete``: False if those tails may miss lines (a log
      service that ingests late): when a call ends, the part of its captured
      output the tails did not show is posted too.
    - ``log_streams_merged``: True if the tails carry stdout and stderr as one
      stream (AWS's awslogs driver): the lines they missed are then found in
      the outcome's output by their order across both streams.
    - ``max_array_size``: the platform's largest array (bigger batches are split).
    - ``poll_interval``: seconds between polls (``poll_interval`` in the config wins).
    - ``lost_after``: seconds a job may be unknown to the platform before it is lost.

    Args:
        name: the executor's name (``[executors.NAME]``).
        config: its configuration section.
    """

    live_logs = False
    live_logs_complete = True
    log_streams_merged = False
    max_array_size = 10_000
    poll_interval = 5.0
    lost_after = 60.0

    def __init__(self, name: str, config: dict[str, Any]) -> None:
        self.name = name
        self.config = config

    def start(self) -> None:
        """Validate the configuration and open clients; called once before the first submit.

        Raise :class:`~redun.errors.ExecutorError` (or a ``UsageError``) naming
        the option to set.
        """
        return None  # optional hook

    @abc.abstractmethod
    def submit(self, submission: Submission) -> Handle:
        """Start the job; return its handle. Raise ExecutorError if the platform refused it."""

    @abc.abstractmethod
    def poll(self, handles: list[Handle]) -> dict[Handle, Report]:
        """The state of each job, in bulk. Leave out handles the platform does not know."""

    @abc.abstractmethod
    def cancel(self, handles: list[Handle]) -> None:
        """Stop these jobs (and all their elements) now; unknown handles are ignored."""

    def cancel_elements(self, handle: Handle, indexes: list[int]) -> None:
        """Stop these elements of array job ``handle``, the others running on.

        Optional: a platform that cannot stop one element lets it run to its
        end, and its outcome is ignored (the array is cancelled once none of its
        elements is wanted).
        """
        return None

    def find_jobs(self) -> Iterable[FoundJob]:
        """Jobs of this executor still known to the platform: in flight, or recently ended.

        Called once per executor before its first submission, to adopt jobs a
        previous scheduler left (matched by name, see :func:`parse_name`).
        """
        return ()

    def read_logs(self, handle: Handle, index: int | None, *, final: bool) -> list[tuple[str, str]]:
        """New output of a job (element ``index`` of an array) since the last call.

        Returns ``(stream, text)`` pairs of whole lines; with ``final`` (the job
        ended), the rest. Only called when ``live_logs`` is True.
        """
        return []

    def forget(self, handle: Handle) -> None:
        """The executor no longer watches this job: drop what is kept about it."""
        return None  # optional hook

    def stop(self) -> None:
        """Release clients and threads. Jobs still running are not touched here."""
        return None  # optional hook
