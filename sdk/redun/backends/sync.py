"""Copying records between stores: ``redun export``, ``import``, ``push`` and ``pull``.

:class:`RecordReader` chooses what to copy out of a store (every row, or what
some executions reach: their jobs, the call trees under them, the values and
tasks those name, the cache entries and tree verdicts of the calls, the tags on
all of it) and reads it as records (:mod:`redun.backends.sync_records`).
:class:`RecordWriter` writes records into a store in one transaction, a batch
of rows at a time, through the idempotent inserts of :mod:`redun.backends.bulk`,
and counts the ones that were new.

A push is a walk, as git's: the executions the target lacks (or holds as still
running), then, layer by layer, only the calls, values and tasks it lacks. What
a store holds was written with everything below it, so a known call or value
ends the walk there.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redun.backends import bulk
from redun.backends.sync_records import TABLE_OF, main_row, make_record
from redun.errors import BackendError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from redun.backends.db import DbBackend

logger = logging.getLogger("redun")

_CHUNK = 500  # keys a query
BATCH_RECORDS = 2000  # records a batch of rows
_FINAL_EXECUTION = ("done", "failed", "cancelled")
# What a store already has, asked by kind ("call", "value", "task"): a subset of keys.
Known = Callable[[str, list[str]], set[str]]


@dataclass
class Selection:
    """The keys of the records to copy, in the order found."""

    executions: list[str] = field(default_factory=list)
    jobs: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    tags: list[tuple] = field(default_factory=list)  # whole rows
    all_cache: bool = False  # every evaluation row, not only those of the calls


@dataclass
class Counts:
    """What a write did: records new to the store, updated (a job or execution that
    was still running there), and already there."""

    new: dict[str, int] = field(default_factory=dict)
    updated: int = 0
    present: int = 0
    missing_bytes: int = 0  # store values whose bytes the source did not have

    @property
    def total_new(self) -> int:
        return sum(self.new.values())

    def add_new(self, kind: str, count: int = 1) -> None:
        if count:
            self.new[kind] = self.new.get(kind, 0) + count

    def summary(self) -> str:
        return ", ".join(f"{n} {kind}" for kind, n in sorted(self.new.items())) or "nothing"


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _json_values(text: str | None) -> list[str]:
    """The value hashes of a JSON ``{name: hash}`` column."""
    if not text:
        return []
    try:
        parsed = json.loads(text)
    except ValueError:
        return []
    if not isinstance(parsed, dict):
        return []
    return [value for value in parsed.values() if isinstance(value, str)]


class _Ordered:
    """An insertion-ordered set that also reports what was new."""

    def __init__(self) -> None:
        self.items: dict[Any, None] = {}

    def add_all(self, keys: Iterable[Any]) -> list[Any]:
        fresh = []
        for key in keys:
            if key is not None and key not in self.items:
                self.items[key] = None
                fresh.append(key)
        return fresh


class RecordReader:
    """Reads records out of a (loaded) store."""

    def __init__(self, backend: DbBackend) -> None:
        self.backend = backend
        self.missing_bytes = 0  # store values exported without their bytes

    def _query_in(self, sql: str, keys: Sequence[Any]) -> list[Any]:
        return self.backend.query_in(sql, "keys", list(keys)) if keys else []

    # -- choosing ------------------------------------------------------------------
    def everything(self) -> Selection:
        """Every record of the store."""
        query = self.backend.query
        return Selection(
            executions=[r[0] for r in query("SELECT id FROM redun_execution ORDER BY start_time")],
            jobs=[r[0] for r in query("SELECT id FROM redun_job ORDER BY start_time")],
            tasks=[r[0] for r in query("SELECT hash FROM redun_task")],
            values=[r[0] for r in query("SELECT hash FROM redun_value")],
            calls=[r[0] for r in query("SELECT call_hash FROM redun_call_node")],
            tags=[tuple(r) for r in query(_TAG_SELECT)],
            all_cache=True,
        )

    def execution_ids(self) -> list[tuple[str, str | None]]:
        """``(id, status)`` of every execution."""
        return [tuple(row) for row in self.backend.query("SELECT id, status FROM redun_execution")]

    def closure(self, execution_ids: Sequence[str], known: Known | None = None) -> Selection:
        """The executions' records and what they reach; ``known`` prunes what a target has."""
        selection = Selection(executions=list(execution_ids))
        tasks, values, calls = _Ordered(), _Ordered(), _Ordered()
        pending_values: list[str] = []
        frontier: list[str] = []
        for job_id, task_hash, call_hash, arg_hashes in self._query_in(
            "SELECT id, task_hash, call_hash, arg_hashes FROM redun_job "
            "WHERE execution_id IN :keys ORDER BY start_time",
            selection.executions,
        ):
            selection.jobs.append(job_id)
            tasks.add_all([task_hash])
            frontier.append(call_hash)
            pending_values.extend(_json_values(arg_hashes))
        # The call trees, a layer at a time.
        frontier = calls.add_all(frontier)
        while frontier:
            if known is not None:
                have = known("call", list(frontier))
                frontier = [c for c in frontier if c not in have]
            children: list[str] = []
            for call_hash, task_hash, result_hash, expr_hash, reads in self._query_in(
                "SELECT call_hash, task_hash, result_hash, expr_hash, context_reads "
                "FROM redun_call_node WHERE call_hash IN :keys",
                frontier,
            ):
                selection.calls.append(call_hash)
                tasks.add_all([task_hash])
                pending_values.extend([result_hash, expr_hash, *_json_values(reads)])
            for (value_hash,) in self._query_in(
                "SELECT value_hash FROM redun_argument WHERE call_hash IN :keys", frontier
            ):
                pending_values.append(value_hash)
            for (child,) in self._query_in(
                "SELECT child_call_hash FROM redun_call_edge WHERE parent_call_hash IN :keys",
                frontier,
            ):
                children.append(child)
            frontier = calls.add_all(children)
        # The values, and the values inside them (files in a list).
        layer = values.add_all(pending_values)
        while layer:
            if known is not None:
                have = known("value", list(layer))
                layer = [v for v in layer if v not in have]
            present = {
                row[0]
                for row in self._query_in("SELECT hash FROM redun_value WHERE hash IN :keys", layer)
            }
            selection.values.extend(v for v in layer if v in present)
            layer = values.add_all(
                row[0]
                for row in self._query_in(
                    "SELECT child_hash FROM redun_subvalue WHERE parent_hash IN :keys", layer
                )
            )
        task_list = list(tasks.items)
        if known is not None:
            have = known("task", task_list)
            task_list = [t for t in task_list if t not in have]
        selection.tasks = task_list
        entities = [*selection.executions, *selection.jobs, *selection.values, *task_list]
        selection.tags = [
            tuple(row)
            for row in self._query_in(f"{_TAG_SELECT} WHERE entity_id IN :keys", entities)
        ]
        return selection

    # -- reading -------------------------------------------------------------------
    def records(self, selection: Selection) -> Iterator[dict[str, Any]]:
        """The selected records: tasks, values, calls, cache entries, tree verdicts,
        executions, jobs, tags."""
        yield from self._simple("Task", selection.tasks)
        for chunk in _chunks(selection.values):
            yield from self._values(chunk)
        for chunk in _chunks(selection.calls):
            yield from self._calls(chunk)
        if selection.all_cache:
            yield from (make_record("Evaluation", row) for row in self.backend.query(_EVAL_SELECT))
        else:
            for chunk in _chunks(selection.calls):
                rows = self._query_in(f"{_EVAL_SELECT} WHERE call_hash IN :keys", chunk)
                yield from (make_record("Evaluation", row) for row in rows)
        yield from self._simple("TreeCheck", selection.calls)
        yield from self._simple("Execution", selection.executions)
        for chunk in _chunks(selection.jobs):
            yield from self._jobs(chunk)
        yield from (make_record("Tag", row) for row in selection.tags)

    def _select(self, kind: str) -> str:
        table = TABLE_OF[kind]
        columns = ", ".join(f'"{c}"' for c in bulk.COLUMNS[table])
        return f"SELECT {columns} FROM {table} WHERE {bulk.COLUMNS[table][0]} IN :keys"

    def _simple(self, kind: str, keys: Sequence[str]) -> Iterator[dict[str, Any]]:
        sql = self._select(kind)
        for chunk in _chunks(keys):
            for row in self._query_in(sql, chunk):
                yield make_record(kind, row)

    def _values(self, keys: Sequence[str]) -> Iterator[dict[str, Any]]:
        children: dict[str, list[str]] = {}
        for parent, child in self._query_in(
            "SELECT parent_hash, child_hash FROM redun_subvalue WHERE parent_hash IN :keys", keys
        ):
            children.setdefault(parent, []).append(child)
        files = {
            row[0]: dict(zip(("path", "file_hash", "size", "kind"), row[1:]))
            for row in self._query_in(
                'SELECT value_hash, path, file_hash, "size", kind FROM redun_file '
                "WHERE value_hash IN :keys",
                keys,
            )
        }
        store = self.backend.value_store
        for row in self._query_in(self._select("Value"), keys):
            record = make_record("Value", row)
            value_hash = record["hash"]
            if record["location"] == "store" and record["data"] is None:
                try:
                    record["data"] = store.read_bytes(value_hash)
                except (OSError, FileNotFoundError):
                    record["missing"] = True
                    self.missing_bytes += 1
            record["subvalues"] = sorted(children.get(value_hash, []))
            record["file"] = files.get(value_hash)
            yield record

    def _calls(self, keys: Sequence[str]) -> Iterator[dict[str, Any]]:
        args: dict[str, dict[str, str]] = {}
        for call_hash, name, value_hash in self._query_in(
            "SELECT call_hash, name, value_hash FROM redun_argument WHERE call_hash IN :keys", keys
        ):
            args.setdefault(call_hash, {})[name] = value_hash
        children: dict[str, list[tuple[int, str]]] = {}
        for parent, position, child in self._query_in(
            "SELECT parent_call_hash, position, child_call_hash FROM redun_call_edge "
            "WHERE parent_call_hash IN :keys",
            keys,
        ):
            children.setdefault(parent, []).append((position, child))
        for row in self._query_in(self._select("CallNode"), keys):
            call_hash = row[0]
            yield make_record(
                "CallNode",
                row,
                args=args.get(call_hash, {}),
                children=[child for _, child in sorted(children.get(call_hash, []))],
            )

    def _jobs(self, keys: Sequence[str]) -> Iterator[dict[str, Any]]:
        logs: dict[str, list[list[Any]]] = {}
        for job_id, position, stream, text in self._query_in(
            "SELECT job_id, position, stream, text FROM redun_job_log WHERE job_id IN :keys", keys
        ):
            logs.setdefault(job_id, []).append([position, stream, text])
        for row in self._query_in(self._select("Job"), keys):
            job_id = row[0]
            yield make_record("Job", row, log=sorted(logs.get(job_id, [])))


_TAG_SELECT = 'SELECT entity_type, entity_id, "key", "value" FROM redun_tag'
_EVAL_SELECT = "SELECT eval_hash, call_hash, time FROM redun_evaluation"


class RecordWriter:
    """Writes records into a store: one transaction, idempotent, counted.

    Args:
        backend: the target store (loaded).
        batch_records: records per batch of rows.
    """

    def __init__(self, backend: DbBackend, *, batch_records: int = BATCH_RECORDS) -> None:
        self.backend = backend
        self.batch_records = batch_records
        self.store = backend.value_store

    def write(self, records: Iterable[dict[str, Any] | None]) -> Counts:
        """Write ``records`` (None entries are skipped); all of them or, on any error,
        none.

        Raises:
            BackendError: the database refused them (the message names the URL).
            Whatever iterating ``records`` raises (e.g. a line that is not a record).
        """
        from sqlalchemy.exc import SQLAlchemyError

        from redun.backends.engine import backend_error, write_transaction

        counts = Counts()
        try:
            with write_transaction(self.backend.engine) as conn:
                chunk: list[dict[str, Any]] = []
                for record in records:
                    if record is None:
                        continue
                    chunk.append(record)
                    if len(chunk) >= self.batch_records:
                        self._write_chunk(conn, chunk, counts)
                        chunk = []
                if chunk:
                    self._write_chunk(conn, chunk, counts)
        except SQLAlchemyError as exc:
            raise backend_error("writing to", self.backend.db_uri, exc) from exc
        return counts

    # -- one batch ----------------------------------------------------------------
    def _write_chunk(self, conn: Connection, records: list[dict[str, Any]], counts: Counts) -> None:
        by_kind: dict[str, list[dict[str, Any]]] = {kind: [] for kind in TABLE_OF}
        for record in records:
            by_kind[record["_type"]].append(record)
        batch = bulk.Batch()
        self._add_plain(conn, batch, counts, by_kind["Task"], "redun_task", "hash")
        self._add_values(conn, batch, counts, by_kind["Value"])
        self._add_calls(conn, batch, counts, by_kind["CallNode"])
        self._add_evaluations(conn, batch, counts, by_kind["Evaluation"])
        self._add_plain(conn, batch, counts, by_kind["TreeCheck"], "redun_tree_check", "call_hash")
        self._add_executions(conn, batch, counts, by_kind["Execution"])
        self._add_jobs(conn, batch, counts, by_kind["Job"])
        self._add_tags(conn, batch, counts, by_kind["Tag"])
        bulk.write_batch(conn, batch)

    def _existing(
        self, conn: Connection, table: str, key: str, keys: list[Any], columns: str = ""
    ) -> dict[Any, tuple]:
        """Rows of ``table`` (``key`` and ``columns``) whose ``key`` is one of ``keys``."""
        import sqlalchemy as sa

        found: dict[Any, tuple] = {}
        unique = list(dict.fromkeys(keys))
        select = f'"{key}"' + (f", {columns}" if columns else "")
        statement = sa.text(f'SELECT {select} FROM {table} WHERE "{key}" IN :keys').bindparams(
            sa.bindparam("keys", expanding=True)
        )
        for chunk in _chunks(unique):
            for row in conn.execute(statement, {"keys": list(chunk)}):
                found[row[0]] = tuple(row[1:])
        return found

    def _fresh(
        self,
        conn: Connection,
        counts: Counts,
        records: list[dict[str, Any]],
        table: str,
        key: str,
    ) -> list[dict[str, Any]]:
        """The records whose key the store lacks (each key once)."""
        if not records:
            return []
        have = self._existing(conn, table, key, [r[key] for r in records])
        fresh: dict[str, dict[str, Any]] = {}
        for record in records:
            if record[key] in have or record[key] in fresh:
                counts.present += 1
            else:
                fresh[record[key]] = record
        return list(fresh.values())

    def _add_plain(
        self,
        conn: Connection,
        batch: bulk.Batch,
        counts: Counts,
        records: list[dict[str, Any]],
        table: str,
        key: str,
    ) -> None:
        for record in self._fresh(conn, counts, records, table, key):
            batch.add(table, main_row(record))
            counts.add_new(record["_type"])

    def _add_values(
        self, conn: Connection, batch: bulk.Batch, counts: Counts, records: list[dict[str, Any]]
    ) -> None:
        store = self.store
        for record in self._fresh(conn, counts, records, "redun_value", "hash"):
            value_hash = record["hash"]
            data = record.get("data")
            if record.get("missing"):
                counts.missing_bytes += 1
            if record.get("location") == "store" and data is not None:
                # Bytes from another value store: into this one when it keeps large
                # values, else inline.
                if store.root and len(data) > store.inline_max_bytes:
                    try:
                        if not store.exists(value_hash):
                            store.put_bytes(value_hash, data)
                    except OSError as error:
                        raise BackendError(
                            f"the value store {store.root} could not keep value "
                            f"{value_hash[:12]}: {error}"
                        ) from error
                    record = {**record, "data": None}
                else:
                    record = {**record, "location": "inline"}
            batch.add("redun_value", main_row(record))
            for child in record.get("subvalues") or []:
                batch.add("redun_subvalue", (value_hash, child))
            file = record.get("file")
            if file:
                batch.add(
                    "redun_file",
                    (
                        value_hash,
                        file["path"],
                        file.get("file_hash"),
                        file.get("size"),
                        file.get("kind"),
                    ),
                )
            counts.add_new("Value")

    def _add_calls(
        self, conn: Connection, batch: bulk.Batch, counts: Counts, records: list[dict[str, Any]]
    ) -> None:
        for record in self._fresh(conn, counts, records, "redun_call_node", "call_hash"):
            call_hash = record["call_hash"]
            batch.add("redun_call_node", main_row(record))
            for name, value_hash in (record.get("args") or {}).items():
                batch.add("redun_argument", (call_hash, name, value_hash))
            for position, child in enumerate(record.get("children") or []):
                batch.add("redun_call_edge", (call_hash, position, child))
            counts.add_new("CallNode")

    def _add_evaluations(
        self, conn: Connection, batch: bulk.Batch, counts: Counts, records: list[dict[str, Any]]
    ) -> None:
        # The cache keeps the newest call of an evaluation: an older one does not replace it.
        have = self._existing(
            conn,
            "redun_evaluation",
            "eval_hash",
            [r["eval_hash"] for r in records],
            "call_hash, time",
        )
        for record in records:
            eval_hash = record["eval_hash"]
            old = have.get(eval_hash)
            if old is not None and (
                old[0] == record["call_hash"] or (old[1] or 0) >= (record.get("time") or 0)
            ):
                counts.present += 1
                continue
            have[eval_hash] = (record["call_hash"], record.get("time"))
            batch.add("redun_evaluation", main_row(record))
            if old is None:
                counts.add_new("Evaluation")
            else:
                counts.updated += 1

    def _add_executions(
        self, conn: Connection, batch: bulk.Batch, counts: Counts, records: list[dict[str, Any]]
    ) -> None:
        have = self._existing(conn, "redun_execution", "id", [r["id"] for r in records], "status")
        for record in records:
            old = have.get(record["id"])
            if old is None:
                batch.add("redun_execution", main_row(record))
                have[record["id"]] = (record.get("status"),)
                counts.add_new("Execution")
            elif old[0] not in _FINAL_EXECUTION and record.get("status") != old[0]:
                # Still running there when last copied: it has finished since.
                columns = bulk.COLUMNS["redun_execution"]
                update = {c: record.get(c) for c in columns if c != "id"}
                batch.execution_updates.append({"id": record["id"], **update})
                have[record["id"]] = (record.get("status"),)
                counts.updated += 1
            else:
                counts.present += 1

    def _add_jobs(
        self, conn: Connection, batch: bulk.Batch, counts: Counts, records: list[dict[str, Any]]
    ) -> None:
        have = self._existing(conn, "redun_job", "id", [r["id"] for r in records], "state")
        for record in records:
            job_id = record["id"]
            old = have.get(job_id)
            if old is not None and (old[0] in bulk.FINAL_JOB_STATES or old[0] == record["state"]):
                counts.present += 1
                continue
            have[job_id] = (record.get("state"),)
            batch.append("redun_job", main_row(record))
            for position, stream, text in record.get("log") or []:
                batch.add("redun_job_log", (job_id, position, stream, text))
            if old is None:
                counts.add_new("Job")
            else:
                counts.updated += 1

    def _add_tags(
        self, conn: Connection, batch: bulk.Batch, counts: Counts, records: list[dict[str, Any]]
    ) -> None:
        if not records:
            return
        import sqlalchemy as sa

        statement = sa.text(f"{_TAG_SELECT} WHERE entity_id IN :keys").bindparams(
            sa.bindparam("keys", expanding=True)
        )
        have: set[tuple] = set()
        entities = list(dict.fromkeys(r["entity_id"] for r in records))
        for chunk in _chunks(entities):
            have.update(tuple(row) for row in conn.execute(statement, {"keys": list(chunk)}))
        for record in records:
            row = main_row(record)
            if row in have:
                counts.present += 1
                continue
            have.add(row)
            batch.add("redun_tag", row)
            counts.add_new("Tag")


def copy_new_records(
    source: DbBackend, target: DbBackend, execution_ids: Sequence[str] | None = None
) -> tuple[Counts, int]:
    """Copy into ``target`` what it lacks of ``source`` (of ``execution_ids``, else all):
    ``(counts, executions sent)``."""
    reader = RecordReader(source)
    target_reader = RecordReader(target)
    theirs = dict(target_reader.execution_ids())
    if execution_ids is None:
        wanted = [
            execution_id
            for execution_id, status in reader.execution_ids()
            if execution_id not in theirs
            or (theirs[execution_id] not in _FINAL_EXECUTION and status != theirs[execution_id])
        ]
    else:
        wanted = list(execution_ids)

    def known(kind: str, keys: list[str]) -> set[str]:
        table, column = _KNOWN[kind]
        return {
            row[0]
            for row in target.query_in(
                f"SELECT {column} FROM {table} WHERE {column} IN :keys", "keys", keys
            )
        }

    selection = reader.closure(wanted, known)
    if execution_ids is None:
        # Tags added since the last push (on records the target has) go too.
        selection.tags = [tuple(row) for row in source.query(_TAG_SELECT)]
    if not selection.executions and not selection.tags:
        return Counts(), 0
    counts = RecordWriter(target).write(reader.records(selection))
    return counts, len(selection.executions)


_KNOWN = {
    "call": ("redun_call_node", "call_hash"),
    "value": ("redun_value", "hash"),
    "task": ("redun_task", "hash"),
}
