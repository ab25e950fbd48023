"""Lineage: which job produced a value or file, from which inputs, and who used it.

:func:`lineage` takes a file path, a :class:`~redun.file.File`, or a value
hash (or a unique prefix of one) and returns a :class:`Lineage`: the value,
the job that produced it, that job's inputs traced back the same way to raw
inputs (values no recorded job produced: command-line arguments, literals,
files that existed before the workflow), and the jobs that consumed it.

Inputs are traced through the call graph of the producing execution: an
argument of a job comes from a *sibling* job (same parent) that finished
before the job was created and whose result is, or holds, that value; failing
that, from an argument of the parent job, which is traced at the parent's
level in turn.

Example::

    from redun.lineage import lineage
    info = lineage(backend, "report.txt")
    print(info.node.producer.task_name, [i.name for i in info.node.inputs])
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from redun.errors import UsageError

if TYPE_CHECKING:
    from redun.backends.queries import (
        CallRecordInfo,
        FileRecord,
        JobRecord,
        StoreReader,
        ValueRecord,
    )

__all__ = ["JobRef", "Lineage", "LineageNode", "lineage"]

_HEXISH = re.compile(r"^[0-9a-f]{6,40}$")
_MAX_ASSEMBLED_BYTES = 8 * 1024 * 1024  # containers larger than this are not unpacked


@dataclass
class JobRef:
    """A job, briefly: enough to find it with ``redun log JOB_ID``."""

    id: str
    task_name: str
    execution_id: str
    call_hash: str | None
    state: str
    cached: bool
    start_time: float | None
    end_time: float | None
    arguments: dict[str, str] = field(default_factory=dict)
    via: list[str] = field(default_factory=list)  # for a consumer: the arguments it came in


@dataclass
class LineageNode:
    """A value in the lineage graph.

    Attributes:
        name: how it is known here (``result``, or the argument name it was passed as).
        value: the recorded value (type, preview, file).
        producer: the job that produced it (None for a raw input).
        inputs: the producer's arguments, each traced in turn.
        origin: for a raw input, where it came from (e.g. ``argument n of main``).
        consumers: jobs that took it as an argument (filled for the top value).
    """

    name: str
    value: ValueRecord
    producer: JobRef | None = None
    inputs: list[LineageNode] = field(default_factory=list)
    origin: str = ""
    consumers: list[JobRef] = field(default_factory=list)

    @property
    def is_raw(self) -> bool:
        return self.producer is None and not self.inputs

    def raw_inputs(self) -> list[LineageNode]:
        """The leaves: values no recorded job produced."""
        found: list[LineageNode] = []
        stack = [self]
        while stack:
            node = stack.pop()
            if node.is_raw:
                found.append(node)
            stack.extend(reversed(node.inputs))
        return found

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Lineage:
    """The answer of :func:`lineage`.

    Attributes:
        target: what was asked about.
        node: the value's lineage.
        other_versions: other recorded versions of the same file path (value records).
    """

    target: str
    node: LineageNode
    other_versions: list[ValueRecord] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def lineage(backend: Any, target: Any, *, depth: int = 20) -> Lineage:
    """The lineage of a file path, ``File``, or value hash (prefix) recorded in ``backend``.

    Args:
        backend: a :class:`~redun.backends.db.DbBackend`.
        target: a path (as given to ``File``, or absolute), a ``File``, or a value hash.
        depth: how many producer levels to follow upstream.

    Raises:
        UsageError: nothing recorded matches ``target``, or a hash prefix is ambiguous.
    """
    from redun.backends.queries import StoreReader

    if not hasattr(backend, "query"):
        raise UsageError("lineage needs a database backend ([backend] db_uri)")
    reader = StoreReader(backend)
    tracer = _Tracer(reader, depth)
    value_hash, others, label = tracer.resolve(target)
    node = tracer.trace(value_hash, "value")
    node.consumers = tracer.consumers(value_hash)
    return Lineage(label, node, others)


class _Tracer:
    """Walks the graph with batched queries: one level of producers at a time."""

    def __init__(self, reader: StoreReader, depth: int) -> None:
        self.reader = reader
        self.depth = depth
        self._jobs: dict[str, JobRecord] = {}
        self._executions_loaded: set[str] = set()
        self._siblings: dict[
            tuple[str, str | None], dict[str, list[tuple[JobRecord, CallRecordInfo]]]
        ] = {}
        self._calls: dict[str, CallRecordInfo] = {}
        self._values: dict[str, ValueRecord] = {}
        self._containers: dict[str, list[str]] = {}

    # -- target ------------------------------------------------------------------
    def resolve(self, target: Any) -> tuple[str, list[ValueRecord], str]:
        reader = self.reader
        if hasattr(target, "path") and hasattr(target, "hash") and not isinstance(target, str):
            from redun.hashing import hash_value

            value_hash = hash_value(target)
            if reader.values([value_hash]):
                return value_hash, [], str(target.path)
            target = str(target.path)
        text = str(target)
        if _HEXISH.match(text):
            matches = [full for kind, full in reader.find_id(text) if kind == "value"]
            if len(matches) == 1:
                return matches[0], [], f"value {matches[0]}"
            if len(matches) > 1:
                raise UsageError(f"value hash {text!r} is ambiguous: {', '.join(matches)}")
        records = reader.files_by_path(_path_variants(text))
        if not records:
            raise UsageError(
                f"no recorded file or value matches {text!r} (paths are matched as "
                "given to File(), relative to where the workflow ran, or absolute)"
            )
        return self._newest_version(records, text)

    def _newest_version(
        self, records: list[FileRecord], text: str
    ) -> tuple[str, list[ValueRecord], str]:
        hashes = [record.value_hash for record in records]
        containers = self.containers(hashes)
        holders = {h: [h, *containers.get(h, [])] for h in hashes}
        calls = self.reader.calls_with_result([h for hs in holders.values() for h in hs])
        newest: dict[str, float] = {}
        for call in calls:
            for value_hash, held in holders.items():
                if call.result_hash in held:
                    newest[value_hash] = max(newest.get(value_hash, 0.0), call.time or 0.0)
        # A version no job produced (an input file) is as new as its latest use.
        unproduced = {v: h for h in hashes if h not in newest for v in holders[h]}
        if unproduced:
            uses = self.reader.query_in(
                "SELECT call_hash, value_hash FROM redun_argument WHERE value_hash IN :hashes",
                "hashes",
                sorted(unproduced),
            )
            taking = self.calls(sorted({call_hash for call_hash, _ in uses}))
            for call_hash, held_hash in uses:
                user = taking.get(call_hash)
                if user is not None:
                    version = unproduced[held_hash]
                    newest[version] = max(newest.get(version, 0.0), user.time or 0.0)
        ordered = sorted(hashes, key=lambda h: newest.get(h, 0.0), reverse=True)
        values = self.value_records(ordered)
        others = [values[h] for h in ordered[1:] if h in values]
        return ordered[0], others, text

    # -- tracing -------------------------------------------------------------------
    def trace(self, value_hash: str, name: str) -> LineageNode:
        value = self.value_records([value_hash]).get(value_hash) or _unknown(value_hash)
        node = LineageNode(name, value)
        producer = self.producer_of(value_hash)
        if producer is None:
            node.origin = "not produced by any recorded job"
            return node
        node.producer = producer
        self._expand(node, producer)
        return node

    def _expand(self, node: LineageNode, producer: JobRef) -> None:
        # Breadth first, one level per round of batched queries; never recursive.
        frontier: list[tuple[LineageNode, JobRef]] = [(node, producer)]
        seen: set[tuple[str, str]] = set()
        for _ in range(self.depth):
            if not frontier:
                return
            hashes = [h for _, job in frontier for h in job.arguments.values()]
            values = self.value_records(hashes)
            self.containers(hashes)
            self.load_jobs([job.id for _, job in frontier])
            next_frontier: list[tuple[LineageNode, JobRef]] = []
            for current, job in frontier:
                for arg_name, arg_hash in job.arguments.items():
                    child = LineageNode(arg_name, values.get(arg_hash) or _unknown(arg_hash))
                    current.inputs.append(child)
                    upstream, origin = self.upstream(job, arg_hash)
                    if upstream is not None:
                        child.producer = upstream
                        if (upstream.id, arg_hash) in seen:
                            child.origin = "(already shown above)"
                        else:
                            seen.add((upstream.id, arg_hash))
                            next_frontier.append((child, upstream))
                        continue
                    parts = self.assembled_from(job, arg_hash, child.value)
                    if not parts:
                        child.origin = origin
                        continue
                    child.origin = f"assembled from the results of {len(parts)} job(s)"
                    part_values = self.value_records([part_hash for _, part_hash, _ in parts])
                    for key, part_hash, part_producer in parts:
                        part = LineageNode(
                            key, part_values.get(part_hash) or _unknown(part_hash), part_producer
                        )
                        child.inputs.append(part)
                        if (part_producer.id, part_hash) not in seen:
                            seen.add((part_producer.id, part_hash))
                            next_frontier.append((part, part_producer))
            frontier = next_frontier
        for current, _ in frontier:
            current.origin = "(lineage deeper than the depth limit)"

    def producer_of(self, value_hash: str) -> JobRef | None:
        """The job that computed ``value_hash``: the deepest call with it as (part of) its result."""
        reader = self.reader
        held_by = [value_hash, *self.containers([value_hash]).get(value_hash, [])]
        calls = reader.calls_with_result(held_by)
        if not calls:
            return None
        producing = {call.call_hash for call in calls}
        children = reader.child_calls(sorted(producing))
        # A parent that returns its child's result is not the producer: the child is.
        deepest = [c for c in calls if not (set(children.get(c.call_hash, [])) & producing)]
        # Prefer the call whose result is exactly the value over one that holds it.
        deepest.sort(key=lambda c: (c.result_hash == value_hash, c.time or 0.0), reverse=True)
        for call in deepest or calls:
            job = reader.producing_job(call.call_hash)
            if job is not None:
                self._calls[call.call_hash] = call
                return self._ref(job, call)
        return None

    def upstream(self, job: JobRef, value_hash: str) -> tuple[JobRef | None, str]:
        """Where argument ``value_hash`` of ``job`` came from: a sibling job, or the parent."""
        level = self.job_record(job.id)
        holders = [value_hash, *self._containers.get(value_hash, [])]
        while level is not None:
            found = self._producer_among(level, holders)
            if found is not None:
                return found, ""
            if level.parent_id is None:
                return None, f"an argument of the workflow's root task {level.task_name}"
            parent = self.job_record(level.parent_id)
            if parent is None:
                return None, "made by a job that was not recorded"
            if value_hash not in self._arguments_of(parent).values():
                return None, f"made inside task {parent.task_name} (job {parent.id[:8]})"
            level = parent
        return None, "unknown"

    def _producer_among(self, consumer: JobRecord, holders: list[str]) -> JobRef | None:
        # Causality settles coincidences (a sibling whose result merely equals the
        # value): a job is created once its arguments are known, so its producer
        # finished before it started.
        index = self.sibling_index(consumer)
        start = consumer.start_time
        for result_hash in holders:
            for sibling, call in index.get(result_hash, ()):
                if sibling.id == consumer.id:
                    continue
                if start is not None and (sibling.end_time is None or sibling.end_time > start):
                    continue
                producer = self.reader.producing_job(call.call_hash) if sibling.cached else sibling
                return self._ref(producer or sibling, call)
        return None

    def assembled_from(
        self, job: JobRef, value_hash: str, record: ValueRecord
    ) -> list[tuple[str, str, JobRef]]:
        """For a list, tuple, set or dict argument: the sibling jobs whose results are in it."""
        if record.type_name not in ("list", "tuple", "dict", "set", "frozenset"):
            return []
        if record.size is not None and record.size > _MAX_ASSEMBLED_BYTES:
            return []
        try:
            container = self.reader.load_value(value_hash)
        except Exception:
            return []
        from redun.hashing import hash_value

        items = container.items() if isinstance(container, dict) else enumerate(container)
        by_hash: dict[str, str] = {}
        for key, item in items:
            try:
                by_hash.setdefault(hash_value(item), f"[{key!r}]")
            except Exception:
                continue
        consumer = self.job_record(job.id)
        if consumer is None:
            return []
        index = self.sibling_index(consumer)
        start = consumer.start_time
        parts: list[tuple[str, str, JobRef]] = []
        for result_hash, key in by_hash.items():
            for sibling, call in index.get(result_hash, ()):
                if sibling.id == consumer.id or sibling.end_time is None:
                    continue
                if start is not None and sibling.end_time > start:
                    continue
                parts.append((key, result_hash, self._ref(sibling, call)))
                break
        return parts

    def consumers(self, value_hash: str) -> list[JobRef]:
        reader = self.reader
        held_by = [value_hash, *self.containers([value_hash]).get(value_hash, [])]
        by_call = reader.calls_with_argument(held_by)
        if not by_call:
            return []
        calls = self.calls(list(by_call))
        jobs = reader.jobs_for_calls(list(by_call))
        refs = []
        for call_hash in by_call:
            made = jobs.get(call_hash, [])
            ran = [j for j in made if not j.cached] or made
            if ran and call_hash in calls:
                ref = self._ref(ran[0], calls[call_hash])
                ref.via = sorted(by_call[call_hash])
                refs.append(ref)
        refs.sort(key=lambda ref: ref.start_time or 0.0)
        return refs

    # -- cached, batched lookups ------------------------------------------------------
    def load_jobs(self, job_ids: list[str]) -> None:
        """Load the executions of these jobs (every job of each, in one query)."""
        missing = [i for i in job_ids if i not in self._jobs]
        if missing:
            self._jobs.update(self.reader.jobs(missing))
        for job_id in job_ids:
            record = self._jobs.get(job_id)
            if record is not None and record.execution_id not in self._executions_loaded:
                self._executions_loaded.add(record.execution_id)
                for other in self.reader.jobs_of_execution(record.execution_id):
                    self._jobs.setdefault(other.id, other)

    def job_record(self, job_id: str) -> JobRecord | None:
        if job_id not in self._jobs:
            self.load_jobs([job_id])
        return self._jobs.get(job_id)

    def sibling_index(self, job: JobRecord) -> dict[str, list[tuple[JobRecord, CallRecordInfo]]]:
        """``{result hash: [(job, call)]}`` of the jobs sharing ``job``'s parent."""
        key = (job.execution_id, job.parent_id)
        index = self._siblings.get(key)
        if index is None:
            self.load_jobs([job.id])
            siblings = [
                j
                for j in self._jobs.values()
                if j.execution_id == job.execution_id and j.parent_id == job.parent_id
                and j.call_hash
            ]  # fmt: skip
            calls = self.calls([j.call_hash for j in siblings if j.call_hash])
            index = {}
            for sibling in sorted(siblings, key=lambda j: (j.cached, j.start_time or 0.0)):
                call = calls.get(sibling.call_hash or "")
                if call is not None:
                    index.setdefault(call.result_hash, []).append((sibling, call))
            self._siblings[key] = index
        return index

    def calls(self, call_hashes: list[str]) -> dict[str, CallRecordInfo]:
        missing = [h for h in call_hashes if h not in self._calls]
        if missing:
            self._calls.update(self.reader.calls(missing))
        return {h: self._calls[h] for h in call_hashes if h in self._calls}

    def value_records(self, value_hashes: list[str]) -> dict[str, ValueRecord]:
        missing = [h for h in value_hashes if h not in self._values]
        if missing:
            self._values.update(self.reader.values(missing))
        return {h: self._values[h] for h in value_hashes if h in self._values}

    def containers(self, value_hashes: list[str]) -> dict[str, list[str]]:
        missing = [h for h in value_hashes if h not in self._containers]
        if missing:
            found = self.reader.containers_of(missing)
            for value_hash in missing:
                self._containers[value_hash] = found.get(value_hash, [])
        return {h: self._containers[h] for h in value_hashes}

    def _arguments_of(self, job: JobRecord) -> dict[str, str]:
        if job.call_hash:
            call = self.calls([job.call_hash]).get(job.call_hash)
            if call is not None:
                return call.arguments
        return dict(job.arg_hashes or {})

    def _ref(self, job: JobRecord, call: CallRecordInfo) -> JobRef:
        return JobRef(
            job.id,
            job.task_name,
            job.execution_id,
            job.call_hash,
            job.state,
            job.cached,
            job.start_time,
            job.end_time,
            dict(call.arguments),
        )


def _unknown(value_hash: str) -> ValueRecord:
    from redun.backends.queries import ValueRecord

    return ValueRecord(value_hash, None, None, None, None)


def _path_variants(path: str) -> list[str]:
    variants = [path, os.path.normpath(path), os.path.abspath(path)]
    try:
        variants.append(os.path.relpath(os.path.abspath(path)))
    except ValueError:
        pass
    if path.startswith("./"):
        variants.append(path[2:])
    return list(dict.fromkeys(variants))
