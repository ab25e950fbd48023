"""The read-only data source: a redun database, browsed without a daemon.

Reads through the SDK's read API (:class:`redun.backends.queries.StoreReader`,
:func:`redun.lineage.lineage`, :func:`redun.explain.explain_job`) and plain
``SELECT`` queries; it never migrates or writes. Events, logs and watches are
the daemon's, so here an execution is a snapshot and actions are refused.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

from redun_tui.data.model import (
    FINAL_STATUSES,
    ExecutionInfo,
    FileInfo,
    JobDetail,
    JobInfo,
    LineageEdge,
    LineageGraph,
    LineageNode,
    LogChunk,
    RunRequest,
    SearchHit,
    TaskInfo,
    TaskVersion,
    ValuePreview,
    WatchInfo,
)
from redun_tui.data.source import DataSource, Subscription

_SUMMARY_CHARS = 80
_LONG_REPR_CHARS = 4000
_SEARCH_LIMIT = 30


def database_uri(home: str) -> tuple[str, dict[str, Any]]:
    """The database URL and ``[backend]`` section of a redun home (as ``redun run`` uses it)."""
    from redun.config import load_config

    config = load_config(home, create=False)
    section = dict(config.get("backend") or {})
    uri = os.environ.get("REDUN_DB_URI") or section.get("db_uri")
    if not uri:
        uri = f"sqlite:///{os.path.join(os.path.abspath(home), 'redun.db')}"
    return uri, section


def request_from_argv(argv: list[str], cwd: str | None) -> RunRequest:
    """``["redun", "run", "flow.py", "main", "--n", "3"]`` -> a :class:`RunRequest`."""
    rest = list(argv)
    for verb in ("run", "submit"):
        if verb in rest[:4]:
            rest = rest[rest.index(verb) + 1 :]
            break
    while rest and rest[0].startswith("-"):
        rest.pop(0)  # options of `redun run` before the file (rare)
    path = rest[0] if rest else ""
    task = rest[1] if len(rest) > 1 else ""
    return RunRequest(workflow_path=path, task=task, argv=rest[2:], working_dir=cwd or "")


def _summary(arguments: dict[str, str], previews: dict[str, str]) -> str:
    parts = []
    for name, value_hash in arguments.items():
        preview = previews.get(value_hash, "?")
        parts.append(preview if name.isdigit() else f"{name}={preview}")
    text = ", ".join(parts)
    return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 1] + "…"


class DbSource(DataSource):
    """Browse the database of a redun home (or a URL) read-only.

    Args:
        uri: a SQLAlchemy URL of a redun database.
        config: its ``[backend]`` section.
        home: the redun home it belongs to (for messages).

    Raises:
        BackendError: no database there, or it cannot be read.
    """

    live = False

    def __init__(self, uri: str, config: dict[str, Any] | None = None, *, home: str | None = None):
        from redun.backends.db import DbBackend
        from redun.backends.queries import StoreReader
        from redun.errors import BackendError

        section = dict(config or {})
        section["automigrate"] = "false"
        backend = DbBackend(uri, section)
        path = backend.sqlite_file()
        if path is not None and not os.path.exists(path):
            raise BackendError(f"no redun database at {path}: run a workflow first")
        backend.load(migrate=False)
        self.backend = backend
        self.reader = StoreReader(backend)
        self.home = home
        self.description = f"{path or uri} (read-only)"
        self._lock = threading.Lock()

    @classmethod
    def for_home(cls, home: str) -> DbSource:
        uri, section = database_uri(home)
        return cls(uri, section, home=home)

    def _query(self, sql: str, **params: Any) -> list[Any]:
        with self._lock:
            return self.backend.query(sql, **params)

    # -- runs ---------------------------------------------------------------------
    def _execution_info(self, record: Any, counts: dict[str, int]) -> ExecutionInfo:
        status = record.status or "running"
        return ExecutionInfo(
            id=record.id,
            status=status,
            request=request_from_argv(record.argv, record.cwd),
            start=record.start_time,
            end=record.end_time,
            root_job_id=record.root_job_id or "",
            counts=counts,
            total=sum(counts.values()),
            error=record.error or "",
            watch_id=str(record.tags.get("watch_id", "")) if record.tags else "",
        )

    def executions(self, limit: int = 200) -> list[ExecutionInfo]:
        with self._lock:
            records = self.reader.executions(limit=limit)
            counts = self.reader.job_counts([record.id for record in records])
        return [self._execution_info(r, counts.get(r.id, {})) for r in records]

    def execution(self, execution_id: str) -> ExecutionInfo:
        from redun.errors import UsageError

        with self._lock:
            record = self.reader.execution(execution_id)
            if record is None:
                raise UsageError(f"no execution {execution_id} in {self.description}")
            counts = self.reader.job_counts([execution_id]).get(execution_id, {})
        info = self._execution_info(record, counts)
        if info.root_job_id and info.status == "done":
            job = self.reader.job(info.root_job_id)
            if job is not None and job.call_hash:
                call = self.reader.call(job.call_hash)
                if call is not None:
                    info.result = self._previews([call.result_hash]).get(call.result_hash)
        return info

    def _jobs(self, execution_id: str) -> list[JobInfo]:
        with self._lock:
            records = self.reader.jobs_of_execution(execution_id)
            calls = self.reader.calls([r.call_hash for r in records if r.call_hash])
        arguments = {
            record.id: (
                calls[record.call_hash].arguments
                if record.call_hash in calls
                else dict(record.arg_hashes or {})
            )
            for record in records
        }
        hashes = sorted({h for args in arguments.values() for h in args.values()})
        previews = {h: preview.repr for h, preview in self._previews(hashes).items()}
        return [
            JobInfo(
                id=record.id,
                execution_id=record.execution_id,
                task=record.task_name,
                state=record.state,
                parent_id=record.parent_id or "",
                executor=record.executor or "",
                cached=record.cached,
                reason=record.reason or "",
                args_summary=_summary(arguments[record.id], previews),
                call_hash=record.call_hash or "",
                task_hash=record.task_hash or "",
                start=record.start_time,
                end=record.end_time,
                duration=record.duration,
                error=record.error or "",
                traceback=record.traceback or "",
            )
            for record in records
        ]

    def jobs(self, execution_id: str) -> list[JobInfo]:
        return self._jobs(execution_id)

    def follow_execution(self, execution_id: str) -> Subscription[dict[str, Any]]:
        """The execution as recorded (read when iterated, in a worker)."""
        return Subscription(self._recorded(execution_id))

    def _recorded(self, execution_id: str) -> Iterator[list[dict[str, Any]]]:
        info = self.execution(execution_id)
        events: list[dict[str, Any]] = [
            {
                "type": "job_state",
                "execution_id": execution_id,
                "job_id": job.id,
                "parent_job_id": job.parent_id or None,
                "task": job.task,
                "state": job.state,
                "executor": job.executor,
                "cached": job.cached,
                "reason": job.reason,
                "call_hash": job.call_hash,
                "duration": job.duration or 0.0,
                "args_summary": job.args_summary,
                "time": job.end or job.start or 0.0,
                "error": job.error or None,
                "traceback": job.traceback,
            }
            for job in self._jobs(execution_id)
        ]
        if info.status in FINAL_STATUSES:
            events.append(
                {
                    "type": "execution_finished",
                    "execution_id": execution_id,
                    "status": info.status,
                    "error": info.error or None,
                    "time": info.end or 0.0,
                }
            )
        yield events

    def follow_all(self) -> Subscription[dict[str, Any]]:
        return Subscription([])

    def job(self, job_id: str) -> JobDetail:
        from redun.errors import UsageError

        with self._lock:
            record = self.reader.job(job_id)
        if record is None:
            raise UsageError(f"no job {job_id} in {self.description}")
        info = next(job for job in self._jobs(record.execution_id) if job.id == job_id)
        detail = JobDetail(job=info, explanation=self.explain(job_id), tags=dict(record.tags))
        with self._lock:
            call = self.reader.call(record.call_hash) if record.call_hash else None
        arguments = call.arguments if call else dict(record.arg_hashes or {})
        hashes = list(arguments.values()) + ([call.result_hash] if call else [])
        previews = self._previews(hashes)
        detail.args = [
            (name, previews.get(value_hash, ValuePreview(hash=value_hash)))
            for name, value_hash in arguments.items()
        ]
        if call is not None and record.state in ("done", "cached"):
            detail.result = previews.get(call.result_hash, ValuePreview(hash=call.result_hash))
        return detail

    def job_tags(self, job_id: str) -> dict[str, Any]:
        """The job's recorded tags (none until its record is written)."""
        with self._lock:
            record = self.reader.job(job_id)
        return dict(record.tags) if record is not None else {}

    def explain(self, job_id: str) -> list[str]:
        """Why the job ran or hit the cache, as lines of text."""
        from redun.explain import explain_job

        try:
            with self._lock:
                explanation = explain_job(self.backend, job_id)
        except Exception as error:  # noqa: BLE001 - an explanation is a nicety
            return [f"(no explanation: {error})"]
        lines = [explanation.summary]
        if explanation.previous is not None:
            previous = explanation.previous
            lines.append(f"compared with call {previous.call_hash[:8]}")
        lines += [
            f"- {change.message}"
            for change in explanation.changes
            if change.message != explanation.summary
        ]
        return lines

    def logs(self, job_id: str, *, follow: bool) -> Subscription[LogChunk]:
        """The job's recorded output (the store keeps it once the job has ended).

        Read when iterated (in a worker), not when made.
        """

        def batches() -> Iterator[list[LogChunk]]:
            with self._lock:
                chunks = self.reader.job_log(job_id)
            if chunks:
                yield [LogChunk(text, stream) for stream, text in chunks]

        return Subscription(batches())

    def watches(self) -> list[WatchInfo]:
        return []

    # -- provenance ---------------------------------------------------------------------
    def _previews(self, hashes: list[str]) -> dict[str, ValuePreview]:
        if not hashes:
            return {}
        with self._lock:
            records = self.reader.values(hashes)
        return {h: _preview(record) for h, record in records.items()}

    def lineage(self, *, value_hash: str = "", file_path: str = "") -> LineageGraph:
        from redun.lineage import lineage

        with self._lock:
            info = lineage(self.backend, value_hash or file_path)
        graph = LineageGraph(root_id=info.node.value.hash)
        stack = [info.node]
        seen: set[str] = set()
        while stack:
            node = stack.pop()
            value = _preview(node.value)
            kind = "file" if value.file_path else "value"
            graph.nodes.setdefault(
                value.hash,
                LineageNode(value.hash, kind, value.file_path or value.repr, value=value),
            )
            key = f"{value.hash}:{node.producer.id if node.producer else ''}"
            if key in seen:
                continue
            seen.add(key)
            target = value.hash
            if node.producer is not None:
                producer = node.producer
                call_id = producer.call_hash or producer.id
                graph.nodes.setdefault(
                    call_id,
                    LineageNode(
                        call_id, "call", producer.task_name, task=producer.task_name,
                        job_id=producer.id,
                    ),
                )  # fmt: skip
                graph.edges.append(LineageEdge(call_id, value.hash, "result"))
                target = call_id
            for child in node.inputs:
                graph.edges.append(
                    LineageEdge(
                        child.value.hash,
                        target,
                        "argument" if node.producer is not None else "part",
                        child.name,
                    )
                )
                stack.append(child)
        for consumer in info.node.consumers:
            call_id = consumer.call_hash or consumer.id
            graph.nodes.setdefault(
                call_id,
                LineageNode(
                    call_id, "call", consumer.task_name, task=consumer.task_name,
                    job_id=consumer.id,
                ),
            )  # fmt: skip
            names = [n for n, h in consumer.arguments.items() if h == graph.root_id]
            graph.edges.append(
                LineageEdge(graph.root_id, call_id, "argument", names[0] if names else "")
            )
        return graph

    def tasks(self, query: str = "") -> list[TaskInfo]:
        rows = self._query(
            "SELECT t.hash, t.fullname, t.version, c.calls, c.last_used FROM redun_task t "
            "LEFT JOIN (SELECT task_hash, COUNT(*) AS calls, MAX(time) AS last_used "
            "FROM redun_call_node GROUP BY task_hash) c ON c.task_hash = t.hash "
            "WHERE t.fullname LIKE :pattern ORDER BY t.fullname",
            pattern=f"%{query}%",
        )
        tasks: dict[str, TaskInfo] = {}
        for task_hash, fullname, version, calls, last_used in rows:
            tasks.setdefault(fullname, TaskInfo(fullname)).versions.append(
                TaskVersion(task_hash, version or "", "", int(calls or 0), last_used)
            )
        for task in tasks.values():
            task.versions.sort(key=lambda v: v.last_used or 0.0, reverse=True)
        return list(tasks.values())

    def task(self, full_name: str) -> TaskInfo:
        from redun.errors import UsageError

        found = [t for t in self.tasks(full_name) if t.full_name == full_name]
        if not found:
            raise UsageError(f"no task {full_name} in {self.description}")
        task = found[0]
        with self._lock:
            records = self.reader.tasks([v.hash for v in task.versions])
        for version in task.versions:
            record = records.get(version.hash)
            version.source = (record.source or "") if record else ""
        return task

    def values(self, limit: int = 500) -> list[ValuePreview]:
        # Values carry no time of their own: list the results and arguments of the
        # newest calls, newest first.
        rows = self._query(
            "SELECT c.result_hash, a.value_hash FROM redun_call_node c "
            "LEFT JOIN redun_argument a ON a.call_hash = c.call_hash "
            "ORDER BY c.time DESC LIMIT :limit",
            limit=limit * 2,
        )
        hashes = list(dict.fromkeys(h for row in rows for h in row if h))[:limit]
        previews = self._previews(hashes)
        return [previews[h] for h in hashes if h in previews]

    def value(self, value_hash: str) -> ValuePreview:
        from redun.errors import UsageError

        preview = self._previews([value_hash]).get(value_hash)
        if preview is None:
            raise UsageError(f"no value {value_hash} in {self.description}")
        try:
            with self._lock:
                loaded = self.reader.load_value(value_hash)
            text = repr(loaded)
        except Exception:  # noqa: BLE001 - the preview will do
            return preview
        preview.repr = text[:_LONG_REPR_CHARS]
        preview.truncated = len(text) > _LONG_REPR_CHARS
        return preview

    def files(self, prefix: str = "") -> list[FileInfo]:
        rows = self._query(
            "SELECT value_hash, path, file_hash, size, kind FROM redun_file "
            "WHERE path LIKE :pattern ORDER BY path LIMIT 2000",
            pattern=f"{prefix}%",
        )
        return [
            FileInfo(path, value_hash, file_hash or "", int(size or 0), kind == "dir")
            for value_hash, path, file_hash, size, kind in rows
        ]

    def search(self, query: str) -> list[SearchHit]:
        query = query.strip()
        if not query:
            return []
        like, prefix = f"%{query}%", f"{query.lower()}%"
        hits: list[SearchHit] = []
        for row in self._query(
            "SELECT id, expr, argv FROM redun_execution WHERE id LIKE :prefix "
            "OR expr LIKE :like OR argv LIKE :like ORDER BY start_time DESC LIMIT :n",
            prefix=prefix, like=like, n=_SEARCH_LIMIT,
        ):  # fmt: skip
            hits.append(SearchHit("execution", row[0], row[1] or row[2] or row[0]))
        for row in self._query(
            "SELECT DISTINCT fullname FROM redun_task WHERE fullname LIKE :like LIMIT :n",
            like=like,
            n=_SEARCH_LIMIT,
        ):
            hits.append(SearchHit("task", row[0], row[0]))
        for row in self._query(
            "SELECT id, task_name, execution_id FROM redun_job WHERE id LIKE :prefix LIMIT :n",
            prefix=prefix,
            n=_SEARCH_LIMIT,
        ):
            hits.append(SearchHit("job", row[0], row[1] or row[0], f"execution {row[2][:8]}"))
        for row in self._query(
            "SELECT value_hash, path FROM redun_file WHERE path LIKE :like LIMIT :n",
            like=like,
            n=_SEARCH_LIMIT,
        ):
            hits.append(SearchHit("file", row[0], row[1]))
        for row in self._query(
            "SELECT hash, type_name, preview FROM redun_value WHERE hash LIKE :prefix "
            "OR preview LIKE :like LIMIT :n",
            prefix=prefix, like=like, n=_SEARCH_LIMIT,
        ):  # fmt: skip
            hits.append(SearchHit("value", row[0], row[2] or row[0], row[1] or ""))
        return hits

    def close(self) -> None:
        # Under the lock every read holds: closing the connections while a worker's
        # query runs on one of them crashes the interpreter (sqlite3 does not guard it).
        with self._lock:
            self.backend.close()


def _preview(record: Any) -> ValuePreview:
    file = record.file
    return ValuePreview(
        hash=record.hash,
        type_name=record.type_name or "",
        repr=record.preview or "",
        size=int(record.size or 0),
        file_path=file.path if file is not None else "",
    )
