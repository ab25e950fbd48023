"""Run jobs in worker processes.

Tasks must be importable in the worker: the worker imports the task's module
(by name, or from the file it was loaded from) and looks the task up in its
own registry. Jobs travel in batches to amortise the process hop.

What a job prints reaches the scheduler while it runs: each worker sends its
lines through a queue the pool shares, and a thread of the executor posts them
as the job's log lines. The job's result carries all its lines too; those not
yet posted when the result arrives are posted then, before the result, so a
job's log is whole and in order whichever way its lines came.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import multiprocessing
import os
import pickle
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

from redun.errors import ExecutorError, UsageError
from redun.executors.base import Executor

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler
    from redun.scheduler.job import Job


# A task whose last job took less than this (seconds) is quick: its jobs travel to
# the workers in chunks, to amortise the process hop; others go one job at a time.
QUICK = 0.01
# Seconds with jobs waiting and none finished after which the pool starts more workers.
GROW_AFTER = 0.05
# Checks for a stall come every GROW_AFTER, then less often (up to this, in seconds)
# while they find the workers busy computing: a long CPU-bound fan-out is not polled
# twenty times a second for hours.
CHECK_AT_MOST = 1.0
# A job that kept its worker's CPU busy this fraction of its time is CPU-bound:
# more workers than CPUs do not make such jobs finish sooner.
CPU_BOUND = 0.7


class ProcessExecutor(Executor):
    """Runs jobs on up to ``max_workers`` processes (spawned, so no state leaks from the
    parent); 20 by default, as in redun.

    Workers start as work needs them, one per CPU at first: a fan-out of quick
    calls runs on as many processes as there are CPUs, in chunks of calls, and
    pays for no more interpreter start-ups than that. Jobs of a task seen to be
    slow go one at a time (a fan-out of unseen ones in chunks small enough for
    ``max_workers``). When jobs wait, every worker is up and none finished for
    ``GROW_AFTER`` seconds (the jobs sleep, wait on I/O or subprocesses), the
    pool doubles, up to ``max_workers``, unless its workers keep their CPUs
    busy (read from ``/proc`` on Linux) or the waiting jobs' task was seen to:
    more processes than CPUs would not finish such jobs sooner.
    """

    def __init__(
        self,
        name: str = "processes",
        scheduler: Scheduler | None = None,
        config: Any = None,
        *,
        max_workers: int | None = None,
        start_method: str | None = None,
    ) -> None:
        super().__init__(name, scheduler, config)
        self.max_workers = int(max_workers or self.config.get("max_workers", 20))
        if self.max_workers < 1:
            raise UsageError(f"[executors.{name}] max_workers must be at least 1")
        self.start_method = start_method or self.config.get("start_method", "spawn")
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._waiting: deque[tuple[list[Job], bytes]] = deque()
        self._out = 0  # chunks handed to the pool and not back yet
        self._cpus = os.cpu_count() or 2
        self._limit = min(self.max_workers, self._cpus)  # chunks out at once
        self._last_done = 0.0  # when a chunk last came back, or a worker came up
        self._timer: threading.Timer | None = None
        self._check_every = GROW_AFTER
        self._up: Any = None  # shared: how many workers have started, and their pids
        self._up_seen = 0
        self._cpu_mark: tuple[float, float | None] | None = None  # (when, CPU seconds)
        # Task hash -> (its last job was quick, it kept its CPU busy).
        self._seen: dict[str, tuple[bool, bool]] = {}
        self._lines: Any = None  # the pool's queue of live output lines
        # Attempt key (job id/attempt) -> (the job, its lines posted so far), for the
        # attempts handed over: a late line of an earlier attempt is not the new one's.
        self._live: dict[str, tuple[Job, int]] = {}

    def start(self) -> None:
        with self._lock:
            self._ensure_pool()

    def _ensure_pool(self) -> ProcessPoolExecutor:
        """The pool, made if there is none (the first job, or the last pool broke)."""
        if self._pool is None:
            context = multiprocessing.get_context(self.start_method)
            self._up = context.Array("i", self.max_workers + 1)  # [count, pid, pid, ...]
            self._up_seen = 0
            self._cpu_mark = None
            self._lines = context.SimpleQueue()
            # Workers echo their jobs' lines to the output they inherit (redun run's
            # terminal), unless this process's stdout says job output written to it is
            # already shipped as log events (a daemon's runner): they would show twice.
            echo = not getattr(sys.stdout, "quiet_for_jobs", False)
            # Processes are spawned as chunks are handed over, never more than are out.
            self._pool = ProcessPoolExecutor(
                self.max_workers,
                mp_context=context,
                initializer=_worker_up,
                initargs=(self._up, self._lines, echo),
            )
            threading.Thread(
                target=self._post_lines,
                args=(self._lines,),
                name=f"redun-{self.name}-output",
                daemon=True,
            ).start()
        return self._pool

    def _post_lines(self, lines: Any) -> None:
        """Post the lines the workers send as their jobs' log lines, until told to stop."""
        while True:
            try:
                item = lines.get()
            except (EOFError, OSError):
                return
            if item is None:
                return
            key, stream, text = item
            with self._lock:
                entry = self._live.get(key)
                if entry is None:
                    continue  # its result came first, with this line
                job, posted = entry
                self._live[key] = (job, posted + 1)
                # Posted under the lock: the result's thread then posts the rest.
                self.scheduler.post_log(job, stream, text)

    def submit(self, job: Job) -> None:
        self.submit_batch([job])

    def submit_batch(self, jobs: list[Job]) -> None:
        quick: list[Job] = []
        others: list[Job] = []
        for job in jobs:
            (quick if self._seen.get(job.task.hash, (False, False))[0] else others).append(job)
        # Quick jobs fill each worker twice over; the others go one by one, except a
        # fan-out of unseen ones, cut so that every possible worker gets two chunks.
        chunks = _chunks(quick, len(quick) // (self._limit * 2))
        chunks += _chunks(others, len(others) // (self.max_workers * 2))
        ready = []
        for chunk in chunks:
            try:
                ready.append((chunk, pickle.dumps([_describe(job) for job in chunk])))
            except Exception as exc:
                for job in chunk:
                    self.scheduler.reject_job(
                        job,
                        ExecutorError(
                            f"cannot send job {job.task.fullname} to a worker process: {exc}"
                        ),
                    )
        with self._lock:
            self._waiting.extend(ready)
        self._hand_over()

    def _hand_over(self) -> None:
        """Give the pool waiting chunks, as many as may be out; watch the rest."""
        with self._lock:
            if not self._waiting:
                return
            pool = self._ensure_pool()
            taken = []
            while self._waiting and self._out < self._limit:
                chunk, payload = self._waiting.popleft()
                taken.append((chunk, payload))
                self._out += 1
                for job in chunk:
                    self._live[_attempt_key(job)] = (job, 0)
            watch = bool(self._waiting) and self._limit < self.max_workers and not self._timer
            if watch:
                self._timer = threading.Timer(self._check_every, self._maybe_grow)
                self._timer.daemon = True
        for chunk, payload in taken:
            try:
                future = pool.submit(_run_batch, payload)
            except RuntimeError as exc:  # stopped meanwhile
                future = Future()
                future.set_exception(exc)
            future.add_done_callback(functools.partial(self._on_done, chunk=chunk, pool=pool))
        if watch:
            assert self._timer is not None
            self._timer.start()

    def _maybe_grow(self) -> None:
        """Double the pool if jobs wait while every worker is up and none finished lately.

        A worker's start-up (an interpreter importing redun) is not a stall: the
        clock starts when the last of the workers came up.
        """
        with self._lock:
            self._timer = None
            if not self._waiting or self._pool is None or self._up is None:
                return
            now = time.monotonic()
            up = self._up[0]
            if up != self._up_seen:
                self._up_seen = up
                self._last_done = now
            busy = self._workers_busy(now, up)
            task = self._waiting[0][0][0].task
            cpu_bound = busy or self._seen.get(task.hash, (False, False))[1]
            held = cpu_bound and self._limit >= self._cpus
            if up >= self._limit and now - self._last_done >= GROW_AFTER and not held:
                self._limit = min(self.max_workers, self._limit * 2)
            # Busy workers: look again later, and sooner once they are not.
            self._check_every = min(CHECK_AT_MOST, self._check_every * 2) if held else GROW_AFTER
        self._hand_over()

    def _workers_busy(self, now: float, up: int) -> bool:
        """Whether the workers kept their CPUs busy since the last look (Linux: from
        ``/proc``; elsewhere never known, so the pool grows on a stall alone)."""
        seconds = _cpu_seconds(self._up[1 : 1 + up])
        mark, self._cpu_mark = self._cpu_mark, (now, seconds)
        if mark is None or seconds is None or mark[1] is None or not up:
            return False
        elapsed = now - mark[0]
        return elapsed > 0 and (seconds - mark[1]) >= CPU_BOUND * elapsed * min(up, self._cpus)

    def _on_done(self, future: Future, *, chunk: list[Job], pool: ProcessPoolExecutor) -> None:
        broken = not future.cancelled() and isinstance(future.exception(), BrokenProcessPool)
        with self._lock:
            self._out -= 1
            self._last_done = time.monotonic()
            lines = None
            if broken and self._pool is pool:
                # A worker died (os._exit, a signal, out of memory): the pool fails every
                # chunk it holds; chunks still waiting go to a new one.
                self._pool = None
                lines, self._lines = self._lines, None
                self._limit = min(self.max_workers, self._cpus)
        if broken:
            _close(pool, lines)
        try:
            self._deliver(future, chunk)
        finally:
            self._hand_over()

    def _deliver(self, future: Future, chunk: list[Job]) -> None:
        scheduler = self.scheduler
        with self._lock:  # from now on, their lines come with their outcomes only
            posted = [self._live.pop(_attempt_key(job), (job, 0))[1] for job in chunk]
        try:
            outcomes = pickle.loads(future.result())
        except Exception as exc:
            for job in chunk:
                if isinstance(exc, BrokenProcessPool):
                    reason = (
                        f"a worker process died while it ran {job.task.fullname} or a job "
                        "beside it (it exited, was killed, or ran out of memory)"
                    )
                else:
                    reason = f"worker process failed running {job.task.fullname}: {exc}"
                scheduler.reject_job(job, ExecutorError(reason))
            return
        for job, seen, (ok, value, logs, wall, cpu) in zip(chunk, posted, outcomes):
            self._seen[job.task.hash] = (wall < QUICK, wall >= QUICK and cpu >= CPU_BOUND * wall)
            for stream, text in logs[seen:]:
                scheduler.post_log(job, stream, text)
            if ok:
                scheduler.done_job(job, value)
            else:
                scheduler.reject_job(job, value)

    def stop(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            lines, self._lines = self._lines, None
            self._live.clear()
            self._waiting.clear()
            timer, self._timer = self._timer, None
            # Chunks out still call back (cancelled, or done), which counts them back.
            self._limit = min(self.max_workers, self._cpus)
        if timer is not None:
            timer.cancel()
        if pool is not None:
            _close(pool, lines)


def _close(pool: ProcessPoolExecutor, lines: Any) -> None:
    """Shut ``pool`` down, without waiting here: once its processes are gone (one may
    still be starting, and needs the queue to start), end the thread posting its lines."""

    def close() -> None:
        pool.shutdown(wait=True, cancel_futures=True)
        if lines is not None:
            lines.put(None)

    threading.Thread(target=close, name="redun-process-pool-close", daemon=True).start()


_lines: Any = None  # in a worker: the queue its jobs' output lines go to


def _worker_up(up: Any, lines: Any, echo: bool) -> None:
    """A worker process's first act: count itself up, with its pid (see ``_maybe_grow``),
    keep the queue for its jobs' output, and unless ``echo``, show that output nowhere
    else (it is captured all the same)."""
    global _lines
    _lines = lines
    if not echo:
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the worker's life
    with up.get_lock():
        up[0] += 1
        if up[0] < len(up):
            up[up[0]] = os.getpid()


def _attempt_key(job: Job) -> str:
    return f"{job.id}/{job.attempt}"


def _live_sink(key: str, kept: list[tuple[str, str]]) -> Callable[[str, str], None]:
    """Keep each line for the job's result, and send it to the scheduler now."""
    queue = _lines

    def sink(stream: str, text: str) -> None:
        kept.append((stream, text))
        if queue is not None:
            try:
                queue.put((key, stream, text))
            except Exception:
                pass  # the scheduler has gone; the result still carries the line

    return sink


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(pids: list[int]) -> float | None:
    """CPU seconds the processes ``pids`` have used, from ``/proc``; None if unknown."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            return None
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / _TICKS


def _chunks(jobs: list[Job], size: int) -> list[list[Job]]:
    size = max(1, min(64, size))
    return [jobs[start : start + size] for start in range(0, len(jobs), size)]


def _describe(job: Job) -> tuple:
    func = job.task.func
    module = sys.modules.get(func.__module__)
    module_file = getattr(module, "__file__", None)
    return (
        job.task.load_module,
        module_file,
        job.task.fullname,
        job.task._task_options_override,
        job.call_args,
        job.kwargs,
        _attempt_key(job),
    )


def _ensure_module(name: str, path: str | None) -> None:
    if name in sys.modules:
        return
    from redun.workflow.freshness import FreshSourceLoader, watch_directory

    if path:
        directory = os.path.dirname(os.path.abspath(path))
        if directory not in sys.path:
            sys.path.insert(0, directory)
        # The workflow's modules as the scheduler's process loaded them: from the files.
        watch_directory(directory)
    try:
        importlib.import_module(name)
        return
    except ImportError:
        if not path:
            raise
    spec = importlib.util.spec_from_file_location(name, path, loader=FreshSourceLoader(name, path))
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


def _run_batch(payload: bytes) -> bytes:
    from redun.logs import JobOutput
    from redun.task import get_task_registry

    # (ok, value, log lines, seconds, CPU seconds): what a job printed is shown live by
    # the worker, sent to the scheduler as it is printed, and shipped back with its
    # outcome too (see the module's docstring).
    outcomes: list[tuple[bool, Any, list[tuple[str, str]], float, float]] = []
    calls = pickle.loads(payload)
    for module_name, module_file, fullname, overrides, args, kwargs, key in calls:
        logs: list[tuple[str, str]] = []
        value: Any = None
        ok = True
        started, started_cpu = time.perf_counter(), time.process_time()
        try:
            job_id = key.partition("/")[0]
            with JobOutput(_live_sink(key, logs), job_id=job_id, task_name=fullname):
                _ensure_module(module_name, module_file)
                task = get_task_registry().require(fullname)
                if overrides:
                    task = task.options(**overrides)
                if task.script:
                    from redun.scripting import run_script_task

                    value = run_script_task(task, args, kwargs)
                else:
                    value = task.func(*args, **kwargs)
        except Exception as error:
            error.__redun_traceback__ = traceback.format_exc()  # type: ignore[attr-defined]
            ok, value = False, error
        wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        outcomes.append((ok, value, logs, wall, cpu))
    try:
        return pickle.dumps(outcomes)
    except Exception:
        safe = []
        for ok, value, logs, wall, cpu in outcomes:
            try:
                pickle.dumps(value)
                safe.append((ok, value, logs, wall, cpu))
            except Exception as exc:
                failure = ExecutorError(f"result cannot be pickled: {exc!r}")
                safe.append((False, failure, logs, wall, cpu))
        return pickle.dumps(safe)
