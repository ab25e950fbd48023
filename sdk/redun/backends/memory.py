"""An in-process backend (``[backend] db_uri = memory``): the cache lives as long as the
object, in dictionaries, with no database behind it (the fastest store, for benchmarks)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redun.backends.base import Backend, CallRecord, call_record_for, needs_validity_check
from redun.events import Event, JobStateChanged
from redun.scheduler.job import JobState


class MemoryBackend(Backend):
    """Keeps calls and values in dictionaries."""

    def __init__(self) -> None:
        self.calls: dict[str, CallRecord] = {}
        self.file_args: dict[str, list[str]] = {}
        self.evals: dict[str, str] = {}
        self.values: dict[str, tuple[Any, bool]] = {}
        self.tasks: dict[str, str] = {}

    @property
    def session(self) -> Any:
        """There is none: redun's models query a database, and this store is a dict."""
        from redun.errors import BackendError

        raise BackendError(
            "this scheduler keeps its cache in dictionaries ([backend] db_uri = memory), "
            "so there is no database to query: leave db_uri out for a private SQLite "
            "database, or open the project's store with "
            "`from redun.cli import setup_scheduler; scheduler = setup_scheduler()`"
        )

    def find_calls(self, eval_hashes: list[str]) -> dict[str, CallRecord]:
        found = {}
        for eval_hash in eval_hashes:
            call_hash = self.evals.get(eval_hash)
            if call_hash is not None:
                found[eval_hash] = self.calls[call_hash]
        return found

    def has_calls(self, task_hash: str) -> bool:
        return task_hash in self.tasks

    def get_call_tree(self, call_hashes: list[str]) -> dict[str, CallRecord]:
        tree: dict[str, CallRecord] = {}
        stack = list(call_hashes)
        while stack:
            call_hash = stack.pop()
            if call_hash in tree:
                continue
            record = self.calls.get(call_hash)
            if record is None:
                continue
            tree[call_hash] = record
            stack.extend(record.child_call_hashes)
        return tree

    def get_values(self, value_hashes: list[str]) -> dict[str, Any]:
        return {h: self.values[h][0] for h in value_hashes if h in self.values}

    def values_needing_check(self, value_hashes: list[str]) -> set[str]:
        return {h for h in value_hashes if h in self.values and self.values[h][1]}

    def recorder(self, scheduler: Any) -> Any:
        return _Recorder(self._record_job)

    def checked_arguments(self, root_call_hashes: list[str]) -> dict[str, list[str]]:
        tree = self.get_call_tree(root_call_hashes)
        return {h: self.file_args[h] for h in tree if h in self.file_args}

    def _record_checked_arguments(self, job: Any, record: CallRecord) -> None:
        args = [*job.call_args, *job.kwargs.values()]
        if all(type(value) in (int, float, str, bool) for value in args):
            return  # the common case: nothing to check later
        from redun.scheduler.binding import bind_arguments

        bound = bind_arguments(job.task, job.call_args, job.kwargs)
        for name, value_hash in record.arg_hashes.items():
            value = bound.get(name)
            if value is not None and needs_validity_check(value):
                self.values[value_hash] = (value, True)
                self.file_args.setdefault(record.call_hash, []).append(value_hash)

    def _record_expression(self, returned: Any) -> str | None:
        from redun.scheduler.replay import NotRecordable, record_expression

        try:
            recorded = record_expression(returned)
        except NotRecordable:
            return None
        self.values.setdefault(recorded.hash, (recorded, False))
        return recorded.hash

    def _record(self, event: Event) -> None:
        if type(event) is JobStateChanged and event.job is not None:
            self._record_job(event.job)

    def _record_job(self, job: Any) -> None:
        if not job.prov or not (job.state is JobState.DONE or job.replayed):
            return
        if job.state is not JobState.DONE and job.state is not JobState.CACHED:
            return
        expr_hash = job.expr_hash
        if expr_hash is None and job.returned is not None:
            expr_hash = self._record_expression(job.returned)
        record = call_record_for(job, expr_hash)
        self.calls[record.call_hash] = record
        self.evals[record.eval_hash] = record.call_hash
        if record.result_hash not in self.values:
            self.values[record.result_hash] = (job.result, needs_validity_check(job.result))
        self._record_checked_arguments(job, record)
        self.tasks[record.task_hash] = job.task.fullname


class _Recorder:
    """What the memory store gives a run to record it: only job states matter, and
    they arrive as the jobs themselves (:meth:`redun.events.EventBus.attach`)."""

    __slots__ = ("job_changed",)

    def __init__(self, record_job: Callable[[Any], None]) -> None:
        self.job_changed = record_job

    def __call__(self, event: Event) -> None:
        pass
