"""The ``gcp_batch`` executor: remote execution on Google Cloud Batch.

``[executors.NAME] type = gcp_batch`` with ``project``, ``region``,
``image`` and ``gcs_scratch``. One module per idea: :mod:`.settings` (the
configuration, checked), :mod:`.request` (the Batch job of a submission),
:mod:`.monitor` (what Batch states mean: pure), :mod:`.client` (opening the
client, translating google-api-core errors), :mod:`.backend` (the hooks of
the remote layer) and :mod:`.executor`. google-cloud-batch is imported only
when such an executor is used (``pip install 'redun[gcp]'``).
"""

from redun.executors.gcp_batch.executor import GCPBatchExecutor

__all__ = ["GCPBatchExecutor"]
