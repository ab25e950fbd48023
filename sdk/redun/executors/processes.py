"""Run jobs in worker processes.

Tasks must be importable in the worker: the worker imports the task's module
(by name, or from the file it was loaded from) and looks the task up in its
own registry. Jobs travel in batches to amortise the process hop.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import multiprocessing
import os
import pickle
import sys
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from redun.errors import ExecutorError
from redun.executors.base import Executor

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler
    from redun.scheduler.job import Job


class ProcessExecutor(Executor):
    """Runs jobs on ``max_workers`` processes (spawned, so no state leaks from the parent)."""

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
        self.max_workers = int(max_workers or self.config.get("max_workers", os.cpu_count() or 2))
        self.start_method = start_method or self.config.get("start_method", "spawn")
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        if self._pool is None:
            context = multiprocessing.get_context(self.start_method)
            self._pool = ProcessPoolExecutor(self.max_workers, mp_context=context)

    def submit(self, job: Job) -> None:
        self.submit_batch([job])

    def submit_batch(self, jobs: list[Job]) -> None:
        self.start()
        assert self._pool is not None
        size = max(1, min(64, len(jobs) // (self.max_workers * 2) or 1))
        for start in range(0, len(jobs), size):
            chunk = jobs[start : start + size]
            try:
                payload = pickle.dumps([_describe(job) for job in chunk])
            except Exception as exc:
                for job in chunk:
                    self.scheduler.reject_job(
                        job,
                        ExecutorError(
                            f"cannot send job {job.task.fullname} to a worker process: {exc}"
                        ),
                    )
                continue
            future = self._pool.submit(_run_batch, payload)
            future.add_done_callback(functools.partial(self._on_done, chunk=chunk))

    def _on_done(self, future: Future, *, chunk: list[Job]) -> None:
        scheduler = self.scheduler
        try:
            outcomes = pickle.loads(future.result())
        except Exception as exc:
            for job in chunk:
                scheduler.reject_job(
                    job, ExecutorError(f"worker process failed running {job.task.fullname}: {exc}")
                )
            return
        for job, (ok, value, logs) in zip(chunk, outcomes):
            for stream, text in logs:
                scheduler.post_log(job, stream, text)
            if ok:
                scheduler.done_job(job, value)
            else:
                scheduler.reject_job(job, value)

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _describe(job: Job) -> tuple:
    func = job.task.func
    module = sys.modules.get(func.__module__)
    module_file = getattr(module, "__file__", None)
    return (
        job.task.load_module,
        module_file,
        job.task.fullname,
        job.task._task_options_override,
        job.args,
        job.kwargs,
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
    from redun.logs import JobOutput, list_sink
    from redun.task import get_task_registry

    # (ok, value, log lines): what a job printed is shown live by the worker and
    # shipped back with its outcome, to become the job's log lines.
    outcomes: list[tuple[bool, Any, list[tuple[str, str]]]] = []
    for module_name, module_file, fullname, overrides, args, kwargs in pickle.loads(payload):
        logs: list[tuple[str, str]] = []
        try:
            with JobOutput(list_sink(logs), task_name=fullname):
                _ensure_module(module_name, module_file)
                task = get_task_registry().require(fullname)
                if overrides:
                    task = task.options(**overrides)
                if task.script:
                    from redun.scripting import run_script_task

                    value = run_script_task(task, args, kwargs)
                else:
                    value = task.func(*args, **kwargs)
            outcomes.append((True, value, logs))
        except Exception as error:
            error.__redun_traceback__ = traceback.format_exc()  # type: ignore[attr-defined]
            outcomes.append((False, error, logs))
    try:
        return pickle.dumps(outcomes)
    except Exception:
        safe = []
        for ok, value, logs in outcomes:
            try:
                pickle.dumps(value)
                safe.append((ok, value, logs))
            except Exception as exc:
                safe.append((False, ExecutorError(f"result cannot be pickled: {exc!r}"), logs))
        return pickle.dumps(safe)
