"""Finding records by what a user typed: ids by hex prefix, and text terms.

The ``*_matching`` queries of every area build their ``WHERE`` clause with
:func:`matching`. Each takes lower-case terms, all of which must match (any
case); a lone hex term of 4+ digits also matches ids starting with it.
"""

from __future__ import annotations

import re
from typing import Any

from redun.backends.queries.base import ReaderBase

__all__ = ["IdQueries", "like_pattern", "matching"]

_HEX = re.compile(r"^[0-9a-f]{1,40}$")
# Shorter hex words are too common to search ids by (every hash starting "ab").
_MIN_SEARCH_PREFIX = 4
_ID_COLUMNS = {
    "execution": ("redun_execution", "id"),
    "job": ("redun_job", "id"),
    "call": ("redun_call_node", "call_hash"),
    "value": ("redun_value", "hash"),
    "task": ("redun_task", "hash"),
}


def _prefix_range(prefix: str) -> tuple[str, str]:
    # A range, not LIKE: it uses the primary-key index on SQLite and PostgreSQL alike.
    return prefix, prefix + "g"


def like_pattern(text: str) -> str:
    """A ``LIKE`` pattern (escape character ``\\``) matching ``text`` anywhere, lower-cased."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def matching(terms: list[str], columns: tuple[str, ...], id_column: str) -> tuple[str, dict]:
    """A WHERE clause: every term in one of ``columns`` (any case), or a lone hex term
    that starts ``id_column``."""
    params: dict[str, Any] = {}
    clauses = []
    for index, term in enumerate(terms):
        params[f"t{index}"] = like_pattern(term)
        either = " OR ".join(f"LOWER({column}) LIKE :t{index} ESCAPE '\\'" for column in columns)
        clauses.append(f"({either})")
    where = " AND ".join(clauses) if clauses and columns else "1 = 0"
    word = terms[0].lower() if len(terms) == 1 else ""
    if id_column and len(word) >= _MIN_SEARCH_PREFIX and _HEX.match(word):
        params["lo"], params["hi"] = _prefix_range(word)
        where = f"({where}) OR ({id_column} >= :lo AND {id_column} < :hi)"
    return where, params


class IdQueries(ReaderBase):
    """Full ids from a prefix, of any kind."""

    def find_id(self, prefix: str) -> list[tuple[str, str]]:
        """``(kind, full id)`` of executions, jobs, calls, values and tasks matching ``prefix``."""
        return [(kind, full) for kind in _ID_COLUMNS for full in self.ids_with_prefix(kind, prefix)]

    def ids_with_prefix(self, kind: str, prefix: str, limit: int = 5) -> list[str]:
        """Full ids of one kind (``execution``, ``job``, ``call``, ``value``, ``task``)
        starting with the hex ``prefix``, in order."""
        prefix = prefix.lower()
        if not _HEX.match(prefix):
            return []
        table, column = _ID_COLUMNS[kind]
        lo, hi = _prefix_range(prefix)
        rows = self.query(
            f"SELECT {column} FROM {table} WHERE {column} >= :lo AND {column} < :hi "
            f"ORDER BY {column} LIMIT :limit",
            lo=lo,
            hi=hi,
            limit=limit,
        )
        return [row[0] for row in rows]
