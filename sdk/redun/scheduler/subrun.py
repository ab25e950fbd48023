"""``subrun``: evaluate an expression with a scheduler of its own, inside an executor.

``subrun(expr, executor="batch")`` runs one job on ``executor`` whose function
starts a new scheduler and evaluates ``expr`` there: a whole sub-workflow runs
where that executor runs (a large machine, a batch node), with its own
parallelism. The sub-scheduler gets the caller's configuration (or ``config``
/ ``config_dir``) and, as in redun, records its jobs under the job that started
it, in the caller's execution (``new_execution=True``: as an execution of its
own).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from redun.hashing import hash_parts, hash_value
from redun.scheduler.jobinfo import JobInfo
from redun.task import get_task_registry, scheduler_task, task
from redun.value import Value


class _Quoted(Value):
    """An expression carried as an argument without being evaluated."""

    type_name = "redun.subrun.Quoted"

    def __init__(self, expr: Any) -> None:
        self.expr = expr

    def get_hash(self, data: bytes | None = None) -> str:
        return hash_parts("quoted", hash_value(self.expr))

    def __repr__(self) -> str:
        return f"quote({self.expr!r})"


@task(
    namespace="redun",
    name="subrun_root_task",
    version="1",
    config_args=["config", "config_dir", "load_modules", "run_config", "new_execution"],
)
def _subrun_root_task(
    expr: _Quoted,
    config: dict,
    config_dir: str | None,
    load_modules: list[str],
    run_config: dict,
    new_execution: bool = True,
    job_info: JobInfo = JobInfo(),
) -> Any:
    """Start a scheduler here and evaluate ``expr`` with it: as an execution of its
    own, or (``new_execution=False``) as jobs under this one, in its execution."""
    from redun.config import Config, load_config
    from redun.scheduler.core import Scheduler

    for module in load_modules:
        importlib.import_module(module)
    scheduler_config = load_config(config_dir) if config_dir is not None else Config(config)
    scheduler = Scheduler(config=scheduler_config)
    try:
        if new_execution or not _records_execution(scheduler, job_info.execution_id):
            return scheduler.run(expr.expr, **run_config)
        outcome = scheduler._extend(expr.expr, job_info.job_id, job_info.execution_id, **run_config)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["result"]
    finally:
        scheduler.stop()


def _records_execution(scheduler: Any, execution_id: str) -> bool:
    """True if the sub-scheduler's store holds the caller's execution (the same
    database): only there can its jobs join it; elsewhere they make their own."""
    if not execution_id:
        return False
    query = getattr(scheduler.backend, "query", None)
    if query is None:
        return False
    return bool(query("SELECT 1 FROM redun_execution WHERE id = :id", id=execution_id))


@scheduler_task(namespace="redun")
def subrun(
    scheduler: Any,
    parent_job: Any,
    sexpr: Any,
    expr: Any,
    executor: str,
    config: dict | None = None,
    config_dir: str | None = None,
    new_execution: bool = False,
    load_modules: list[str] | None = None,
    **task_options: Any,
) -> Any:
    """Evaluate ``expr`` in a sub-scheduler started by a job on ``executor``.

    Args:
        expr: the expression the sub-scheduler evaluates.
        executor: the executor (of this scheduler's configuration) of the job
            that starts the sub-scheduler.
        config: the sub-scheduler's configuration as ``{section: {key: value}}``
            (default: this scheduler's).
        config_dir: a configuration directory to load instead, where the job runs.
        new_execution: False (as in redun): the sub-scheduler's jobs are recorded
            under the job that started it, in this execution, so ``redun log``
            shows one tree; True: as an execution of their own.
        load_modules: modules to import before evaluating (default: the modules
            of every registered user task).
        **task_options: options of the starting job (``memory``, ``vcpus``...).
    """
    from redun.errors import UsageError

    if config and config_dir is not None:
        raise UsageError("subrun() takes config or config_dir, not both")
    if config_dir is None and not config:
        config = scheduler.config.get_config_dict()
    if load_modules is None:
        # The modules of the user's tasks that this process has loaded.
        load_modules = sorted(
            {
                t.load_module
                for t in get_task_registry()
                if t.load_module in sys.modules
                and (
                    not t.load_module.startswith("redun.")
                    or t.load_module.startswith("redun.tests.")
                )
            }
        )
    context = parent_job.get_context() if parent_job is not None else {}
    run_config = {"cache": scheduler._use_cache, "context": context}
    root = _subrun_root_task.options(executor=executor, **task_options)(
        _Quoted(expr), config or {}, config_dir, list(load_modules), run_config, new_execution
    )
    return scheduler.evaluate(root, parent_job)
