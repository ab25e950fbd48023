"""RemoteExecutor: the shared half of every remote back end.

The scheduler hands it batches of jobs. A worker thread (one per executor)
groups each batch by task and options, writes the calls to the scratch,
submits one platform job per group (an array when the group has more than
one call, a plain job otherwise, at once: no timer holds a job back), and
polls every job in flight in one call of the back end. What the polls mean
is decided by :mod:`.states` (pure); outcomes are read from the scratch and
posted to the scheduler's inbox, with the job's output.

Re-attach: before its first submission the executor asks the back end for
the jobs it still knows (:meth:`RemoteBackend.find_jobs`). A job of this
scheduler whose call is in flight there is adopted, not submitted again; one
that finished with a result is read back (when the job may use the cache).
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import repeat
from typing import TYPE_CHECKING, Any

from redun.errors import ExecutorError, UsageError
from redun.executors.base import Executor
from redun.executors.remote.backend import (
    Handle,
    RemoteBackend,
    Submission,
    job_name,
)
from redun.executors.remote.errors import ProtocolError
from redun.executors.remote.flight import Flight, unshown, unshown_merged
from redun.executors.remote.outcomes import read_outcome
from redun.executors.remote.package import build_package, ensure_uploaded, package_options
from redun.executors.remote.protocol import (
    call_spec,
    encode_calls,
    job_label,
    outcome_value,
    task_location,
)
from redun.executors.remote.reattach import Adoptable, index_calls
from redun.executors.remote.scratch import ARRAY_PREFIX, Scratch
from redun.executors.remote.states import Act, Instruction, Phase, Told, Verdict, decide, settle

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler
    from redun.scheduler.job import Job

logger = logging.getLogger("redun.remote")

MIN_POLL_INTERVAL = 0.05


def _bool(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _float(config: dict, key: str, default: float) -> float:
    value = config.get(key)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise UsageError(f"{key} = {value!r} is not a number") from None


class RemoteExecutor(Executor):
    """Runs jobs on a remote platform through a :class:`RemoteBackend`.

    Configuration (``[executors.NAME]``): ``scratch`` (required), ``code_root``
    (default: the working directory), ``code_includes`` / ``code_excludes``
    (space-separated globs), ``code_package`` (true; false when the job's image
    already holds the code), ``poll_interval`` (seconds), ``reattach`` (true),
    ``max_array_size``, plus the back end's own keys.

    Args:
        name: the executor's name.
        scheduler: the scheduler it reports to.
        config: its configuration section.
        backend: the back end; subclasses build theirs in :meth:`make_backend`.
    """

    reports_start = True  # jobs stay pending until the platform says queued or running

    def __init__(
        self,
        name: str,
        scheduler: Scheduler | None = None,
        config: Any = None,
        *,
        backend: RemoteBackend | None = None,
    ) -> None:
        super().__init__(name, scheduler, config)
        self.backend = backend if backend is not None else self.make_backend()
        if not str(self.config.get("scratch") or "").strip():
            raise UsageError(
                f"[executors.{name}] needs scratch = PATH_OR_URL: where calls, results and "
                "code packages go (a directory, file://, s3:// or gs:// URL)"
            )
        self.scratch = Scratch(self.config["scratch"])
        self.code_root = os.path.abspath(self.config.get("code_root") or os.getcwd())
        self.poll_interval = _float(self.config, "poll_interval", self.backend.poll_interval)
        self.lost_after = _float(self.config, "lost_after", self.backend.lost_after)
        self.reattach = _bool(self.config.get("reattach"), True)
        self.code_package = _bool(self.config.get("code_package"), True)
        # At a terminal (``redun run``), remote output is shown as local jobs' is.
        self.echo = _bool(self.config.get("echo"), sys.stdout.isatty())
        self.max_array_size = min(
            int(self.config.get("max_array_size") or self.backend.max_array_size),
            self.backend.max_array_size,
        )
        self.submissions = 0
        """Platform jobs submitted by this executor (a benchmark's figure)."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._queue: list[Job] = []
        self._submitting: set[str] = set()
        self._cancelled: set[str] = set()
        self._flights: dict[Handle, Flight] = {}
        self._where: dict[str, tuple[Flight, int]] = {}
        self._found: dict[str, Adoptable] | None = None
        self._package_url: str | None = None
        self._locations: dict[str, tuple[str, str]] = {}
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._prepared = False
        self._readers: ThreadPoolExecutor | None = None
        self._poll_failing_since: float | None = None

    def make_backend(self) -> RemoteBackend:
        """The back end of this executor type (subclasses override)."""
        raise ExecutorError(f"executor {self.name!r} has no remote back end")

    # -- the scheduler's side ------------------------------------------------------
    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping = False
                self._thread = threading.Thread(
                    target=self._work, name=f"redun-remote-{self.name}", daemon=True
                )
                self._thread.start()

    def submit(self, job: Job) -> None:
        self.submit_batch([job])

    def submit_batch(self, jobs: list[Job]) -> None:
        with self._lock:
            self._queue.extend(jobs)
        self.start()
        self._wake.set()

    def cancel(self, job: Job) -> None:
        self.cancel_batch([job])

    def cancel_batch(self, jobs: list[Job]) -> None:
        """Stop these jobs; a platform job is cancelled once none of its elements is wanted."""
        handles: list[Handle] = []
        elements: dict[Handle, list[int]] = {}
        with self._lock:
            ids = {job.id for job in jobs}
            if self._queue:
                self._queue = [job for job in self._queue if job.id not in ids]
            for job_id in ids:
                if job_id in self._submitting:
                    self._cancelled.add(job_id)
                where = self._where.pop(job_id, None)
                if where is None:
                    continue
                flight, index = where
                flight.unwatch(index)
                if not flight.jobs:
                    if self._flights.pop(flight.handle, None) is not None:
                        handles.append(flight.handle)
                elif flight.array:
                    elements.setdefault(flight.handle, []).append(index)
        for handle, indexes in elements.items():
            if handle in handles:
                continue  # its last wanted element went too: the whole array stops
            try:
                self.backend.cancel_elements(handle, sorted(indexes))
            except Exception as error:
                logger.warning(
                    "executor %s: cancelling element(s) %s of %s failed: %s",
                    self.name,
                    sorted(indexes),
                    handle,
                    error,
                )
        self._cancel_handles(handles)

    def _cancel_handles(self, handles: list[Handle]) -> None:
        if not handles:
            return
        try:
            self.backend.cancel(handles)
        except Exception as error:
            logger.warning(
                "executor %s: cancelling %d job(s) failed: %s", self.name, len(handles), error
            )
        for handle in handles:
            self.backend.forget(handle)

    def stop(self) -> None:
        """Stop the worker and cancel every platform job still watched: nothing keeps running."""
        with self._lock:
            self._stopping = True
            thread, self._thread = self._thread, None
            handles = list(self._flights)
            self._flights.clear()
            self._where.clear()
            self._queue.clear()
            self._prepared = False  # the back end is stopped: a later submit starts over
            self._found = None
        self._wake.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self._cancel_handles(handles)
        if self._readers is not None:
            self._readers.shutdown(wait=False)
            self._readers = None
        try:
            self.backend.stop()
        except Exception as error:
            logger.warning("executor %s: stopping its back end failed: %s", self.name, error)

    # -- the worker thread -------------------------------------------------------------
    def _work(self) -> None:
        interval = MIN_POLL_INTERVAL
        next_poll = 0.0
        while True:
            with self._lock:
                if self._stopping:
                    return
                jobs, self._queue = self._queue, []
                busy = bool(self._flights)
            if jobs:
                self._guard(self._submit_jobs, jobs)
                interval = MIN_POLL_INTERVAL
                next_poll = time.monotonic() + interval
                continue
            now = time.monotonic()
            if busy and now >= next_poll:
                self._poll_or_give_up()
                # Quick jobs are seen quickly after their submission; long ones are
                # polled every poll_interval (a poll's cost is per poll, not per job).
                interval = min(self.poll_interval, interval * 1.5)
                next_poll = time.monotonic() + interval
                continue
            self._wake.wait(max(0.0, next_poll - now) if busy else None)
            self._wake.clear()

    def _poll_or_give_up(self) -> None:
        """Poll; if the platform cannot be polled for ``lost_after`` seconds, fail its jobs."""
        try:
            self._poll()
        except Exception as error:
            now = time.monotonic()
            if self._poll_failing_since is None:
                self._poll_failing_since = now
            logger.warning("executor %s: polling failed: %s", self.name, error)
            if now - self._poll_failing_since < self.lost_after:
                return
            with self._lock:
                watched = [job for flight in self._flights.values() for job in flight.jobs.values()]
                handles = list(self._flights)
                self._flights.clear()
                self._where.clear()
            seconds = now - self._poll_failing_since
            for job in watched:
                failure = ExecutorError(
                    f"executor {self.name!r} could not poll its platform for {seconds:.0f}s: "
                    f"{error}"
                )
                self._fail(job, _no_retry(failure))
            self._cancel_handles(handles)
            self._poll_failing_since = None
        else:
            self._poll_failing_since = None

    def _guard(self, step: Callable, *args: Any) -> Any:
        try:
            return step(*args)
        except Exception as error:  # the worker must outlive any one failure
            logger.exception("executor %s: %s failed: %s", self.name, step.__name__, error)
            return None

    # -- submitting ------------------------------------------------------------------------
    def _prepare(self) -> None:
        """Once: start the back end, upload the code package, learn what is in flight."""
        if self._prepared:
            return
        self.backend.start()
        if self.code_package:
            package = build_package(self.code_root, *package_options(self.config))
            self._package_url, uploaded = ensure_uploaded(self.scratch, package)
            logger.debug(
                "executor %s: code package %s (%d files) %s",
                self.name,
                package.digest[:12],
                len(package.files),
                "uploaded" if uploaded else "already in the scratch",
            )
        if self.reattach:
            self._found = index_calls(self.backend.find_jobs(), self.scratch)
        self._prepared = True

    def _submit_jobs(self, jobs: list[Job]) -> None:
        try:
            self._prepare()
        except Exception as error:
            for job in jobs:
                self._fail(job, _no_retry(error))
            return
        fresh = [job for job in jobs if not self._reattach(job)]
        groups: dict[tuple[str, str], list[Job]] = {}
        for job in fresh:
            overrides = job.task._task_options_override
            key = (job.task.fullname, repr(sorted(overrides.items())) if overrides else "")
            groups.setdefault(key, []).append(job)
        for group in groups.values():
            for start in range(0, len(group), self.max_array_size):
                self._submit_group(group[start : start + self.max_array_size])

    def _location(self, job: Job) -> tuple[str, str]:
        task = job.task
        found = self._locations.get(task.fullname)
        if found is None:
            module = sys.modules.get(task.func.__module__)
            found = task_location(
                task.load_module, getattr(module, "__file__", None), self.code_root
            )
            self._locations[task.fullname] = found
        return found

    def _submit_group(self, group: list[Job]) -> None:
        token = os.urandom(8).hex()
        jobs: list[Job] = []
        calls: list[bytes] = []
        for job in group:
            module, path = self._location(job)
            try:
                spec = call_spec(job, module=module, path=path, token=token)
                calls.append(pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL))
            except Exception as error:
                self._fail(job, _no_retry(error))
                continue
            jobs.append(job)
        if not jobs:
            return
        array = len(jobs) > 1
        key = ARRAY_PREFIX + token if array else jobs[0].eval_hash
        call_ids = [job.eval_hash for job in jobs]  # a job's call id: known before it runs
        first = jobs[0]
        with self._lock:
            self._submitting.update(job.id for job in jobs)
        try:
            self.scratch.write(self.scratch.calls_url(key), encode_calls(token, call_ids, calls))
            submission = Submission(
                key=key,
                token=token,
                name=job_name(key, token),
                size=len(jobs) if array else None,
                command=self.command(key),
                task_name=first.task.fullname,
                options=dict(first.options),
                labels={
                    "redun-run": first.execution.id if first.execution is not None else "",
                    "redun-key": key,
                    "redun-token": token,
                    "redun-task": first.task.fullname,
                },
                scratch=self.scratch.root,
            )
            handle = self.backend.submit(submission)
        except Exception as error:
            with self._lock:
                self._submitting.difference_update(job.id for job in jobs)
                self._cancelled.difference_update(job.id for job in jobs)
            what = f"an array of {len(jobs)}" if array else job_label(first.id, first.task.fullname)
            failure = ExecutorError(f"executor {self.name!r} could not submit {what}: {error}")
            failure.__cause__ = error
            for job in jobs:
                self._fail(job, _no_retry(failure))
            return
        self.submissions += 1
        flight = Flight(handle, key, token, array)
        cancel = False
        with self._lock:
            for index, job in enumerate(jobs):
                self._submitting.discard(job.id)
                if job.id in self._cancelled:
                    self._cancelled.discard(job.id)
                    continue
                flight.watch(index, job)
                flight.seen[index].told = Told.QUEUED
                self._where[job.id] = (flight, index)
            if flight.jobs and not self._stopping:
                self._flights[handle] = flight
            else:
                cancel = True
        if cancel:
            self._cancel_handles([handle])
            return
        # The platform accepted it: it waits in the platform's queue.
        scheduler = self.scheduler
        for job in flight.jobs.values():
            scheduler.job_queued(job)

    def command(self, key: str) -> list[str]:
        """The entrypoint's command line for the submission ``key``.

        Without a code package (``code_package = false``) the job imports the
        tasks' modules from its own environment (the image).
        """
        code = ["--code", self._package_url] if self._package_url else []
        return ["redun", "oneshot", "--scratch", self.scratch.root, *code, key]

    # -- re-attaching -------------------------------------------------------------------
    def _reattach(self, job: Job) -> bool:
        """Adopt ``job``'s call if the platform runs it, or read back its result; else False."""
        if not self._found:
            return False
        entry = self._found.pop(job.eval_hash, None)
        if entry is None:
            return False
        found, index, token = entry.found, entry.index, entry.token
        observed = entry.observed
        if not observed.phase.is_final:
            with self._lock:
                flight = self._flights.get(found.handle)
                if flight is None:
                    flight = Flight(found.handle, entry.key, token, entry.array, adopted=True)
                    self._flights[found.handle] = flight
                flight.watch(index, job)
                self._where[job.id] = (flight, index)
            self._log(
                job, "stderr", f"[redun] re-attached to {found.name}, submitted by an earlier run\n"
            )
            return True
        if observed.phase is not Phase.SUCCEEDED or not (
            job.task.cache and self.scheduler.use_cache
        ):
            return False
        label = job_label(job.id, job.task.fullname)
        outcome, problem = read_outcome(self.scratch, job.eval_hash, label, token)
        settled = settle(
            observed.phase,
            observed.reason,
            outcome,
            problem,
            token=token,
            label=label,
            where=self.scratch.call_dir(job.eval_hash),
        )
        if (
            settled.verdict is not Verdict.OUTCOME
            or not settled.outcome
            or not settled.outcome["ok"]
        ):
            return False
        self._log(
            job,
            "stderr",
            f"[redun] read the result of {found.name}, finished after an earlier run\n",
        )
        self._deliver(job, settled.outcome, output=settled.outcome.get("output") or [])
        return True

    # -- polling --------------------------------------------------------------------------
    def _poll(self) -> bool:
        """Poll every job in flight once; True if anything changed."""
        with self._lock:
            flights = list(self._flights.values())
        if not flights:
            return False
        reports = self.backend.poll([flight.handle for flight in flights])
        now = time.time()
        work: list[tuple[Flight, Instruction, Job]] = []
        with self._lock:
            for flight in flights:
                if not flight.jobs:
                    continue
                report = reports.get(flight.handle)
                full = (
                    report is None
                    or not flight.array
                    or flight.dirty
                    or report.phase is not flight.phase
                )
                flight.dirty = False
                flight.phase = report.phase if report is not None else None
                instructions = decide(
                    flight.seen,
                    report,
                    array=flight.array,
                    now=now,
                    lost_after=self.lost_after,
                    only=None if full or report is None else list(report.elements),
                )
                for instruction in instructions:
                    job = flight.jobs.get(instruction.index)
                    if job is not None:
                        work.append((flight, instruction, job))
        if self.backend.live_logs:
            self._tail_running(flights)
        if not work:
            return False
        finals: list[tuple[Flight, Instruction, Job]] = []
        scheduler = self.scheduler
        for flight, instruction, job in work:
            act = instruction.act
            if act is Act.QUEUED:
                scheduler.job_queued(job)
            elif act is Act.RUNNING:
                flight.running.add(instruction.index)
                scheduler.job_started(job)
            elif act is Act.NOTE:
                self._log(job, "stderr", f"[redun] {self.name}: {instruction.text}\n")
            else:
                finals.append((flight, instruction, job))
        if finals:
            self._collect(finals)
        return True

    def _tail_running(self, flights: list[Flight]) -> None:
        for flight in flights:
            for index in list(flight.running):
                job = flight.jobs.get(index)
                if job is not None:
                    self._post_logs(flight, index, job, final=False)

    def _post_logs(self, flight: Flight, index: int, job: Job, *, final: bool) -> None:
        try:
            chunks = self.backend.read_logs(
                flight.handle, index if flight.array else None, final=final
            )
        except Exception as error:
            logger.debug("executor %s: reading logs failed: %s", self.name, error)
            return
        for stream, text in chunks:
            flight.remember_output(index, text)
            if not self.backend.live_logs_complete:
                flight.remember_shown(index, stream, text)
            self._log(job, stream, text)

    def _collect(self, finals: list[tuple[Flight, Instruction, Job]]) -> None:
        """Read the outcomes of finished elements (in parallel on object stores) and post them."""
        labels = [job_label(job.id, job.task.fullname) for _, _, job in finals]
        call_ids = [job.eval_hash for _, _, job in finals]
        tokens = [flight.token for flight, _, _ in finals]
        if self.scratch.local or len(finals) == 1:
            read = [read_outcome(self.scratch, *args) for args in zip(call_ids, labels, tokens)]
        else:
            if self._readers is None:
                self._readers = ThreadPoolExecutor(16, thread_name_prefix=f"redun-read-{self.name}")
            read = list(
                self._readers.map(read_outcome, repeat(self.scratch), call_ids, labels, tokens)
            )
        emptied: list[Handle] = []
        for (flight, instruction, job), call_id, label, (outcome, problem) in zip(
            finals, call_ids, labels, read
        ):
            with self._lock:
                if self._where.get(job.id, (None, 0))[0] is not flight:
                    continue  # cancelled meanwhile
                del self._where[job.id]
            if self.backend.live_logs:
                self._post_logs(flight, instruction.index, job, final=True)
            settled = settle(
                instruction.phase,
                instruction.text,
                outcome,
                problem,
                token=flight.token,
                label=label,
                where=self.scratch.call_dir(call_id),
            )
            if settled.verdict is Verdict.OUTCOME:
                assert settled.outcome is not None
                if not self.backend.live_logs:
                    output = settled.outcome.get("output") or []
                elif self.backend.live_logs_complete:
                    output = []
                else:  # the tails may have missed lines: post what they did not show
                    shown = flight.shown_text(instruction.index)
                    captured = settled.outcome.get("output") or []
                    if self.backend.log_streams_merged:
                        output = unshown_merged(captured, "".join(shown.values()))
                    else:
                        output = unshown(captured, shown)
                self._deliver(job, settled.outcome, output=output)
            else:
                error = settled.error
                assert error is not None
                tail = flight.tail_text(instruction.index)
                if tail:
                    error.__redun_traceback__ = (  # type: ignore[attr-defined]
                        f"{error}\n\nOutput of the job (last lines):\n{tail}"
                    )
                if settled.verdict is Verdict.RETRY:
                    retries = int(job.options.get("retries", 0) or 0)
                    more = (
                        "retrying"
                        if job.attempt < retries
                        else f"no retries left (retries={retries})"
                    )
                    self._log(job, "stderr", f"[redun] {error}; {more}\n")
                    self._fail(job, error)
                else:
                    self._fail(job, _no_retry(error))
            with self._lock:
                flight.unwatch(instruction.index)
                if not flight.jobs and self._flights.pop(flight.handle, None) is not None:
                    emptied.append(flight.handle)
        for handle in emptied:
            self.backend.forget(handle)

    def _deliver(self, job: Job, outcome: dict, *, output: list[tuple[str, str]]) -> None:
        scheduler = self.scheduler
        for stream, text in output:
            self._log(job, stream, text)
        try:
            ok, value = outcome_value(outcome, job_label(job.id, job.task.fullname))
        except ProtocolError as problem:
            self._fail(job, _no_retry(problem))
            return
        if ok:
            scheduler.done_job(job, value)
        else:
            scheduler.reject_job(job, value)

    def _log(self, job: Job, stream: str, text: str) -> None:
        """``text`` becomes part of ``job``'s captured output (and is shown, with ``echo``)."""
        self.scheduler.post_log(job, stream, text)
        if self.echo:
            try:
                getattr(sys, stream, sys.stderr).write(text)
            except (OSError, ValueError):
                pass

    def _fail(self, job: Job, error: BaseException) -> None:
        self.scheduler.reject_job(job, error)


def _no_retry(error: BaseException) -> BaseException:
    """Mark ``error`` as not worth retrying (the scheduler retries other errors)."""
    try:
        error.__redun_no_retry__ = True  # type: ignore[attr-defined]
    except Exception:
        pass
    return error
