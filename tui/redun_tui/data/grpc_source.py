"""The live data source: a daemon, through :class:`redun.client.Client` only.

A call an older daemon does not serve (``UNIMPLEMENTED``) is answered from the
home's database through a read-only :class:`~redun_tui.data.db_source.DbSource`,
when the database is reachable from here; a current daemon serves them all.

Each stream gets a client (a gRPC channel) of its own, so that closing the
:class:`Subscription` from the UI thread cancels the call and frees the
worker that iterates it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from redun.client import ClientError
from redun.client.convert import enum_name, error_text, event_to_dict, state_name, status_name
from redun.v1 import provenance_pb2, runs_pb2
from redun_tui.data.db_source import DbSource
from redun_tui.data.model import (
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

T = TypeVar("T")
_COUNT_FIELDS = ("pending", "queued", "running", "cached", "done", "failed", "cancelled")


def _seconds(ns: int) -> float | None:
    return ns / 1e9 if ns else None


def preview_of(message: Any) -> ValuePreview:
    return ValuePreview(
        hash=message.hash,
        type_name=message.type_name,
        repr=message.repr,
        truncated=message.repr_truncated,
        size=message.size,
        file_path=message.file_path,
    )


def request_of(spec: Any) -> RunRequest:
    return RunRequest(
        workflow_path=spec.workflow_path,
        task=spec.task,
        args=dict(spec.args),
        argv=list(spec.argv),
        working_dir=spec.working_dir,
        no_cache=spec.no_cache,
    )


def execution_of(message: Any) -> ExecutionInfo:
    counts = message.job_counts
    return ExecutionInfo(
        id=message.id,
        status=status_name(message.status),
        request=request_of(message.spec),
        start=_seconds(message.start_unix_ns),
        end=_seconds(message.end_unix_ns),
        root_job_id=message.root_job_id,
        counts={name: getattr(counts, name) for name in _COUNT_FIELDS if getattr(counts, name)},
        total=counts.total,
        result=preview_of(message.result) if message.HasField("result") else None,
        error=error_text(message.error) if message.HasField("error") else "",
        traceback=message.error.traceback if message.HasField("error") else "",
        watch_id=message.watch_id,
    )


def job_of(message: Any) -> JobInfo:
    start, end = _seconds(message.start_unix_ns), _seconds(message.end_unix_ns)
    return JobInfo(
        id=message.id,
        execution_id=message.execution_id,
        task=message.task,
        state=state_name(message.state),
        parent_id=message.parent_id,
        executor=message.executor,
        cached=message.cached,
        reason=message.reason,
        args_summary=message.args_summary,
        call_hash=message.call_hash,
        task_hash=message.task_hash,
        start=start,
        end=end,
        duration=(end - start) if start and end else None,
        error=error_text(message.error) if message.HasField("error") else "",
        traceback=message.error.traceback if message.HasField("error") else "",
    )


def watch_of(message: Any) -> WatchInfo:
    return WatchInfo(
        id=message.id,
        request=request_of(message.spec),
        created=_seconds(message.create_unix_ns),
        last_execution_id=message.last_execution_id,
        last_status=status_name(message.last_status) if message.last_status else "",
        last_trigger=_seconds(message.last_trigger_unix_ns),
        path_count=message.watched_path_count,
    )


def lineage_of(message: Any) -> LineageGraph:
    graph = LineageGraph(root_id=message.root_id)
    for node in message.nodes:
        kind = enum_name(provenance_pb2.LineageNodeKind, node.kind, "LINEAGE_NODE_KIND_")
        graph.nodes[node.id] = LineageNode(
            id=node.id,
            kind=kind,
            label=node.label,
            value=preview_of(node.value) if node.HasField("value") else None,
            task=node.task,
            job_id=node.job_id,
            truncated=node.truncated,
        )
    for edge in message.edges:
        kind = enum_name(provenance_pb2.LineageEdgeKind, edge.kind, "LINEAGE_EDGE_KIND_")
        graph.edges.append(LineageEdge(edge.source_id, edge.target_id, kind, edge.name))
    return graph


def _unimplemented(error: ClientError) -> bool:
    return error.code == "UNIMPLEMENTED"


class GrpcSource(DataSource):
    """A daemon, over gRPC.

    Args:
        home: the redun home whose daemon to use.
        address: a gRPC target instead (``unix:/path`` or ``HOST:PORT``).
        token: the token for a TCP address.

    Raises:
        DaemonUnavailable: no daemon answers.
    """

    live = True

    def __init__(
        self, home: str | None = None, *, address: str | None = None, token: str | None = None
    ) -> None:
        from redun.client import Client

        self._connect: Callable[[], Any] = lambda: Client(home, address=address, token=token)
        self._db: DbSource | None = None
        self._lock = threading.Lock()
        self._streams: set[Subscription[Any]] = set()
        self._reconnecting = threading.Lock()
        self.client: Any = None
        self.pid = 0
        self.reconnect()

    def reconnect(self, after: int | None = None) -> None:
        """Connect afresh and ask the daemon's health (blocking: call from a worker).

        After a daemon restart the old channel may wait out gRPC's own backoff,
        so each attempt makes a new one; the description names the daemon
        that answered (its pid). Screens whose streams broke together pass the
        :attr:`generation` they saw: the first reconnects, the others find it done.

        Raises:
            ClientError: no daemon answers.
        """
        with self._reconnecting:
            if after is not None and self.generation != after:
                return
            client = self._connect()
            try:
                health = client.health()
            except BaseException:
                client.close()
                raise
            old, self.client = self.client, client
            if old is not None:
                old.close()
            self.home = health.home or client.home
            self.pid = health.pid
            self.description = f"redund {client.address} (pid {health.pid})"
            self.generation += 1

    # -- helpers ----------------------------------------------------------------
    def database(self) -> DbSource:
        """The home's database, read-only, for what the daemon does not serve."""
        with self._lock:
            if self._db is None:
                from redun.errors import RedunError

                if not self.home:
                    raise ClientError("the daemon does not serve this, and its home is unknown")
                try:
                    self._db = DbSource.for_home(self.home)
                except RedunError as error:
                    raise ClientError(f"the daemon does not serve this ({error})") from None
            return self._db

    def _or_database(self, call: Callable[[], T], fallback: Callable[[DbSource], T]) -> T:
        try:
            return call()
        except ClientError as error:
            if not _unimplemented(error):
                raise
        return fallback(self.database())

    def _subscribe(self, make: Callable[[Any], Iterator[list[T]]]) -> Subscription[T]:
        """A stream on a client of its own, connected when iterated (in a worker), so
        that making it never waits and closing it (from any thread) stops the call."""
        lock = threading.Lock()
        held: list[Any] = []

        def batches() -> Iterator[list[T]]:
            with lock:
                if subscription.closed:
                    return
                client = self._connect()
                held.append(client)
            yield from make(client)

        def close() -> None:
            with lock:
                clients = list(held)
            for client in clients:
                client.close()
            with self._lock:
                self._streams.discard(subscription)

        subscription: Subscription[T] = Subscription(batches(), on_close=close)
        with self._lock:
            self._streams.add(subscription)
        return subscription

    # -- runs ------------------------------------------------------------------------
    def executions(self, limit: int = 200) -> list[ExecutionInfo]:
        return [execution_of(message) for message in self.client.executions(limit=limit)]

    def execution(self, execution_id: str) -> ExecutionInfo:
        return execution_of(self.client.execution(execution_id))

    def follow_execution(self, execution_id: str) -> Subscription[dict[str, Any]]:
        def batches(client: Any) -> Iterator[list[dict[str, Any]]]:
            for batch in client.event_batches(execution_id, replay=True, exclude_logs=True):
                yield [event_to_dict(event) for event in batch.events]

        return self._subscribe(batches)

    def follow_all(self) -> Subscription[dict[str, Any]]:
        def batches(client: Any) -> Iterator[list[dict[str, Any]]]:
            for batch in client.event_batches(exclude_logs=True):
                yield [event_to_dict(event) for event in batch.events]

        return self._subscribe(batches)

    def jobs(self, execution_id: str) -> list[JobInfo]:
        return [job_of(message) for message in self.client.jobs(execution_id)]

    def job(self, job_id: str) -> JobDetail:
        message = self.client.job(job_id)
        detail = JobDetail(
            job=job_of(message),
            args=[(arg.name, preview_of(arg.value)) for arg in message.args],
            result=preview_of(message.result) if message.HasField("result") else None,
        )
        detail.explanation = self.explain(job_id, fallback=[message.reason])
        if not detail.args and message.call_hash:
            try:
                detail.args = self.database().job(job_id).args
            except Exception:  # noqa: BLE001 - the summary still shows them
                pass
        try:  # the daemon does not serve tags: the store has them once the job is written
            detail.tags = self.database().job_tags(job_id)
        except Exception:  # noqa: BLE001 - shown without them
            pass
        return detail

    def explain(self, job_id: str, *, fallback: list[str]) -> list[str]:
        from redun.client.convert import enum_name as name_of

        try:
            explanation = self.client.explain(job_id)
        except ClientError as error:
            if not _unimplemented(error):
                return fallback
            try:
                return self.database().explain(job_id)
            except ClientError:
                return fallback
        lines = [explanation.summary]
        for reason in explanation.reasons:
            kind = name_of(runs_pb2.CacheReasonKind, reason.kind, "CACHE_REASON_KIND_")
            text = f"{reason.detail or kind.replace('_', ' ')} {reason.subject}".rstrip()
            if text != explanation.summary:  # a lone reason is often the summary itself
                lines.append(f"- {text}")
        return lines

    def logs(self, job_id: str, *, follow: bool) -> Subscription[LogChunk]:
        from redun.client.convert import stream_name

        def batches(client: Any) -> Iterator[list[LogChunk]]:
            for line in client.logs(job_id, follow=follow):
                yield [LogChunk(line.text, stream_name(line.stream) or "stdout")]

        return self._subscribe(batches)

    def watches(self) -> list[WatchInfo]:
        return [watch_of(message) for message in self.client.watches()]

    # -- actions -------------------------------------------------------------------------
    def submit(self, request: RunRequest) -> str:
        handle = self.client.submit(
            request.workflow_path,
            request.task,
            args=request.args,
            argv=request.argv,
            working_dir=request.working_dir or None,
            no_cache=request.no_cache,
        )
        return str(handle.id)

    def watch(self, request: RunRequest) -> str:
        info = self.client.watch(
            request.workflow_path,
            request.task,
            args=request.args,
            argv=request.argv,
            working_dir=request.working_dir or None,
        )
        return str(info.id)

    def unwatch(self, watch_id: str) -> None:
        self.client.unwatch(watch_id)

    def cancel(self, execution_id: str) -> int:
        return int(self.client.cancel(execution_id))

    # -- provenance ------------------------------------------------------------------------
    def lineage(self, *, value_hash: str = "", file_path: str = "") -> LineageGraph:
        if value_hash:
            return lineage_of(self.client.lineage(value_hash))
        return lineage_of(self.client.lineage(file_path=file_path))

    def tasks(self, query: str = "") -> list[TaskInfo]:
        def call() -> list[TaskInfo]:
            return [
                TaskInfo(
                    task.full_name,
                    [
                        TaskVersion(
                            v.hash,
                            v.version,
                            v.source,
                            v.call_count,
                            _seconds(v.last_used_unix_ns),
                        )
                        for v in task.versions
                    ],
                )  # fmt: skip
                for task in self.client.tasks(query)
            ]

        return self._or_database(call, lambda db: db.tasks(query))

    def task(self, full_name: str) -> TaskInfo:
        def call() -> TaskInfo:
            task = self.client.task(full_name)
            return TaskInfo(
                task.full_name,
                [
                    TaskVersion(
                        v.hash, v.version, v.source, v.call_count, _seconds(v.last_used_unix_ns)
                    )
                    for v in task.versions
                ],
            )

        return self._or_database(call, lambda db: db.task(full_name))

    def values(self, limit: int = 500) -> list[ValuePreview]:
        return self._or_database(
            lambda: [preview_of(v) for v in self.client.values(limit=limit)],
            lambda db: db.values(limit),
        )

    def value(self, value_hash: str) -> ValuePreview:
        def call() -> ValuePreview:
            info = self.client.value(value_hash, max_repr_chars=4000)
            preview = preview_of(info.preview)
            preview.repr, preview.truncated = info.repr or preview.repr, info.repr_truncated
            return preview

        return self._or_database(call, lambda db: db.value(value_hash))

    def files(self, prefix: str = "") -> list[FileInfo]:
        return self._or_database(
            lambda: [
                FileInfo(f.path, f.value_hash, f.file_hash, f.size, f.is_dir)
                for f in self.client.files(prefix)
            ],
            lambda db: db.files(prefix),
        )

    def search(self, query: str) -> list[SearchHit]:
        def call() -> list[SearchHit]:
            return [
                SearchHit(
                    enum_name(provenance_pb2.SearchKind, hit.kind, "SEARCH_KIND_"),
                    hit.id,
                    hit.title,
                    hit.snippet,
                )
                for hit in self.client.search(query)
            ]

        return self._or_database(call, lambda db: db.search(query))

    def close(self) -> None:
        """Close every open stream (unblocking their workers), then the connection."""
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            stream.close()
        self.client.close()
        if self._db is not None:
            self._db.close()
