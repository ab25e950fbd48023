"""The :class:`StoreReader`: every read query, one mixin per area."""

from __future__ import annotations

from redun.backends.queries.calls import CallQueries
from redun.backends.queries.listing import ListingQueries
from redun.backends.queries.runs import RunQueries
from redun.backends.queries.search import IdQueries
from redun.backends.queries.tasks import TaskQueries
from redun.backends.queries.values import ValueQueries

__all__ = ["StoreReader"]


class StoreReader(RunQueries, CallQueries, ValueQueries, TaskQueries, IdQueries, ListingQueries):
    """Queries for ``redun log``, lineage and explain."""
