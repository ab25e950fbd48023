"""The files an argument is or holds: recorded inside values, or File objects in live ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redun.backends.queries import StoreReader

__all__ = ["FileLookup", "live_files"]


class FileLookup:
    """The files inside recorded values, each value queried once."""

    def __init__(self, reader: StoreReader) -> None:
        self.reader = reader
        self._seen: dict[str, dict[str, Any]] = {}

    def inside(self, value_hashes: list[str]) -> dict[str, dict[str, Any]]:
        """``{value hash: {path: FileRecord}}`` for those of ``value_hashes`` holding files."""
        missing = [h for h in value_hashes if h not in self._seen]
        if missing:
            found = self._query(missing)
            for value_hash in missing:
                self._seen[value_hash] = found.get(value_hash, {})
        return {h: self._seen[h] for h in value_hashes if self._seen.get(h)}

    def _query(self, value_hashes: list[str]) -> dict[str, dict[str, Any]]:
        """For each value: ``{path: FileRecord}`` of the files it is or holds."""
        reader = self.reader
        direct = reader.files_by_hash(value_hashes)
        children: dict[str, list[str]] = {}
        for parent, child in reader.query_in(
            "SELECT parent_hash, child_hash FROM redun_subvalue WHERE parent_hash IN :hashes",
            "hashes",
            value_hashes,
        ):
            children.setdefault(parent, []).append(child)
        nested = reader.files_by_hash(sorted({c for cs in children.values() for c in cs}))
        found: dict[str, dict[str, Any]] = {}
        for value_hash in value_hashes:
            records = {}
            if value_hash in direct:
                records[direct[value_hash].path] = direct[value_hash]
            for child in children.get(value_hash, []):
                if child in nested:
                    records[nested[child].path] = nested[child]
            if records:
                found[value_hash] = records
        return found


def live_files(value: Any) -> dict[str, Any]:
    """``{path: FileRecord}`` for the Files and Dirs in a live value."""
    from redun.backends.queries import FileRecord
    from redun.file.dir import recorded_files_of
    from redun.nested import ValueWalk

    found: dict[str, Any] = {}
    for item in ValueWalk(value):
        if not (hasattr(item, "path") and hasattr(item, "hash")):
            continue  # a Value that is not a file (a FileSet names a pattern)
        kind = "dir" if "Dir" in type(item).__name__ else "file"
        size = None
        if kind == "file":
            try:
                size = item.size()
            except Exception:
                size = None  # a file that is gone has no size: explain says it changed
        found[item.path] = FileRecord("", item.path, item.hash, size, kind)
        if kind == "dir":
            # Its files, as the store records them for a directory: compared one by one.
            for file in recorded_files_of(item):
                found.setdefault(file.path, FileRecord("", file.path, file.hash, None, "file"))
    return found
