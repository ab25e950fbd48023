"""The ``aws_batch`` executor: remote execution on AWS Batch.

``[executors.NAME] type = aws_batch`` with ``queue``, ``image`` and
``s3_scratch``. One module per idea: :mod:`.settings` (the configuration,
checked), :mod:`.request` (the job definition and each submit's overrides),
:mod:`.monitor` (what Batch states mean: pure), :mod:`.client` (boto3
clients with botocore's retry modes, translating botocore errors),
:mod:`.logs` (CloudWatch tails), :mod:`.backend` (the hooks of the remote
layer) and :mod:`.executor`. boto3 is imported only when such an executor is
used (``pip install 'redun[aws]'``). Multi-node parallel jobs are out of scope.
"""

from redun.executors.aws_batch.executor import AWSBatchExecutor

__all__ = ["AWSBatchExecutor"]
