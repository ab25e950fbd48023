"""The root job of an execution, as in insitro/redun.

An execution has one root job. When the expression given to ``run`` is one
call of a task whose arguments (and defaults) are values, that call is the
root. Anything else (a list of calls, ``f(1) + f(2)``, a call whose arguments
or defaults are still expressions, a scheduler task, a value holding calls) is
evaluated under a ``redun.root_task`` job, so ``redun log``, lineage and the TUI
show one tree, and defaults such as ``offset=get_offset()`` run as siblings of
the call that needs them, under that root.

The root job is evaluated by the scheduler itself (no executor, dry runs
included), recorded as a call with its children, and never taken from the
cache: each run evaluates the expression again, its calls answered from the
cache one by one (as redun re-evaluates the expression its root returned).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redun.expression import Expression, SchedulerExpression, TaskExpression
from redun.hashing import hash_parts
from redun.nested import iter_nested_value
from redun.scheduler.binding import get_arg_defaults
from redun.scheduler.reduce import reduce_value
from redun.task import get_task_registry, scheduler_task

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler
    from redun.scheduler.job import Job


@scheduler_task(name="root_task", namespace="redun", cache=False)
def root_task(scheduler: Any, parent_job: Any, sexpr: Any, expr: Any) -> Any:
    """``expr``, evaluated under a job of its own (the default root of an execution)."""
    return evaluate_under_root(scheduler, expr, parent_job)


def needs_root_task(expr: Any) -> bool:
    """True if ``expr`` cannot be an execution's root job as it stands."""
    if not isinstance(expr, TaskExpression) or isinstance(expr, SchedulerExpression):
        return any(isinstance(item, Expression) for item in iter_nested_value(expr))
    if any(isinstance(arg, Expression) for arg in iter_nested_value((expr.args, expr.kwargs))):
        return True
    task = expr.task or get_task_registry().get(expr.task_name)
    if task is None:
        return False  # the call itself reports the missing task
    defaults = get_arg_defaults(task, expr.args, expr.kwargs)
    return any(isinstance(value, Expression) for value in iter_nested_value(defaults))


def evaluate_under_root(scheduler: Scheduler, expr: Any, parent_job: Job | None = None) -> Any:
    """Evaluate ``expr`` under a new ``redun.root_task`` job (see the module); its value
    or a promise of it.

    The job's argument is the execution, not the expression: it is never looked up,
    and hashing a large expression (10,000 calls) would cost more than the job.
    """

    def evaluate(job: Job, cached: Any) -> Any:
        return reduce_value(expr, scheduler._evaluator(job))

    execution = scheduler.execution
    arg_hashes = {"expr": hash_parts("redun.root_task", execution.id if execution else "")}
    return scheduler.call_inline(root_task, None, parent_job, arg_hashes, evaluate)
