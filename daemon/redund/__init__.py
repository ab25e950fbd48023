"""redund: the redun daemon (runs workflows in runner processes, serves gRPC).

Import-light on purpose: the runner factory imports ``redund.factory`` and
``redund.runner``, which must never pull in grpc. Only ``redund.server``,
``redund.service``, ``redund.convert`` and ``redund.auth``'s interceptor do.
"""
