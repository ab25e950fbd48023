"""redund: the redun daemon (watches workflows, serves gRPC)."""
