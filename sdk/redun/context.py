"""Context values for tasks: ``get_context("a.b", default)`` (re-exported for compatibility)."""

from redun.scheduler.context import get_context_value
from redun.scheduler.control import get_context

__all__ = ["get_context", "get_context_value"]
