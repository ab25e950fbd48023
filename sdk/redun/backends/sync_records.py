"""The export format: one JSON object a line, a record each (``redun export``/``import``).

Every record has ``"_version": 1`` and a ``"_type"``; its other fields are the
columns of one table of :mod:`redun.backends.schema`, under the same names,
with what the table's own rows need folded in:

=============  ==================  =============================================
``_type``      table               extra fields
=============  ==================  =============================================
Execution      redun_execution
Job            redun_job           ``log``: ``[[position, stream, text], ...]``
Task           redun_task
Value          redun_value         ``data`` is base64; ``subvalues``: child hashes;
                                   ``file``: ``{path, file_hash, size, kind}`` or null
CallNode       redun_call_node     ``args``: ``{name: value hash}``;
                                   ``children``: child call hashes, in order
Evaluation     redun_evaluation    (the cache entry: eval hash -> call)
TreeCheck      redun_tree_check
Tag            redun_tag
=============  ==================  =============================================

Text columns that hold JSON (``argv``, ``code_parts``, ``context_reads``, a
tag's ``value``...) stay the text the store holds, so a round trip is exact.
A value kept in the value store is exported with its bytes (``location`` stays
``"store"``); one whose bytes were not found has ``data: null`` and
``"missing": true``.

In memory (``redun push``/``pull``) a record is the same dict with ``data`` as
``bytes``: :func:`to_json_line` and :func:`parse_line` convert.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from redun.backends.bulk import COLUMNS
from redun.errors import RedunError

FORMAT_VERSION = 1

# _type -> its table.
TABLE_OF = {
    "Execution": "redun_execution",
    "Job": "redun_job",
    "Task": "redun_task",
    "Value": "redun_value",
    "CallNode": "redun_call_node",
    "Evaluation": "redun_evaluation",
    "TreeCheck": "redun_tree_check",
    "Tag": "redun_tag",
}
# Columns that must be a non-empty string (keys and NOT NULL columns).
_REQUIRED = {
    "Execution": ("id",),
    "Job": ("id", "execution_id"),
    "Task": ("hash", "fullname"),
    "Value": ("hash",),
    "CallNode": ("call_hash", "task_hash", "task_name", "args_hash", "eval_hash", "result_hash"),
    "Evaluation": ("eval_hash", "call_hash"),
    "TreeCheck": ("call_hash",),
    "Tag": ("entity_type", "entity_id", "key", "value"),
}
BOOL_COLUMNS = frozenset({"needs_check", "result_needs_check", "cacheable", "cached"})
_FLOAT_COLUMNS = frozenset({"start_time", "end_time", "time"})
_INT_COLUMNS = frozenset({"pid", "size"})


class ExportFormatError(RedunError):
    """A line of an export is not a record this redun can import."""


def to_json_line(record: dict[str, Any]) -> str:
    """``record`` as one line of JSON (``data`` bytes as base64)."""
    data = record.get("data")
    if isinstance(data, (bytes, bytearray, memoryview)):
        record = dict(record)
        record["data"] = base64.b64encode(bytes(data)).decode("ascii")
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def parse_line(text: str, lineno: int) -> dict[str, Any] | None:
    """The record on line ``lineno`` (None for a blank line), checked and with ``data``
    as bytes.

    Raises:
        ExportFormatError: not JSON, not a record, or a field of the wrong type; the
            message names the line.
    """
    if not text.strip():
        return None

    def bad(why: str) -> ExportFormatError:
        return ExportFormatError(f"line {lineno}: {why}")

    try:
        record = json.loads(text)
    except ValueError as error:
        raise bad(f"not JSON ({error}); is this the output of `redun export`?") from None
    if not isinstance(record, dict):
        raise bad("not a JSON object; is this the output of `redun export`?")
    version = record.get("_version")
    kind = record.get("_type")
    if version is None or kind is None:
        raise bad("no _version and _type fields; is this the output of `redun export`?")
    if version != FORMAT_VERSION:
        raise bad(f"_version {version!r}: this redun reads version {FORMAT_VERSION}")
    if kind not in TABLE_OF:
        known = ", ".join(sorted(TABLE_OF))
        raise bad(f"unknown _type {kind!r} (known: {known})")
    for column in _REQUIRED[kind]:
        if not isinstance(record.get(column), str) or not record[column]:
            raise bad(f"{kind} record without {column}")
    for column in COLUMNS[TABLE_OF[kind]]:
        value = record.get(column)
        if value is None:
            continue
        if column in BOOL_COLUMNS:
            ok = isinstance(value, bool)
        elif column in _FLOAT_COLUMNS:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif column in _INT_COLUMNS:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            raise bad(f"{kind} {_key_text(kind, record)}: {column} = {value!r} has the wrong type")
    try:
        _check_extras(kind, record)
    except (TypeError, ValueError, binascii.Error) as error:
        raise bad(f"{kind} {_key_text(kind, record)}: {error}") from None
    return record


def _key_text(kind: str, record: dict[str, Any]) -> str:
    return str(record.get(_REQUIRED[kind][0]))


def _check_extras(kind: str, record: dict[str, Any]) -> None:
    if kind == "Value":
        data = record.get("data")
        if data is not None:
            if not isinstance(data, str):
                raise TypeError("data is not base64 text")
            record["data"] = base64.b64decode(data, validate=True)
        _check_strings(record.get("subvalues") or [], "subvalues")
        file = record.get("file")
        if file is not None and not (isinstance(file, dict) and isinstance(file.get("path"), str)):
            raise TypeError("file is not an object with a path")
    elif kind == "CallNode":
        args = record.get("args") or {}
        if not isinstance(args, dict):
            raise TypeError("args is not an object")
        _check_strings(list(args.values()), "args")
        _check_strings(record.get("children") or [], "children")
    elif kind == "Job":
        for entry in record.get("log") or []:
            if not (
                isinstance(entry, list)
                and len(entry) == 3
                and isinstance(entry[0], int)
                and all(isinstance(part, str) for part in entry[1:])
            ):
                raise TypeError("log entries must be [position, stream, text]")


def _check_strings(items: Any, what: str) -> None:
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise TypeError(f"{what} must be a list of hashes")


def main_row(record: dict[str, Any]) -> tuple:
    """The record's row of its own table, in :data:`~redun.backends.bulk.COLUMNS` order."""
    return tuple(record.get(column) for column in COLUMNS[TABLE_OF[record["_type"]]])


def make_record(kind: str, row: Any, **extra: Any) -> dict[str, Any]:
    """A record from a row of ``kind``'s table (columns in ``COLUMNS`` order)."""
    record: dict[str, Any] = {"_version": FORMAT_VERSION, "_type": kind}
    for column, value in zip(COLUMNS[TABLE_OF[kind]], row):
        if column in BOOL_COLUMNS and value is not None:
            value = bool(value)
        elif isinstance(value, memoryview):
            value = bytes(value)
        record[column] = value
    record.update(extra)
    return record
