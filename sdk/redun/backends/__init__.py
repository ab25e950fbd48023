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
    """The backend named by a ``[backend]`` config section.

    With no ``db_uri``, as in redun, ``sqlite:///:memory:``: a database of this
    process's own (see :class:`~redun.backends.db.DbBackend`), with ``backend.session``
    and the provenance models. ``db_uri = memory`` keeps the cache in dictionaries
    instead (the fastest, with no database to query).
    """
    section = section or {}
    uri = section.get("db_uri") or "sqlite:///:memory:"
    if uri == "memory":
        return MemoryBackend()
    from redun.backends.db import DbBackend

    return DbBackend(uri, config=section)
