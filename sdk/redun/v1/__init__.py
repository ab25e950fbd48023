"""Generated Python code of the ``redun.v1`` gRPC API (``proto/redun/v1/*.proto``).

Importing this package loads nothing; import the modules you need::

    from redun.v1 import daemon_pb2, daemon_pb2_grpc, events_pb2

Only those modules import ``google.protobuf`` and ``grpc``, so ``import redun``
stays free of both. The ``*_pb2*`` files are generated and committed; do not
edit them, regenerate with ``python scripts/gen_proto.py``.

Modules: ``common_pb2`` (JobState, ExecutionStatus, LogStream, ValuePreview,
Argument, Error, JobCounts), ``runs_pb2`` (RunSpec, Execution, Job,
Explanation, WatchInfo), ``events_pb2`` (Event and its payloads, EventBatch),
``provenance_pb2`` (tasks, values, files, lineage, search) and ``daemon_pb2`` /
``daemon_pb2_grpc`` (the ``Redun`` service and its requests and responses).
"""
