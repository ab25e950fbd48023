"""Executors run jobs: threads (default), processes, and remote back ends."""

from redun.executors.base import Executor, get_executor_class, register_executor

__all__ = ["Executor", "get_executor_class", "register_executor"]
