"""The default executor: a pool of threads in the scheduler's process."""

from __future__ import annotations

import threading
import time
import weakref
from queue import SimpleQueue
from typing import TYPE_CHECKING, Any

from redun.config import parse_flag
from redun.executors.base import Executor

if TYPE_CHECKING:
    from redun.scheduler.async_tasks import AsyncRunner
    from redun.scheduler.core import Scheduler
    from redun.scheduler.job import Job

_STOP = None

# A job of a task whose last run took less than this (seconds) may run on the
# scheduler's thread when it is the run's only work (see ThreadExecutor.runs_inline).
INLINE_MAX = 0.001
# Seconds after which a pool that quick jobs kept small checks that its threads are not
# all held by jobs that turned out slow (no job finished since): then it grows at once.
GROW_CHECK = 0.01


class ThreadExecutor(Executor):
    """Runs each job's function on one of ``max_workers`` threads (started on demand).

    The pool grows one thread at a time, by the threads themselves: a worker that
    takes a job while others wait with no idle thread to take them starts another
    thread, unless the job's task is known to be quick. Jobs that block (I/O,
    sleeps, subprocesses) so get their ``max_workers`` threads within a few
    milliseconds, while a fan-out of quick calls runs on two or three, not twenty
    threads taking the interpreter's lock in turns (a cold 1,000-call fan-out spends
    a sixth less time). Should known-quick jobs turn slow and hold every thread, a
    check ``GROW_CHECK`` later, finding no job finished since, starts the rest.

    The threads outlive a run (the next run of the same scheduler reuses them) but
    not the executor: they hold it only weakly between jobs, and end when it is
    collected, so a script or a test suite that makes many schedulers does not
    keep every one of them, their threads and their last job graph alive.
    """

    reports_start = True

    def __init__(
        self,
        name: str = "default",
        scheduler: Scheduler | None = None,
        config: Any = None,
        *,
        max_workers: int | None = None,
    ) -> None:
        super().__init__(name, scheduler, config)
        self.max_workers = int(max_workers or self.config.get("max_workers", 20))
        self._queue: SimpleQueue[Job | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._waiting = 0  # jobs queued that no thread has taken yet
        self._finished = 0  # jobs run to the end (the growth check's sign of progress)
        self._check: threading.Timer | None = None
        self._lock = threading.Lock()
        self._async: AsyncRunner | None = None
        # Whether jobs of quick tasks may run on the scheduler's thread (runs_inline);
        # ``inline = false`` turns it off, for tasks that need a thread of their own. Off
        # by default with a single worker: every job then runs on that one thread, which
        # code that keeps thread-bound objects (a sqlite3 connection) relies on.
        self.inline = parse_flag(
            self.config.get("inline"), self.max_workers > 1, f"[executors.{name}] inline"
        )
        # Task hash -> whether its last run was quick (under INLINE_MAX).
        self._quick: dict[str, bool] = {}
        weakref.finalize(self, _end_workers, self._queue, self._threads)

    def supports_async(self) -> bool:
        return True

    def submit(self, job: Job) -> None:
        if job.task.is_coroutine:
            self._async_runner().submit(self.scheduler, job)
            return
        self._queue.put(job)
        self._grow(1)

    def submit_batch(self, jobs: list[Job]) -> None:
        put = self._queue.put
        queued = 0
        for job in jobs:
            if job.task.is_coroutine:
                # `async def` tasks share one event loop instead of holding a thread each.
                self._async_runner().submit(self.scheduler, job)
                continue
            put(job)
            queued += 1
        if queued:
            self._grow(queued)

    def runs_inline(self, job: Job) -> bool:
        """Yes for a task whose last run here was quick: running it on the scheduler's
        thread, when nothing else of the run is out, saves two thread hand-offs (a
        chain of small steps runs ~25% faster) and loses no parallelism. A task not yet
        seen, or seen slow, goes to a worker, so that a long job never holds up the
        scheduler (its output and a cancel are handled while it runs)."""
        return self.inline and self._quick.get(job.task.hash, False)

    def run_inline(self, job: Job) -> None:
        self._run_timed(job, inline=True)

    def _run_timed(self, job: Job, inline: bool = False) -> None:
        """Run ``job``'s function here (a worker, or the scheduler's thread) and note
        whether it was quick."""
        start = time.perf_counter()
        self.scheduler.run_job_function(job, inline=inline)
        self._quick[job.task.hash] = time.perf_counter() - start < INLINE_MAX

    def _async_runner(self) -> AsyncRunner:
        if self._async is None:
            from redun.scheduler.async_tasks import AsyncRunner

            self._async = AsyncRunner(self.name)
        return self._async

    def _grow(self, wanted: int) -> None:
        with self._lock:
            self._waiting += wanted
            if self._spare() > 0:
                self._start_thread()  # it starts more if its job is not a quick one

    def _spare(self) -> int:
        """Threads the queued jobs could use (call with the lock held): every queued job
        not yet taken needs an idle thread, not only the new ones (a thread started for
        an earlier job may not have taken it yet), within ``max_workers``."""
        return min(self._waiting - self._idle, self.max_workers - len(self._threads))

    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=_work,
            args=(weakref.ref(self), self._queue),
            name=f"redun-{self.name}-{len(self._threads)}",
            daemon=True,
        )
        self._threads.append(thread)
        self._idle += 1
        thread.start()

    def _arm_check(self) -> None:
        """Check in ``GROW_CHECK`` seconds that jobs still finish (lock held)."""
        if self._check is None:
            check = threading.Timer(
                GROW_CHECK, _check_growth, args=(weakref.ref(self), self._finished)
            )
            check.daemon = True
            self._check = check
            check.start()

    def _run_one(self, job: Job) -> None:
        lock = self._lock
        with lock:
            self._idle -= 1
            self._waiting -= 1
            if self._spare() > 0:
                if self._quick.get(job.task.hash, False):
                    self._arm_check()
                else:
                    self._start_thread()
        self._run_timed(job)
        with lock:
            self._idle += 1
            self._finished += 1

    def stop(self) -> None:
        with self._lock:
            threads = list(self._threads)
            self._threads.clear()
            if self._check is not None:
                self._check.cancel()
                self._check = None
            self._idle = 0
            self._waiting = 0
        for _ in threads:
            self._queue.put(_STOP)
        for thread in threads:
            thread.join(timeout=0.5)
        if self._async is not None:
            self._async.stop()
            self._async = None


def _work(executor_ref: weakref.ref[ThreadExecutor], queue: SimpleQueue[Job | None]) -> None:
    """A worker thread: run the queued jobs, holding the executor only while running one."""
    get = queue.get
    while True:
        job = get()
        if job is _STOP:
            return
        executor = executor_ref()
        if executor is None:
            return
        executor._run_one(job)
        del executor, job


def _check_growth(executor_ref: weakref.ref[ThreadExecutor], finished: int) -> None:
    """The growth check (see ThreadExecutor): no job finished since it was armed while
    jobs wait, so every thread is held: start threads for the waiting jobs."""
    executor = executor_ref()
    if executor is None:
        return
    with executor._lock:
        executor._check = None
        spare = executor._spare()
        if spare <= 0:
            return
        if executor._finished == finished:
            for _ in range(spare):
                executor._start_thread()
        else:
            executor._arm_check()


def _end_workers(queue: SimpleQueue[Job | None], threads: list[threading.Thread]) -> None:
    """The executor is gone: its idle threads end (a busy one after its job)."""
    for _ in threads:
        queue.put(_STOP)
