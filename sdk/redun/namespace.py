"""Task namespaces: ``redun_namespace = "..."`` in a module, or ``namespace("...")``."""

from __future__ import annotations

import sys
from typing import Any

_current_namespace = ""


def namespace(_namespace: str | None = None) -> None:
    """Set the namespace of tasks defined after this call (None unsets it)."""
    global _current_namespace
    _current_namespace = _namespace or ""


def get_current_namespace() -> str:
    """The namespace set by :func:`namespace`, or ``""``."""
    return _current_namespace


def compute_namespace(func: Any, namespace: str | None = None) -> str:
    """The namespace of a task: explicit, else the module's ``redun_namespace``, else current."""
    if namespace is None:
        module = sys.modules.get(getattr(func, "__module__", "") or "")
        namespace = getattr(module, "redun_namespace", None)
    if namespace is not None:
        return namespace
    return get_current_namespace()
