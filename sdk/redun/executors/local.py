"""``LocalExecutor``: redun's name for the in-process executor, for configs and subclasses.

``[executors.NAME] type = local`` gives threads (the default); ``mode =
process`` runs jobs in worker processes instead. Users' executors may
subclass it and override :meth:`submit` to run jobs their own way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redun.errors import UsageError
from redun.executors.threads import ThreadExecutor

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler
    from redun.scheduler.job import Job

THREAD_MODE = "thread"
PROCESS_MODE = "process"


class LocalExecutor(ThreadExecutor):
    """Runs jobs in this process's threads (``mode = thread``) or in worker processes.

    Args:
        name: the executor's name (tasks select it with ``executor=NAME``).
        scheduler: the scheduler it reports to (set when it is added).
        config: its ``[executors.NAME]`` section (``max_workers``, ``mode``).
        mode: ``thread`` or ``process``, unless the config says.
    """

    MODES = (THREAD_MODE, PROCESS_MODE)

    def __init__(
        self,
        name: str = "default",
        scheduler: Scheduler | None = None,
        config: Any = None,
        mode: str = THREAD_MODE,
    ) -> None:
        super().__init__(name, scheduler, config)
        self.mode = str(self.config.get("mode", mode)).lower()
        if self.mode in ("threads",):
            self.mode = THREAD_MODE
        if self.mode in ("processes",):
            self.mode = PROCESS_MODE
        if self.mode not in self.MODES:
            raise UsageError(
                f"executor {name!r}: mode must be 'thread' or 'process', not {self.mode!r}"
            )
        self._processes: Any = None
        if self.mode == PROCESS_MODE:
            from redun.executors.processes import ProcessExecutor

            self._processes = ProcessExecutor(name, scheduler, self.config)
            self.reports_start = False

    def supports_async(self) -> bool:
        return self._processes is None

    def set_scheduler(self, scheduler: Scheduler) -> None:
        super().set_scheduler(scheduler)
        if self._processes is not None:
            self._processes.set_scheduler(scheduler)

    def runs_inline(self, job: Job) -> bool:
        # Not in process mode, nor for a subclass that runs jobs its own way.
        if self._processes is not None or type(self).submit is not LocalExecutor.submit:
            return False
        return super().runs_inline(job)

    def submit(self, job: Job) -> None:
        if self._processes is not None:
            self._processes.submit(job)
        else:
            super().submit(job)

    def submit_batch(self, jobs: list[Job]) -> None:
        if type(self).submit is not LocalExecutor.submit:
            # A subclass that overrides submit() sees every job.
            for job in jobs:
                self.submit(job)
            return
        if self._processes is not None:
            self._processes.submit_batch(jobs)
        else:
            super().submit_batch(jobs)

    def stop(self) -> None:
        if self._processes is not None:
            self._processes.stop()
        super().stop()
