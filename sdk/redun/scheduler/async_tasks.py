"""Tasks written as ``async def``, and ``await`` on expressions inside them.

Async jobs share one event loop, on a thread of its own (started on first
use by the executor that runs them): while one awaits, the others run, and
none holds a worker thread. ``await add(1, 2)`` inside such a task asks the
scheduler to evaluate the expression as a child of the awaiting job (the
call is cached and recorded like any other) and resumes the coroutine with
the value, or raises the task's error in it.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from redun.errors import ExpressionError

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler
    from redun.scheduler.job import Job

# The scheduler and job of the async task running in this (asyncio task's) context.
_async_env: contextvars.ContextVar[tuple[Scheduler, Job] | None] = contextvars.ContextVar(
    "redun_async_env", default=None
)


def await_expression(expr: Any) -> Generator[Any, None, Any]:
    """What ``await expr`` does (``Expression.__await__``)."""
    env = _async_env.get()
    if env is None:
        raise ExpressionError(
            f"cannot await {expr!r} here: an expression can be awaited only inside an "
            "`async def` task run by a redun Scheduler"
        )
    return _evaluate(env, expr).__await__()


async def _evaluate(env: tuple[Scheduler, Job], expr: Any) -> Any:
    scheduler, job = env
    loop = asyncio.get_running_loop()
    future: asyncio.Future = loop.create_future()

    def settle(ok: bool, value: Any) -> None:  # on the scheduler's thread
        loop.call_soon_threadsafe(_settle_future, future, ok, value)

    scheduler.evaluate_for_job(job, expr, settle)
    return await future


def _settle_future(future: asyncio.Future, ok: bool, value: Any) -> None:
    if future.done():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class AsyncRunner:
    """An event loop on its own thread that runs the async jobs of one executor."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _start(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                # Made in an empty context: the loop keeps handles (its wake-up pipe's
                # reader) that hold the context they were made in, and this thread's
                # names the scheduler, which the loop would then keep alive.
                loop = contextvars.Context().run(asyncio.new_event_loop)
                thread = threading.Thread(
                    target=_serve, args=(loop,), name=f"redun-{self.name}-async", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
                # The loop's thread ends with the runner (the executor that owns it).
                weakref.finalize(self, _stop_loop, loop)
            return self._loop

    def submit(self, scheduler: Scheduler, job: Job) -> None:
        """Run ``job``'s coroutine function on the loop; its outcome goes to ``scheduler``."""
        asyncio.run_coroutine_threadsafe(_run_job(scheduler, job), self._start())

    def stop(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return
        _stop_loop(loop)
        if thread is not None:
            thread.join(timeout=0.5)


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    try:
        loop.run_forever()
    finally:
        loop.close()


def _stop_loop(loop: asyncio.AbstractEventLoop) -> None:
    if not loop.is_closed():
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:  # closed meanwhile
            pass


async def _run_job(scheduler: Scheduler, job: Job) -> None:
    from redun.logs import JobOutput
    from redun.scheduler.current import set_job_context

    # This coroutine runs as its own asyncio task, in its own copy of the context.
    set_job_context(job)
    _async_env.set((scheduler, job))
    scheduler.job_started(job)
    task = job.task
    post: Callable[[Job, Any], None]
    try:
        with JobOutput(
            lambda stream, text: scheduler.post_log(job, stream, text),
            job_id=job.id,
            task_name=task.fullname,
        ):
            value = await task.func(*job.call_args, **job.kwargs)
    except BaseException as error:  # noqa: BLE001 - any error fails the job, not the loop
        post, value = scheduler.reject_job, error
    else:
        post = scheduler.done_job
    post(job, value)
