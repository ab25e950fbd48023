"""``Client``: a connection to one daemon (over its Unix socket, or TCP with a token)."""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterator
from typing import Any

import grpc

from redun.client import errors
from redun.client.convert import event_to_dict
from redun.client.paths import read_token, resolve_home, socket_path, unix_address
from redun.v1 import common_pb2, daemon_pb2, daemon_pb2_grpc, events_pb2, provenance_pb2, runs_pb2

DEFAULT_TIMEOUT = 30.0
_NOT_GIVEN: Any = object()

_ERRORS: dict[grpc.StatusCode, type[errors.ClientError]] = {
    grpc.StatusCode.UNAVAILABLE: errors.DaemonUnavailable,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.UNAUTHENTICATED: errors.Unauthenticated,
}
_DIRECTIONS = {
    "both": provenance_pb2.LINEAGE_DIRECTION_BOTH,
    "upstream": provenance_pb2.LINEAGE_DIRECTION_UPSTREAM,
    "downstream": provenance_pb2.LINEAGE_DIRECTION_DOWNSTREAM,
}


class Client:
    """A connection to a redun daemon.

    Args:
        home: the redun home whose daemon to use (default: ``$REDUN_HOME``, else
            the nearest ``.redun`` up from the current directory).
        address: a gRPC target instead: ``unix:/path/redund.sock`` or ``HOST:PORT``.
        token: the daemon's TCP token (default: ``$REDUN_DAEMON_TOKEN``, else the
            token file of ``home`` when given).
        tls_ca: a PEM file of the CA that signed the daemon's certificate (TLS).
        timeout: seconds each non-streaming call may take.

    Raises:
        DaemonUnavailable: no daemon runs for ``home``.
    """

    def __init__(
        self,
        home: str | None = None,
        *,
        address: str | None = None,
        token: str | None = None,
        tls_ca: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if address is None:
            self.home: str | None = resolve_home(home, search=True)
            if not os.path.exists(socket_path(self.home)):
                raise errors.DaemonUnavailable(
                    f"no daemon is running for {self.home}: start one with "
                    f"'redund start --home {self.home}'"
                )
            address = unix_address(self.home)
        else:
            self.home = resolve_home(home) if home else None
        self.address = address
        self.timeout = timeout
        if token is None:
            token = os.environ.get("REDUN_DAEMON_TOKEN") or (
                read_token(self.home) if self.home and not address.startswith("unix:") else None
            )
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        options = [("grpc.max_receive_message_length", 256 << 20)]
        if tls_ca:
            with open(tls_ca, "rb") as handle:
                credentials = grpc.ssl_channel_credentials(root_certificates=handle.read())
            self._channel = grpc.secure_channel(address, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(address, options=options)
        self._stub = daemon_pb2_grpc.RedunStub(self._channel)

    # -- plumbing ---------------------------------------------------------------
    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _error(self, error: grpc.RpcError) -> errors.ClientError:
        code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
        details = (error.details() if hasattr(error, "details") else "") or str(code)
        cls = _ERRORS.get(code, errors.ClientError)
        if cls is errors.DaemonUnavailable:
            details = (
                f"no daemon answers at {self.address} ({details}); start one with 'redund start'"
            )
        return cls(details, code=code.name)

    def _call(self, name: str, request: Any, *, timeout: Any = _NOT_GIVEN) -> Any:
        method = getattr(self._stub, name)
        try:
            return method(
                request,
                timeout=self.timeout if timeout is _NOT_GIVEN else timeout,
                metadata=self._metadata,
            )
        except grpc.RpcError as error:
            raise self._error(error) from None

    def _stream(self, name: str, request: Any) -> Iterator[Any]:
        call = getattr(self._stub, name)(request, metadata=self._metadata)
        try:
            yield from call
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.CANCELLED:
                return
            raise self._error(error) from None
        finally:
            call.cancel()

    # -- the daemon ------------------------------------------------------------------
    def health(self) -> daemon_pb2.HealthResponse:
        """Pid, addresses, home, start time and runs in flight of the daemon."""
        return self._call("Health", daemon_pb2.HealthRequest())

    def version(self) -> daemon_pb2.VersionResponse:
        return self._call("Version", daemon_pb2.VersionRequest())

    # -- runs ----------------------------------------------------------------------------
    def submit(
        self,
        file: str,
        task: str,
        /,
        *,
        args: dict[str, str] | None = None,
        argv: list[str] | None = None,
        options: dict[str, str] | None = None,
        working_dir: str | None = None,
        no_cache: bool = False,
        dryrun: bool = False,
        **kwargs: Any,
    ) -> Any:
        """Start ``task`` of workflow ``file``; returns an :class:`ExecutionHandle`.

        Args:
            file: the workflow file (relative to ``working_dir``) or module name.
            task: the task to call.
            args: arguments as CLI strings, parsed by the task's signature.
            argv: arguments as a command line (``["--xs", "1", "2"]``).
            options: scheduler options: ``executor``, ``max_workers``, ``context``.
            working_dir: where the run executes (default: the current directory).
            no_cache: run every job again.
            dryrun: only report what would run.
            **kwargs: typed arguments (JSON-serializable).

        Raises:
            NotFound: the file or the task does not exist.
            InvalidArgument: bad arguments, or the workflow does not import.
        """
        try:
            kwargs_json = json.dumps(kwargs) if kwargs else ""
        except TypeError as error:
            raise errors.InvalidArgument(
                f"keyword arguments must be JSON-serializable ({error}); pass them as args= strings"
            ) from None
        spec = runs_pb2.RunSpec(
            workflow_path=file,
            task=task,
            args=args or {},
            argv=argv or [],
            kwargs_json=kwargs_json,
            options=options or {},
            working_dir=os.path.abspath(working_dir or os.getcwd()),
            no_cache=no_cache,
            dryrun=dryrun,
        )
        response = self._call("Submit", daemon_pb2.SubmitRequest(spec=spec), timeout=None)
        from redun.client.handle import ExecutionHandle

        return ExecutionHandle(self, response.execution_id)

    def execution(self, execution_id: str, *, include_jobs: bool = False) -> runs_pb2.Execution:
        """One execution (``redun.v1.Execution``), with every job when asked."""
        request = daemon_pb2.GetExecutionRequest(
            execution_id=execution_id, include_jobs=include_jobs
        )
        return self._call("GetExecution", request)

    def executions(
        self,
        *,
        limit: int = 100,
        statuses: list[str] | None = None,
        task: str = "",
        watch_id: str = "",
    ) -> list[runs_pb2.Execution]:
        """Executions, newest first (``redun.v1.Execution`` without jobs)."""
        wanted = [
            common_pb2.ExecutionStatus.Value("EXECUTION_STATUS_" + status.upper())
            for status in statuses or ()
        ]
        found: list[runs_pb2.Execution] = []
        token = ""
        while len(found) < limit:
            response = self._call(
                "ListExecutions",
                daemon_pb2.ListExecutionsRequest(
                    page_size=min(limit - len(found), 1000),
                    page_token=token,
                    statuses=wanted,
                    task=task,
                    watch_id=watch_id,
                ),
            )
            found.extend(response.executions)
            token = response.next_page_token
            if not token:
                break
        return found[:limit]

    def jobs(
        self,
        execution_id: str,
        *,
        parent_id: str | None = None,
        states: list[str] | None = None,
        task: str = "",
        text: str = "",
        page_size: int = 1000,
    ) -> Iterator[runs_pb2.Job]:
        """An execution's jobs in creation order, fetched page by page."""
        token = ""
        while True:
            request = daemon_pb2.ListJobsRequest(
                execution_id=execution_id,
                states=[common_pb2.JobState.Value("JOB_STATE_" + s.upper()) for s in states or ()],
                task=task,
                text=text,
                page_size=page_size,
                page_token=token,
            )
            if parent_id is not None:
                request.parent_id = parent_id
            response = self._call("ListJobs", request)
            yield from response.jobs
            token = response.next_page_token
            if not token:
                return

    def job(self, job_id: str) -> runs_pb2.Job:
        return self._call("GetJob", daemon_pb2.GetJobRequest(job_id=job_id))

    def cancel(self, execution_id: str | None = None, *, job_id: str | None = None) -> int:
        """Cancel an execution (or one running job); returns how many jobs were cancelled."""
        if bool(execution_id) == bool(job_id):
            raise errors.InvalidArgument("cancel() takes an execution id or job_id=, not both")
        request = (
            daemon_pb2.CancelRequest(execution_id=execution_id)
            if execution_id
            else daemon_pb2.CancelRequest(job_id=job_id)
        )
        return self._call("Cancel", request, timeout=None).cancelled_jobs

    def get_result(
        self, execution_id: str, *, wait: float = 0.0, include_pickle: bool = False
    ) -> daemon_pb2.GetResultResponse:
        """The raw ``GetResult`` answer (status, preview, error, pickle)."""
        request = daemon_pb2.GetResultRequest(
            execution_id=execution_id, wait_seconds=wait, include_pickle=include_pickle
        )
        return self._call("GetResult", request, timeout=None if wait < 0 else wait + self.timeout)

    def result(self, execution_id: str, timeout: float | None = None) -> Any:
        """The execution's result, waiting up to ``timeout`` seconds (None: until it ends).

        Raises:
            TimeoutError: still running after ``timeout``.
            ExecutionFailed, ExecutionCancelled, ExecutionInterrupted: no result.
        """
        response = self.get_result(
            execution_id, wait=-1.0 if timeout is None else timeout, include_pickle=True
        )
        status = response.status
        if status == common_pb2.EXECUTION_STATUS_RUNNING:
            raise TimeoutError(f"execution {execution_id} still runs after {timeout} s")
        if status == common_pb2.EXECUTION_STATUS_DONE:
            if not response.pickled:
                raise errors.ClientError(
                    f"the result of {execution_id} was not stored as a Python object; "
                    f"its repr: {response.result.repr}"
                )
            try:
                return pickle.loads(response.pickled)
            except Exception as error:
                raise errors.ClientError(
                    f"cannot load the result of {execution_id} here ({error}); "
                    f"its repr: {response.result.repr}"
                ) from None
        failure = response.error
        text = f"{failure.type}: {failure.message}" if failure.type else failure.message
        cls = {
            common_pb2.EXECUTION_STATUS_CANCELLED: errors.ExecutionCancelled,
            common_pb2.EXECUTION_STATUS_INTERRUPTED: errors.ExecutionInterrupted,
        }.get(status, errors.ExecutionFailed)
        status_name = common_pb2.ExecutionStatus.Name(status).removeprefix("EXECUTION_STATUS_")
        raise cls(
            f"execution {execution_id} {status_name.lower()}: {text}",
            execution_id=execution_id,
            status=status_name.lower(),
            error_type=failure.type,
            traceback=failure.traceback,
        )

    # -- streams --------------------------------------------------------------------------
    def event_batches(
        self,
        execution_id: str = "",
        *,
        replay: bool = False,
        watch_id: str = "",
        exclude_logs: bool = False,
        max_batch: int = 0,
    ) -> Iterator[events_pb2.EventBatch]:
        """The raw stream: ``redun.v1.EventBatch`` messages (with caught_up, coalesced)."""
        request = daemon_pb2.StreamEventsRequest(
            execution_id=execution_id,
            replay=replay,
            watch_id=watch_id,
            exclude_logs=exclude_logs,
            max_batch=max_batch,
        )
        return self._stream("StreamEvents", request)

    def events(
        self,
        execution_id: str = "",
        *,
        replay: bool | None = None,
        watch_id: str = "",
        exclude_logs: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Events as dicts (see :func:`redun.client.convert.event_to_dict`).

        With ``execution_id`` the stream replays that execution from its start
        (unless ``replay=False``) and ends after its ``execution_finished``;
        without, it streams live events of every execution until closed.
        """
        if replay is None:
            replay = bool(execution_id)
        for batch in self.event_batches(
            execution_id, replay=replay, watch_id=watch_id, exclude_logs=exclude_logs
        ):
            for event in batch.events:
                yield event_to_dict(event)

    def logs(self, job_id: str, *, follow: bool = False) -> Iterator[events_pb2.LogLine]:
        """A job's captured output (``redun.v1.LogLine``); with ``follow``, until it ends."""
        return self._stream(
            "StreamLogs", daemon_pb2.StreamLogsRequest(job_id=job_id, follow=follow)
        )

    def lineage(
        self,
        value_hash: str | None = None,
        *,
        file_path: str | None = None,
        direction: str = "both",
        depth: int = 0,
    ) -> provenance_pb2.LineageGraph:
        """The lineage graph around a value (by hash) or a file (by path)."""
        if bool(value_hash) == bool(file_path):
            raise errors.InvalidArgument("lineage() takes a value hash or file_path=, not both")
        if direction not in _DIRECTIONS:
            raise errors.InvalidArgument(
                f"direction must be one of {', '.join(_DIRECTIONS)}, got {direction!r}"
            )
        request = daemon_pb2.GetLineageRequest(direction=_DIRECTIONS[direction], depth=depth)
        if value_hash:
            request.value_hash = value_hash
        else:
            request.file_path = os.path.abspath(file_path or "")
        return self._call("GetLineage", request)

    # -- watches, explanations and provenance browsing (used by redun-tui) ----------------
    def explain(self, job_id: str) -> runs_pb2.Explanation:
        """Why a job ran or hit the cache (``redun.v1.Explanation``)."""
        return self._call("Explain", daemon_pb2.ExplainRequest(job_id=job_id))

    def watch(
        self,
        file: str,
        task: str,
        /,
        *,
        args: dict[str, str] | None = None,
        argv: list[str] | None = None,
        options: dict[str, str] | None = None,
        working_dir: str | None = None,
    ) -> runs_pb2.WatchInfo:
        """Register a watch of ``task`` in ``file``; its first run starts at once."""
        spec = runs_pb2.RunSpec(
            workflow_path=file,
            task=task,
            args=args or {},
            argv=argv or [],
            options=options or {},
            working_dir=os.path.abspath(working_dir or os.getcwd()),
        )
        return self._call("Watch", daemon_pb2.WatchRequest(spec=spec), timeout=None)

    def unwatch(self, watch_id: str) -> None:
        """Remove a watch (its run in flight, if any, is cancelled)."""
        self._call("Unwatch", daemon_pb2.UnwatchRequest(watch_id=watch_id))

    def watches(self, *, include_paths: bool = False) -> list[runs_pb2.WatchInfo]:
        """Every watch, oldest first."""
        request = daemon_pb2.ListWatchesRequest(include_paths=include_paths)
        return list(self._call("ListWatches", request).watches)

    def tasks(self, query: str = "", *, include_source: bool = False) -> list[Any]:
        """Recorded tasks (``redun.v1.TaskInfo``) whose full name contains ``query``."""
        found: list[Any] = []
        token = ""
        while True:
            response = self._call(
                "ListTasks",
                daemon_pb2.ListTasksRequest(
                    query=query, include_source=include_source, page_token=token
                ),
            )
            found.extend(response.tasks)
            token = response.next_page_token
            if not token:
                return found

    def task(self, full_name: str) -> provenance_pb2.TaskInfo:
        """One task with every version and its source."""
        return self._call("GetTask", daemon_pb2.GetTaskRequest(full_name=full_name))

    def values(self, *, type_name: str = "", limit: int = 500) -> list[common_pb2.ValuePreview]:
        """Recorded values, newest first."""
        request = daemon_pb2.ListValuesRequest(type_name=type_name, page_size=limit)
        return list(self._call("ListValues", request).values)[:limit]

    def value(self, value_hash: str, *, max_repr_chars: int = 0) -> provenance_pb2.ValueInfo:
        """One value, with a longer repr."""
        request = daemon_pb2.GetValueRequest(hash=value_hash, max_repr_chars=max_repr_chars)
        return self._call("GetValue", request)

    def files(self, path_prefix: str = "", *, limit: int = 2000) -> list[provenance_pb2.FileInfo]:
        """Recorded files whose path starts with ``path_prefix``."""
        request = daemon_pb2.ListFilesRequest(path_prefix=path_prefix, page_size=limit)
        return list(self._call("ListFiles", request).files)[:limit]

    def search(self, query: str, *, limit: int = 100) -> list[provenance_pb2.SearchHit]:
        """Free-text search over executions, jobs, tasks, values and files."""
        request = daemon_pb2.SearchRequest(query=query, page_size=limit)
        return list(self._call("Search", request).hits)[:limit]
