"""Values and files: records, the values themselves, their containers, and their uses."""

from __future__ import annotations

import pickle
from typing import Any

from redun.backends.queries.base import ReaderBase
from redun.backends.queries.records import FileRecord, ValueRecord, ValueUse
from redun.backends.queries.search import matching

__all__ = ["ValueQueries"]


class ValueQueries(ReaderBase):
    """Values, the files recorded inside them, and when runs last used them."""

    # -- values and files -------------------------------------------------------------
    def values(self, value_hashes: list[str]) -> dict[str, ValueRecord]:
        values = {
            row[0]: ValueRecord(*row)
            for row in self.query_in(
                "SELECT hash, type_name, location, size, preview FROM redun_value "
                "WHERE hash IN :hashes",
                "hashes",
                value_hashes,
            )
        }
        for record in self.files_by_hash(list(values)).values():
            values[record.value_hash].file = record
        return values

    def load_value(self, value_hash: str) -> Any:
        """The value itself (unpickled), or raises KeyError."""
        rows = self.query("SELECT location, data FROM redun_value WHERE hash = :h", h=value_hash)
        if not rows:
            raise KeyError(value_hash)
        location, data = rows[0]
        if data is not None:
            return pickle.loads(data)
        if location == "store":
            return self.backend.value_store.load(value_hash)
        raise KeyError(value_hash)

    def files_by_hash(self, value_hashes: list[str]) -> dict[str, FileRecord]:
        return {
            row[0]: FileRecord(*row)
            for row in self.query_in(
                "SELECT value_hash, path, file_hash, size, kind FROM redun_file "
                "WHERE value_hash IN :hashes",
                "hashes",
                value_hashes,
            )
        }

    def files_by_path(self, paths: list[str]) -> list[FileRecord]:
        return [
            FileRecord(*row)
            for row in self.query_in(
                "SELECT value_hash, path, file_hash, size, kind FROM redun_file WHERE path IN :paths",
                "paths",
                paths,
            )
        ]

    def containers_of(self, value_hashes: list[str]) -> dict[str, list[str]]:
        """For each value, the recorded values that hold it (a list of files...)."""
        found: dict[str, list[str]] = {}
        for parent, child in self.query_in(
            "SELECT parent_hash, child_hash FROM redun_subvalue WHERE child_hash IN :hashes",
            "hashes",
            value_hashes,
        ):
            found.setdefault(child, []).append(parent)
        return found

    # -- browsing ------------------------------------------------------------------------
    def recent_values(
        self, *, type_name: str = "", limit: int = 100, offset: int = 0
    ) -> list[ValueRecord]:
        """Values, most recently made or taken by a call first (then those no call touched)."""
        sql = (
            "SELECT v.hash, v.type_name, v.location, v.size, v.preview FROM redun_value v "
            "LEFT JOIN (SELECT hash, MAX(t) AS t FROM ("
            "SELECT result_hash AS hash, time AS t FROM redun_call_node UNION ALL "
            "SELECT a.value_hash, c.time FROM redun_argument a "
            "JOIN redun_call_node c ON c.call_hash = a.call_hash"
            ") uses GROUP BY hash) used ON used.hash = v.hash"
        )
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if type_name:
            sql += " WHERE v.type_name = :type_name"
            params["type_name"] = type_name
        sql += " ORDER BY used.t IS NULL, used.t DESC, v.hash LIMIT :limit OFFSET :offset"
        return self._with_files([ValueRecord(*row) for row in self.query(sql, **params)])

    def _with_files(self, records: list[ValueRecord]) -> list[ValueRecord]:
        files = self.files_by_hash([record.hash for record in records])
        for record in records:
            record.file = files.get(record.hash)
        return records

    def value_uses(self, value_hashes: list[str]) -> dict[str, ValueUse]:
        """The latest job that made or took each value, and its run's working directory.

        A value no call touched directly (a file inside a returned list) gets
        the latest use of the values holding it.
        """
        uses = self._direct_uses(value_hashes)
        missing = [value_hash for value_hash in value_hashes if value_hash not in uses]
        containers = self.containers_of(missing) if missing else {}
        outer = self._direct_uses(sorted({p for parents in containers.values() for p in parents}))
        for child, parents in containers.items():
            found = [outer[parent] for parent in parents if parent in outer]
            if found:
                uses[child] = max(found, key=lambda use: use.time or 0.0)
        return uses

    def _direct_uses(self, value_hashes: list[str]) -> dict[str, ValueUse]:
        uses: dict[str, ValueUse] = {}
        for sql in (
            "SELECT c.result_hash, x.cwd, MAX(j.start_time) FROM redun_call_node c "
            "JOIN redun_job j ON j.call_hash = c.call_hash "
            "JOIN redun_execution x ON x.id = j.execution_id "
            "WHERE c.result_hash IN :hashes GROUP BY c.result_hash, x.cwd",
            "SELECT a.value_hash, x.cwd, MAX(j.start_time) FROM redun_argument a "
            "JOIN redun_job j ON j.call_hash = a.call_hash "
            "JOIN redun_execution x ON x.id = j.execution_id "
            "WHERE a.value_hash IN :hashes GROUP BY a.value_hash, x.cwd",
        ):
            for value_hash, cwd, time in self.query_in(sql, "hashes", value_hashes):
                known = uses.get(value_hash)
                if known is None or (time or 0.0) > (known.time or 0.0):
                    uses[value_hash] = ValueUse(time, cwd)
        return uses

    def file_paths(self, *, prefix: str = "", limit: int = 100, offset: int = 0) -> list[str]:
        """Distinct recorded file paths starting with ``prefix`` (case matters), in order."""
        # SUBSTR, not a range or LIKE: exact under any collation, and case-sensitive on SQLite.
        sql = "SELECT DISTINCT path FROM redun_file"
        params: dict[str, Any] = {"limit": limit, "offset": offset}
        if prefix:
            sql += " WHERE SUBSTR(path, 1, :length) = :prefix"
            params.update(length=len(prefix), prefix=prefix)
        rows = self.query(sql + " ORDER BY path LIMIT :limit OFFSET :offset", **params)
        return [row[0] for row in rows]

    # -- search ---------------------------------------------------------------------------
    def values_matching(self, terms: list[str], *, limit: int = 100) -> list[ValueRecord]:
        """Values whose preview or type name holds the terms, by hash."""
        where, params = matching(terms, ("preview", "type_name"), "hash")
        rows = self.query(
            "SELECT hash, type_name, location, size, preview FROM redun_value "
            f"WHERE {where} ORDER BY hash LIMIT :limit",
            limit=limit,
            **params,
        )
        return self._with_files([ValueRecord(*row) for row in rows])

    def files_matching(self, terms: list[str], *, limit: int = 100) -> list[FileRecord]:
        """Files whose path holds the terms, by path."""
        where, params = matching(terms, ("path",), "value_hash")
        rows = self.query(
            "SELECT value_hash, path, file_hash, size, kind FROM redun_file "
            f"WHERE {where} ORDER BY path, value_hash LIMIT :limit",
            limit=limit,
            **params,
        )
        return [FileRecord(*row) for row in rows]
