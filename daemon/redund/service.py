"""The gRPC servicer: thin. Requests become domain calls, results become messages.

Domain errors map to status codes here, in :data:`STATUS_OF`, and nowhere
else; any other exception is logged and answered with INTERNAL, so nothing a
client sends can take the daemon down.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import platform
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import grpc

import redun
from redun.v1 import daemon_pb2, daemon_pb2_grpc, events_pb2
from redund import browse, convert, search, views
from redund.errors import (
    AuthError,
    DaemonError,
    InvalidRequest,
    NotFoundError,
    NotImplementedYet,
    PreconditionError,
)
from redund.model import ExecutionFinishedData, JobStateData, LogData, WatchTriggeredData
from redund.spec import validate

if TYPE_CHECKING:
    from redund.server import Daemon

log = logging.getLogger("redund")

STATUS_OF: dict[type[DaemonError], grpc.StatusCode] = {
    InvalidRequest: grpc.StatusCode.INVALID_ARGUMENT,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    PreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
    AuthError: grpc.StatusCode.UNAUTHENTICATED,
    NotImplementedYet: grpc.StatusCode.UNIMPLEMENTED,
}

DEFAULT_BATCH = 1000
MAX_BATCH = 10_000
# Error details travel in a trailer that gRPC caps (16 KiB of metadata, after
# percent-encoding): a message echoing a huge id or path would turn a precise
# NOT_FOUND into a transport error. Long messages are cut to this.
MAX_DETAILS = 1000


class Undecodable:
    """Stands for a request whose bytes are not the method's message (see add_service)."""

    def __init__(self, message_name: str) -> None:
        self.message_name = message_name


def clip(text: str, limit: int = MAX_DETAILS) -> str:
    """``text`` cut to about ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 40]}... [{len(text) - limit + 40} more characters]"


def status_for(error: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status code and message a client gets for ``error``."""
    for cls in type(error).__mro__:
        code = STATUS_OF.get(cls)  # type: ignore[call-overload]
        if code is not None:
            return code, clip(str(error))
    log.error("request failed", exc_info=error)
    return (
        grpc.StatusCode.INTERNAL,
        clip(f"internal error in the daemon: {type(error).__name__}: {error}"),
    )


def _undecodable(request: Undecodable) -> InvalidRequest:
    return InvalidRequest(f"the request is not a valid {request.message_name} message")


def unary(method: Callable) -> Callable:
    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            if type(request) is Undecodable:
                raise _undecodable(request)
            return await method(self, request, context)
        except Exception as error:  # noqa: BLE001 - every error becomes a status
            if isinstance(error, grpc.aio.AbortError):
                raise
            code, message = status_for(error)
        await context.abort(code, message)

    return wrapper


def streaming(method: Callable) -> Callable:
    @functools.wraps(method)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator:
        try:
            if type(request) is Undecodable:
                raise _undecodable(request)
            async for item in method(self, request, context):
                yield item
            return
        except Exception as error:  # noqa: BLE001 - every error becomes a status
            if isinstance(error, grpc.aio.AbortError):
                raise
            code, message = status_for(error)
        await context.abort(code, message)

    return wrapper


def add_service(service: RedunService, server: grpc.aio.Server) -> None:
    """Serve ``service`` on ``server``, answering undecodable requests INVALID_ARGUMENT.

    gRPC would answer a request whose bytes do not parse with UNKNOWN and a
    message naming a Python class; here each method's deserializer hands the
    servicer an :class:`Undecodable` instead, which it refuses precisely.
    """
    collected: dict[str, dict[str, grpc.RpcMethodHandler]] = {}

    class _Collector:
        def add_generic_rpc_handlers(self, handlers: Any) -> None:
            pass

        def add_registered_method_handlers(self, name: str, handlers: dict) -> None:
            collected[name] = handlers

    daemon_pb2_grpc.add_RedunServicer_to_server(service, _Collector())
    for name, handlers in collected.items():
        tolerant = {
            method: handler._replace(  # type: ignore[attr-defined]
                request_deserializer=_tolerant(handler.request_deserializer)
            )
            for method, handler in handlers.items()
        }
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(name, tolerant),))
        server.add_registered_method_handlers(name, tolerant)


def _tolerant(parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    from google.protobuf.message import DecodeError

    message_name = getattr(getattr(parse, "__self__", None), "DESCRIPTOR", None)
    full_name = message_name.full_name if message_name is not None else "request"

    def deserialize(data: bytes) -> Any:
        try:
            return parse(data)
        except (DecodeError, ValueError, TypeError):
            return Undecodable(full_name)

    return deserialize


class RedunService(daemon_pb2_grpc.RedunServicer):
    """``redun.v1.Redun`` over a :class:`~redund.server.Daemon`."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.runs = daemon.runs

    # -- health --------------------------------------------------------------
    @unary
    async def Health(self, request: Any, context: Any) -> daemon_pb2.HealthResponse:
        daemon = self.daemon
        return daemon_pb2.HealthResponse(
            status=(
                daemon_pb2.SERVING_STATUS_STOPPING
                if self.runs.stopping
                else daemon_pb2.SERVING_STATUS_SERVING
            ),
            pid=daemon.pid,
            addresses=daemon.addresses,
            home=daemon.home,
            start_unix_ns=convert.ns(daemon.start_time),
            running_executions=self.runs.running_count,
            watch_count=len(self.daemon.watches),
        )

    @unary
    async def Version(self, request: Any, context: Any) -> daemon_pb2.VersionResponse:
        return daemon_pb2.VersionResponse(
            redun_version=redun.__version__,
            api_version="v1",
            python_version=platform.python_version(),
        )

    # -- runs ---------------------------------------------------------------------
    @unary
    async def Submit(self, request: Any, context: Any) -> daemon_pb2.SubmitResponse:
        if not request.HasField("spec"):
            raise InvalidRequest("SubmitRequest.spec is missing: say what to run")
        spec = validate(convert.spec_from_pb(request.spec))
        record = await self.runs.submit(spec)
        return daemon_pb2.SubmitResponse(execution_id=record.id)

    @unary
    async def ListExecutions(self, request: Any, context: Any) -> daemon_pb2.ListExecutionsResponse:
        records, token = await views.list_executions(
            self.runs,
            page_size=request.page_size,
            page_token=request.page_token,
            statuses=convert.statuses_from_pb(request.statuses),
            watch_id=request.watch_id,
            task=request.task,
        )
        return daemon_pb2.ListExecutionsResponse(
            executions=[convert.execution_to_pb(record) for record in records],
            next_page_token=token,
        )

    @unary
    async def GetExecution(self, request: Any, context: Any) -> Any:
        record = await views.get_execution(self.runs, request.execution_id)
        jobs = await views.all_jobs(self.runs, record) if request.include_jobs else None
        return convert.execution_to_pb(record, jobs)

    @unary
    async def ListJobs(self, request: Any, context: Any) -> daemon_pb2.ListJobsResponse:
        jobs, token = await views.list_jobs(
            self.runs,
            request.execution_id,
            parent_id=request.parent_id if request.HasField("parent_id") else None,
            states=convert.states_from_pb(request.states),
            task=request.task,
            text=request.text,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return daemon_pb2.ListJobsResponse(
            jobs=[convert.job_to_pb(job) for job in jobs], next_page_token=token
        )

    @unary
    async def GetJob(self, request: Any, context: Any) -> Any:
        return convert.job_to_pb(await views.get_job(self.runs, request.job_id))

    @unary
    async def Cancel(self, request: Any, context: Any) -> daemon_pb2.CancelResponse:
        target = request.WhichOneof("target")
        if target == "execution_id" and request.execution_id:
            count = await self.runs.cancel(request.execution_id)
        elif target == "job_id" and request.job_id:
            count = await self.runs.cancel_job(request.job_id)
        else:
            raise InvalidRequest("CancelRequest needs an execution_id or a job_id")
        return daemon_pb2.CancelResponse(cancelled_jobs=count)

    @unary
    async def GetResult(self, request: Any, context: Any) -> daemon_pb2.GetResultResponse:
        record = await views.get_execution(self.runs, request.execution_id)
        if self.runs.live(record.id) is not None and not record.status.is_final:
            wait = request.wait_seconds
            if wait != 0:
                remaining = context.time_remaining()
                limit = None if wait < 0 else wait
                if remaining is not None:
                    limit = remaining if limit is None else min(limit, remaining)
                await self.runs.wait_finished(record.id, limit)
        response = daemon_pb2.GetResultResponse(
            status=convert.status_to_pb(record.status), error=convert.error_to_pb(record.error)
        )
        if record.status.value == "done":
            preview, pickled = record.result, record.pickled
            if self.runs.live(record.id) is None or (request.include_pickle and not pickled):
                stored_preview, pickled = await asyncio.to_thread(
                    self.runs.store.execution_result, record.id
                )
                preview = preview or stored_preview
            if preview is not None:
                response.result.CopyFrom(convert.preview_to_pb(preview))
            if request.include_pickle:
                response.pickled = pickled
        return response

    # -- streams ---------------------------------------------------------------------
    @streaming
    async def StreamEvents(
        self, request: Any, context: Any
    ) -> AsyncIterator[events_pb2.EventBatch]:
        max_batch = min(request.max_batch or DEFAULT_BATCH, MAX_BATCH)
        exclude_logs = request.exclude_logs
        execution_id, watch_id = request.execution_id, request.watch_id
        runs = self.runs
        if watch_id:
            self.daemon.watches.get(watch_id)  # NotFoundError for an unknown watch
        record = runs.live(execution_id) if execution_id else None
        if execution_id and record is None:
            stored = await views.get_execution(runs, execution_id)
            history = views.synthesize(stored, await views.all_jobs(runs, stored))
            if not request.replay:
                history = []
            for batch in _batches(history, max_batch, caught_up=True):
                yield batch
            return

        def accepts(event: Any) -> bool:
            data = event.data
            if exclude_logs and type(data) is LogData:
                return False
            if execution_id:
                return event.execution_id == execution_id
            if watch_id:
                if type(data) is WatchTriggeredData:
                    return data.watch_id == watch_id
                owner = runs.live(event.execution_id)
                return owner is not None and owner.watch_id == watch_id
            return True

        subscriber = self.daemon.hub.subscribe(accepts)
        try:
            history = []
            if request.replay:
                sources = (
                    [record]
                    if record is not None
                    else [r for r in runs.records.values() if not r.status.is_final]
                )
                for source in sources:
                    if source is not None and (not watch_id or source.watch_id == watch_id):
                        history += views.replay_live(source, include_logs=not exclude_logs)
            for batch in _batches(history, max_batch, caught_up=True):
                yield batch
            # Return only once the end was sent: a run that finishes while the
            # history is being sent has its end waiting in the subscription.
            if execution_id and any(type(e.data) is ExecutionFinishedData for e in history):
                return
            while True:
                await subscriber.wait()
                if subscriber.closed:
                    return
                events = subscriber.take(max_batch)
                if not events:
                    continue
                yield events_pb2.EventBatch(
                    events=[convert.event_to_pb(event) for event in events],
                    coalesced=subscriber.take_coalesced(),
                )
                if execution_id and any(
                    type(event.data) is ExecutionFinishedData for event in events
                ):
                    return
        finally:
            self.daemon.hub.unsubscribe(subscriber)

    @streaming
    async def StreamLogs(self, request: Any, context: Any) -> AsyncIterator[events_pb2.LogLine]:
        job = await views.get_job(self.runs, request.job_id)
        record = self.runs.live(job.execution_id)
        if record is None:  # a run this daemon no longer holds: its output is in the store
            for stream, text in await asyncio.to_thread(self.runs.store.job_log, job.id):
                yield convert.log_to_pb(LogData(job.id, stream, text))
            return
        job_id = job.id

        def accepts(event: Any) -> bool:
            data = event.data
            if event.execution_id != record.id:
                return False
            if type(data) in (LogData, JobStateData):
                return data.job_id == job_id
            return type(data) is ExecutionFinishedData

        subscriber = self.daemon.hub.subscribe(accepts) if request.follow else None
        try:
            for line in views.job_logs(record, job_id):
                yield convert.log_to_pb(line)
            live = self.runs.live_job(job_id)
            if (
                subscriber is None
                or live is None
                or live.state in ("cached", "done", "failed", "cancelled")
            ):
                return
            while True:
                await subscriber.wait()
                if subscriber.closed:
                    return
                for event in subscriber.take(MAX_BATCH):
                    data = event.data
                    if type(data) is LogData:
                        yield convert.log_to_pb(data)
                    elif type(data) is ExecutionFinishedData or data.state in (  # type: ignore[union-attr]
                        "cached",
                        "done",
                        "failed",
                        "cancelled",
                    ):
                        return
        finally:
            if subscriber is not None:
                self.daemon.hub.unsubscribe(subscriber)

    # -- provenance ------------------------------------------------------------------------
    @unary
    async def GetLineage(self, request: Any, context: Any) -> Any:
        from redund import lineage

        target = request.WhichOneof("target")
        if target == "value_hash" and request.value_hash:
            start = ("value", request.value_hash)
        elif target == "file_path" and request.file_path:
            start = ("file", request.file_path)
        else:
            raise InvalidRequest("GetLineageRequest needs a value_hash or a file_path")
        graph = await asyncio.to_thread(
            lineage.walk,
            self.runs.store,
            start,
            direction=lineage.direction_from_pb(request.direction),
            depth=request.depth or lineage.DEFAULT_DEPTH,
        )
        return convert.lineage_to_pb(graph)

    # -- watches (the registry; re-running on change is issue 6) ---------------------
    @unary
    async def Watch(self, request: Any, context: Any) -> Any:
        if not request.HasField("spec"):
            raise InvalidRequest("WatchRequest.spec is missing: say what to run")
        spec = validate(convert.spec_from_pb(request.spec))
        watches = self.daemon.watches
        existing = watches.find(spec)
        if existing is not None:
            # Watching the same thing twice is one watch (e.g. `make demo` run again).
            return convert.watch_to_pb(existing, include_paths=True)
        watch = watches.add(spec)
        try:
            record = await self.runs.submit(spec, watch_id=watch.id)
        except BaseException:
            watches.remove(watch.id)
            raise
        watches.run_started(watch.id, record.id)
        return convert.watch_to_pb(watch, include_paths=True)

    @unary
    async def Unwatch(self, request: Any, context: Any) -> Any:
        if not request.watch_id:
            raise InvalidRequest("UnwatchRequest.watch_id is empty")
        watch = self.daemon.watches.remove(request.watch_id)
        record = self.runs.live(watch.last_execution_id) if watch.last_execution_id else None
        if record is not None and not record.status.is_final:
            await self.runs.cancel(record.id)
        return daemon_pb2.UnwatchResponse()

    @unary
    async def ListWatches(self, request: Any, context: Any) -> Any:
        return daemon_pb2.ListWatchesResponse(
            watches=[
                convert.watch_to_pb(watch, include_paths=request.include_paths)
                for watch in self.daemon.watches.watches.values()
            ]
        )

    @unary
    async def Explain(self, request: Any, context: Any) -> Any:
        from redund import explain

        if not request.job_id:
            raise InvalidRequest("ExplainRequest.job_id is empty")
        live = self.runs.live_job(request.job_id)
        return await asyncio.to_thread(explain.explain, self.runs.store, request.job_id, live)

    # -- browsing: database reads, in worker threads ---------------------------------
    @unary
    async def ListTasks(self, request: Any, context: Any) -> daemon_pb2.ListTasksResponse:
        tasks, token = await asyncio.to_thread(
            browse.list_tasks,
            self.runs.store,
            query=request.query,
            namespace=request.namespace,
            include_source=request.include_source,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return daemon_pb2.ListTasksResponse(
            tasks=[convert.task_to_pb(task) for task in tasks], next_page_token=token
        )

    @unary
    async def GetTask(self, request: Any, context: Any) -> Any:
        target = request.WhichOneof("target")
        task = await asyncio.to_thread(
            browse.get_task,
            self.runs.store,
            full_name=request.full_name if target == "full_name" else "",
            task_hash=request.hash if target == "hash" else "",
        )
        return convert.task_to_pb(task)

    @unary
    async def ListValues(self, request: Any, context: Any) -> daemon_pb2.ListValuesResponse:
        values, token = await asyncio.to_thread(
            browse.list_values,
            self.runs.store,
            type_name=request.type_name,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return daemon_pb2.ListValuesResponse(
            values=convert.previews_to_pb(values), next_page_token=token
        )

    @unary
    async def GetValue(self, request: Any, context: Any) -> Any:
        value = await asyncio.to_thread(
            browse.get_value,
            self.runs.store,
            request.hash,
            max_repr_chars=request.max_repr_chars,
            include_pickle=request.include_pickle,
        )
        return convert.value_to_pb(value)

    @unary
    async def ListFiles(self, request: Any, context: Any) -> daemon_pb2.ListFilesResponse:
        files, token = await asyncio.to_thread(
            browse.list_files,
            self.runs.store,
            path_prefix=request.path_prefix,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return daemon_pb2.ListFilesResponse(
            files=[convert.file_to_pb(entry) for entry in files], next_page_token=token
        )

    @unary
    async def Search(self, request: Any, context: Any) -> daemon_pb2.SearchResponse:
        hits, token = await asyncio.to_thread(
            search.search,
            self.runs.store,
            request.query,
            kinds=convert.search_kinds_from_pb(request.kinds),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return daemon_pb2.SearchResponse(
            hits=[convert.hit_to_pb(hit) for hit in hits], next_page_token=token
        )


def _batches(events: list, size: int, *, caught_up: bool) -> list[events_pb2.EventBatch]:
    """``events`` in batches; the last (or an empty one) marks the history complete."""
    batches = [
        events_pb2.EventBatch(events=[convert.event_to_pb(e) for e in events[i : i + size]])
        for i in range(0, len(events), size)
    ]
    if not batches:
        batches.append(events_pb2.EventBatch())
    batches[-1].caught_up = caught_up
    return batches
