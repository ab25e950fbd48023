"""What every query mixin of :class:`~redun.backends.queries.StoreReader` reads through."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redun.backends.db import DbBackend

__all__ = ["ReaderBase"]


class ReaderBase:
    """The backend and its two query functions (``query``, and ``query_in`` for batches)."""

    def __init__(self, backend: DbBackend) -> None:
        self.backend = backend
        self.query = backend.query
        self.query_in = backend.query_in
