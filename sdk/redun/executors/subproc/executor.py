"""SubprocessExecutor: the remote layer with the subprocess back end."""

from __future__ import annotations

from redun.executors.remote.backend import RemoteBackend
from redun.executors.remote.executor import RemoteExecutor
from redun.executors.subproc.backend import SubprocessBackend


class SubprocessExecutor(RemoteExecutor):
    """Runs each job as a fresh local process of the entrypoint, through a scratch store.

    Configuration (``[executors.NAME]``): ``type = subprocess``, ``scratch``
    (required), ``max_concurrency`` (elements of one array at once), ``python``,
    ``state_dir``, ``work_dir``, and the keys of
    :class:`~redun.executors.remote.executor.RemoteExecutor`.
    """

    def make_backend(self) -> RemoteBackend:
        return SubprocessBackend(self.name, self.config)
