"""What ``docker inspect`` says about a container, as the remote layer's phases: pure.

A container that was created but not started yet is queued; one that could
not start (its command is not in the image) failed; ``exited`` is done or
failed by its exit status (``OOMKilled`` says it hit its memory limit);
``dead`` is lost. Tested on recorded ``docker inspect`` output.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from typing import Any

from redun.executors.remote.states import Observation, Phase, Report

_RUNNING = frozenset({"running", "paused", "restarting", "removing"})


def observe(info: Mapping[str, Any]) -> Observation:
    """The phase of one container from its ``docker inspect`` entry."""
    state = info.get("State") or {}
    status = str(state.get("Status") or "").lower()
    code = _int(state.get("ExitCode"))
    error = str(state.get("Error") or "").strip()
    if status == "created":
        if code or error:
            return Observation(Phase.FAILED, exit_reason(code, error))
        return Observation(Phase.QUEUED)
    if status in _RUNNING:
        return Observation(Phase.RUNNING)
    if status == "exited":
        if state.get("OOMKilled"):
            return Observation(
                Phase.FAILED,
                "out of memory: Docker stopped the container at its memory limit "
                "(raise memory, in GB)",
            )
        if code == 0:
            return Observation(Phase.SUCCEEDED)
        return Observation(Phase.FAILED, exit_reason(code, error))
    if status == "dead":
        return Observation(Phase.LOST, "Docker reports the container dead")
    return Observation(Phase.UNKNOWN, f"the container's status is {status or 'missing'!r}")


def exit_reason(code: int, error: str = "") -> str:
    """Words for a container's exit status (and Docker's error, if it could not start)."""
    if code in (126, 127):
        text = f"exit status {code}: {command_problem(code)}"
    elif code > 128 and code - 128 in _SIGNALS:
        text = f"exit status {code} (killed by {_SIGNALS[code - 128]})"
    else:
        text = f"exit status {code}"
    return f"{text}: {error}" if error else text


def command_problem(code: int) -> str:
    """What exit status 126 or 127 of a container means: its command is not in the image."""
    what = "could not be run" if code == 126 else "was not found"
    return (
        f"the command {what} in the image "
        "(install redun, the same version as the scheduler's, in the image)"
    )


def summarize(size: int | None, observed: Mapping[int, Observation]) -> Report:
    """The report of a submission from what is known of its elements.

    Elements not in ``observed`` have not started (they wait for a free slot):
    queued, which is what the layer takes an unlisted element of a running
    array to be.
    """
    if size is None:
        only = observed.get(0, Observation(Phase.QUEUED))
        return Report(only.phase, only.reason)
    phases = {observation.phase for observation in observed.values()}
    waiting = len(observed) < size or any(not phase.is_final for phase in phases)
    if waiting:
        started = bool(phases - {Phase.QUEUED, Phase.UNKNOWN})
        phase = Phase.RUNNING if started else Phase.QUEUED
    elif Phase.LOST in phases:
        phase = Phase.LOST
    elif Phase.FAILED in phases:
        phase = Phase.FAILED
    else:
        phase = Phase.SUCCEEDED
    return Report(phase, "", dict(observed))


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


_SIGNALS = {int(sig): sig.name for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)}
