"""AWSBatchExecutor: the remote layer with the AWS Batch back end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redun.executors.aws_batch.backend import AWSBatchBackend
from redun.executors.remote.backend import RemoteBackend
from redun.executors.remote.executor import RemoteExecutor

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler


class AWSBatchExecutor(RemoteExecutor):
    """Runs jobs on AWS Batch: one Batch job per lone call, one array job per batch of calls.

    Configuration (``[executors.NAME]``): ``type = aws_batch``, ``queue``,
    ``image``, ``s3_scratch`` (required); ``region``, ``role``,
    ``job_def_name``, ``job_def_extra``, ``tags``, ``environment``, ``vcpus``,
    ``memory`` (GB), ``gpus``, ``shared_memory`` (MiB), ``privileged``,
    ``live_logs``, ``log_group``, ``log_interval``, ``log_reads_per_minute``,
    ``runnable_warning`` (seconds), ``retry_mode``, ``max_attempts``, and the
    keys of :class:`~redun.executors.remote.executor.RemoteExecutor`.
    """

    def __init__(
        self,
        name: str,
        scheduler: Scheduler | None = None,
        config: Any = None,
        *,
        backend: RemoteBackend | None = None,
    ) -> None:
        section = dict(config or {})
        # s3_scratch (the original redun's key) is this executor's scratch.
        if section.get("s3_scratch") and not section.get("scratch"):
            section["scratch"] = section["s3_scratch"]
        super().__init__(name, scheduler, section, backend=backend)

    def make_backend(self) -> RemoteBackend:
        return AWSBatchBackend(self.name, self.config)
