"""Calls: call nodes with their arguments, cache entries, the call tree, and the calls
that made or took a value."""

from __future__ import annotations

from typing import Any

from redun.backends.queries.base import ReaderBase
from redun.backends.queries.records import CALL_COLS, CallRecordInfo

__all__ = ["CallQueries"]


class CallQueries(ReaderBase):
    """Call nodes, their arguments and edges."""

    # -- calls --------------------------------------------------------------------
    def calls(self, call_hashes: list[str]) -> dict[str, CallRecordInfo]:
        """Call nodes with their arguments (name -> value hash)."""
        calls = {
            row[0]: CallRecordInfo(*row)
            for row in self.query_in(
                f"SELECT {CALL_COLS} FROM redun_call_node WHERE call_hash IN :hashes",
                "hashes",
                call_hashes,
            )
        }
        self._add_arguments(calls)
        return calls

    def call(self, call_hash: str) -> CallRecordInfo | None:
        return self.calls([call_hash]).get(call_hash)

    def _add_arguments(self, calls: dict[str, CallRecordInfo]) -> None:
        if not calls:
            return
        for call_hash, name, value_hash in self.query_in(
            "SELECT call_hash, name, value_hash FROM redun_argument WHERE call_hash IN :hashes",
            "hashes",
            list(calls),
        ):
            calls[call_hash].arguments[name] = value_hash

    def calls_of_task(
        self, task_name: str, *, before: float | None = None, limit: int = 2000
    ) -> list[CallRecordInfo]:
        """The newest calls of a task (by full name), newest first."""
        sql = f"SELECT {CALL_COLS} FROM redun_call_node WHERE task_name = :name"
        params: dict[str, Any] = {"name": task_name, "limit": limit}
        if before is not None:
            sql += " AND time < :before"
            params["before"] = before
        rows = self.query(sql + " ORDER BY time DESC LIMIT :limit", **params)
        calls = {row[0]: CallRecordInfo(*row) for row in rows}
        self._add_arguments(calls)
        return list(calls.values())

    def calls_sharing_arguments(
        self,
        task_name: str,
        arg_hashes: dict[str, str],
        *,
        eval_hash: str | None = None,
        before: float | None = None,
        limit: int = 200,
    ) -> list[CallRecordInfo]:
        """Calls of a task with at least one of these argument values, or this eval hash."""
        found: dict[str, CallRecordInfo] = {}
        hashes = sorted(set(arg_hashes.values()))
        if hashes:
            sql = (
                f"SELECT DISTINCT {', '.join('c.' + c for c in CALL_COLS.split(', '))} "
                "FROM redun_argument a JOIN redun_call_node c ON c.call_hash = a.call_hash "
                "WHERE a.value_hash IN :hashes AND c.task_name = :name"
            )
            params: dict[str, Any] = {"hashes": hashes, "name": task_name, "limit": limit}
            if before is not None:
                sql += " AND c.time < :before"
                params["before"] = before
            for row in self.query(sql + " ORDER BY c.time DESC LIMIT :limit", **params):
                found[row[0]] = CallRecordInfo(*row)
        if eval_hash:
            entry = self.cache_entry(eval_hash)
            if entry is not None and entry not in found:
                call = self.calls([entry]).get(entry)
                if call is not None and (before is None or (call.time or 0) < before):
                    found[entry] = call
        self._add_arguments({h: c for h, c in found.items() if not c.arguments})
        return list(found.values())

    def cache_entry(self, eval_hash: str) -> str | None:
        """The call the cache answers ``eval_hash`` with, if any."""
        rows = self.query(
            "SELECT call_hash FROM redun_evaluation WHERE eval_hash = :h", h=eval_hash
        )
        return rows[0][0] if rows else None

    def child_calls(self, call_hashes: list[str]) -> dict[str, list[str]]:
        edges: dict[str, list[tuple[int, str]]] = {}
        for parent, position, child in self.query_in(
            "SELECT parent_call_hash, position, child_call_hash FROM redun_call_edge "
            "WHERE parent_call_hash IN :hashes",
            "hashes",
            call_hashes,
        ):
            edges.setdefault(parent, []).append((position, child))
        return {parent: [c for _, c in sorted(items)] for parent, items in edges.items()}

    def ancestor_calls(self, call_hashes: list[str]) -> list[str]:
        """Every call above these calls (found through the jobs that made them)."""
        seen: set[str] = set(call_hashes)
        frontier = list(call_hashes)
        ancestors: list[str] = []
        while frontier:
            parent_ids = {
                row[0]
                for row in self.query_in(
                    "SELECT parent_id FROM redun_job WHERE call_hash IN :hashes "
                    "AND parent_id IS NOT NULL",
                    "hashes",
                    frontier,
                )
            }
            frontier = []
            for (call_hash,) in self.query_in(
                "SELECT call_hash FROM redun_job WHERE id IN :ids AND call_hash IS NOT NULL",
                "ids",
                list(parent_ids),
            ):
                if call_hash not in seen:
                    seen.add(call_hash)
                    ancestors.append(call_hash)
                    frontier.append(call_hash)
        return ancestors

    # -- who made or took a value ------------------------------------------------------
    def calls_with_result(self, value_hashes: list[str]) -> list[CallRecordInfo]:
        rows = self.query_in(
            f"SELECT {CALL_COLS} FROM redun_call_node WHERE result_hash IN :hashes",
            "hashes",
            value_hashes,
        )
        calls = {row[0]: CallRecordInfo(*row) for row in rows}
        self._add_arguments(calls)
        return list(calls.values())

    def calls_with_argument(self, value_hashes: list[str]) -> dict[str, list[str]]:
        """``{call hash: [argument names]}`` of calls taking one of these values."""
        found: dict[str, list[str]] = {}
        for call_hash, name in self.query_in(
            "SELECT call_hash, name FROM redun_argument WHERE value_hash IN :hashes",
            "hashes",
            value_hashes,
        ):
            found.setdefault(call_hash, []).append(name)
        return found
