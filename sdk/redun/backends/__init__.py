"""Where calls, values and executions are recorded: memory, or a SQL database.

``DbBackend`` (SQLite by default, PostgreSQL for a shared cache) loads lazily:
``import redun`` does not import SQLAlchemy.
"""

from __future__ import annotations

from typing import Any

from redun.backends.base import Backend, CacheHit, CallRecord
from redun.backends.memory import MemoryBackend

__all__ = ["Backend", "CacheHit", "CallRecord", "MemoryBackend", "backend_from_config"]


def backend_from_config(section: dict | None = None) -> Any:
    """The backend named by a ``[backend]`` config section (memory when none is given)."""
    section = section or {}
    uri = section.get("db_uri")
    if not uri or uri in ("sqlite://", "sqlite:///:memory:", "memory"):
        return MemoryBackend()
    from redun.backends.db import DbBackend

    return DbBackend(uri, config=section)
