"""GCPBatchExecutor: the remote layer with the GCP Batch back end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redun.executors.gcp_batch.backend import GCPBatchBackend
from redun.executors.remote.backend import RemoteBackend
from redun.executors.remote.executor import RemoteExecutor

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler


class GCPBatchExecutor(RemoteExecutor):
    """Runs jobs on GCP Batch: one Batch job per lone call or per array of calls.

    Configuration (``[executors.NAME]``): ``type = gcp_batch``, ``project``,
    ``region``, ``image``, ``gcs_scratch`` (required); ``machine_type``,
    ``service_account``, ``network``, ``subnetwork``, ``no_external_ip``,
    ``provisioning_model`` (standard, spot, preemptible), ``labels``,
    ``vcpus``, ``memory`` (GB), ``priority``, ``boot_disk_size`` (GB),
    ``endpoint`` (an emulator's HOST:PORT on a loopback address), and the keys
    of :class:`~redun.executors.remote.executor.RemoteExecutor`.
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
        # gcs_scratch (the original redun's key) is this executor's scratch.
        if section.get("gcs_scratch") and not section.get("scratch"):
            section["scratch"] = section["gcs_scratch"]
        super().__init__(name, scheduler, section, backend=backend)

    def make_backend(self) -> RemoteBackend:
        return GCPBatchBackend(self.name, self.config)
