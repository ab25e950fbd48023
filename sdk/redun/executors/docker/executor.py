"""DockerExecutor: the remote layer with the docker back end."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from redun.executors.docker.backend import DockerBackend
from redun.executors.remote.backend import RemoteBackend
from redun.executors.remote.executor import RemoteExecutor
from redun.file.filesystem import get_proto

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler


class DockerExecutor(RemoteExecutor):
    """Runs each job in a Docker container of ``image``, through a scratch store.

    Configuration (``[executors.NAME]``): ``type = docker``, ``image`` and
    ``scratch`` (required; a relative scratch directory is taken from the
    config directory, as redun does), the keys of :mod:`redun.executors.docker.settings`,
    and those of :class:`~redun.executors.remote.executor.RemoteExecutor`.
    redun's ``job_monitor_interval`` is read as ``poll_interval``.
    """

    def __init__(
        self,
        name: str,
        scheduler: Scheduler | None = None,
        config: Any = None,
        *,
        backend: RemoteBackend | None = None,
    ) -> None:
        self.config_dir = os.path.abspath(
            scheduler.config.configdir if scheduler is not None else os.getcwd()
        )
        super().__init__(
            name, scheduler, as_redun_reads_it(config, self.config_dir), backend=backend
        )

    def make_backend(self) -> RemoteBackend:
        return DockerBackend(self.name, self.config, config_dir=self.config_dir)


def as_redun_reads_it(config: Any, config_dir: str) -> dict:
    """The section with redun's docker conventions applied (a copy)."""
    section = dict(config or {})
    scratch = str(section.get("scratch") or "").strip()
    if scratch and get_proto(scratch) == "local" and not scratch.startswith("file://"):
        section["scratch"] = os.path.join(config_dir, os.path.expanduser(scratch))
    if section.get("job_monitor_interval") and not section.get("poll_interval"):
        section["poll_interval"] = section["job_monitor_interval"]
    if str(section.get("interactive", "")).strip().lower() in ("1", "true", "yes", "on"):
        section.setdefault("echo", "false")  # its output is on the terminal already
    return section
