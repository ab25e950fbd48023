"""Evaluation: expressions become values, or promises of them.

A task call becomes a job (see :mod:`redun.scheduler.calls`) once its
arguments are concrete; scheduler tasks and lazy operators are evaluated here,
once per parent job. Nested arguments are evaluated by direct calls up to
:data:`MAX_DEPTH`, then from an explicit stack, so an expression of any depth
never recurses. The functions are :class:`~redun.scheduler.core.Scheduler`'s
methods (``self`` is the scheduler).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redun.errors import SchedulerError, UnknownOperation
from redun.expression import (
    OPERATIONS,
    Expression,
    SchedulerExpression,
    SimpleExpression,
    TaskExpression,
    ValueExpression,
)
from redun.promise import Promise
from redun.scheduler.binding import lazy_defaults
from redun.scheduler.context import ContextEnv
from redun.scheduler.exprkey import expression_key
from redun.scheduler.job import Job
from redun.scheduler.reduce import reduce_value
from redun.task import SchedulerTask, Task, get_task_registry
from redun.value import lifecycle_hooks

if TYPE_CHECKING:
    from redun.scheduler.core import Scheduler

# How deep argument evaluation may recurse before work goes to the explicit stack.
MAX_DEPTH = 50


def evaluator(self: Scheduler, parent_job: Job | None) -> Callable[[Expression], Any]:
    """A function that evaluates an expression under ``parent_job``."""
    return lambda expr: self._eval_expr(expr, parent_job)


def evaluate(self: Scheduler, expr: Any, parent_job: Job | None = None) -> Promise:
    """A promise of ``expr``'s value (for scheduler tasks)."""
    value = reduce_value(expr, self._evaluator(parent_job))
    return value if type(value) is Promise else Promise.resolved(value)


def eval_expr(self: Scheduler, expr: Expression, parent_job: Job | None) -> Any:
    """``expr``'s value or a promise of it; past :data:`MAX_DEPTH` nested calls, a promise
    of it evaluated from the explicit stack (:func:`run_deferred`)."""
    # Nested arguments are evaluated by direct calls up to a small depth, then
    # deferred to an explicit stack: a 100,000-deep expression never recurses.
    if self._depth >= MAX_DEPTH:
        promise: Promise = Promise()
        self._deferred.append((expr, parent_job, promise))
        return promise
    self._depth += 1
    try:
        return self._eval_expr_now(expr, parent_job)
    finally:
        self._depth -= 1


def run_deferred(self: Scheduler) -> None:
    """Evaluate the expressions put off by :func:`eval_expr`, until none is left."""
    deferred = self._deferred
    while deferred:
        expr, parent_job, promise = deferred.pop()
        try:
            promise.do_resolve(self._eval_expr(expr, parent_job))
        except Exception as error:
            promise.do_reject(error)


def eval_expr_now(self: Scheduler, expr: Expression, parent_job: Job | None) -> Any:
    """Evaluate ``expr`` by its kind: a task call, a scheduler task, an operator, a value."""
    cls = type(expr)
    if cls is TaskExpression:
        return self._eval_task_expr(expr, parent_job)  # type: ignore[arg-type]
    if cls is SchedulerExpression:
        return self._eval_scheduler_expr(expr, parent_job)  # type: ignore[arg-type]
    if cls is SimpleExpression:
        return self._eval_simple_expr(expr, parent_job)  # type: ignore[arg-type]
    if cls is ValueExpression:
        return reduce_value(expr.value, self._evaluator(parent_job))  # type: ignore[attr-defined]
    if isinstance(expr, SchedulerExpression):
        return self._eval_scheduler_expr(expr, parent_job)
    if isinstance(expr, TaskExpression):
        return self._eval_task_expr(expr, parent_job)
    if isinstance(expr, SimpleExpression):
        return self._eval_simple_expr(expr, parent_job)
    raise SchedulerError(f"cannot evaluate expression of type {cls.__name__}")


def resolve_task(self: Scheduler, expr: TaskExpression) -> Task:
    """The task ``expr`` calls; a call restored from the cache runs the task as defined now."""
    task = expr.task
    if task is None or task.stale:
        # A call through a task restored from the cache runs the task as defined now.
        task = get_task_registry().require(expr.task_name)
        if expr.task_options:
            task = task.options(**expr.task_options)
    return task


def eval_task_expr(self: Scheduler, expr: TaskExpression, parent_job: Job | None) -> Any:
    """A task call: its lazy options first, if any, then the call."""
    if lifecycle_hooks.active:
        # Values that change as they pass into a call (a Handle forks) give the same
        # call another hash each time it is evaluated: the same expression used twice
        # (``[n, n]``) must still be one call, as in redun, not two chains of calls.
        memo = self._evaluated_under(parent_job)
        seen = memo.get(id(expr))
        if seen is not None:
            return seen[1]
        result = _eval_task_expr(self, expr, parent_job)
        memo[id(expr)] = (expr, result)  # the expression too: it keeps its id from reuse
        return result
    return _eval_task_expr(self, expr, parent_job)


def _eval_task_expr(self: Scheduler, expr: TaskExpression, parent_job: Job | None) -> Any:
    task = self._resolve_task(expr)
    if task.lazy_options:
        # Options given as expressions are evaluated where the call is made.
        lazy = {name: task.options_view[name] for name in task.lazy_options}
        return _then(
            reduce_value(lazy, self._evaluator(parent_job)),
            lambda options: self._eval_task_call(task.options(**options), expr, parent_job),
        )
    return self._eval_task_call(task, expr, parent_job)


def eval_task_call(
    self: Scheduler, task: Task, expr: TaskExpression, parent_job: Job | None
) -> Any:
    """A task call once its arguments (and the defaults that read the context) are values."""
    evaluate = self._evaluator(parent_job)
    args = reduce_value(expr.args, evaluate) if expr.args else ()
    kwargs: Any = expr.kwargs
    defaults: Any = lazy_defaults(task, expr.args, kwargs)
    if defaults:
        # Defaults read the context of the call they belong to (its own
        # update_context included), not the caller's.
        base = self._context_for(parent_job, {})
        context = self._context_for(parent_job, task.options_view)
        env: Any = parent_job if context is base else ContextEnv(parent_job, context)
        defaults = reduce_value(defaults, self._evaluator(env))
        kwargs = reduce_value(kwargs, evaluate) if kwargs else {}
        if type(kwargs) is Promise or type(defaults) is Promise:
            kwargs = Promise.all([kwargs, defaults]).then(lambda kd: {**kd[0], **kd[1]})
        else:
            kwargs = {**kwargs, **defaults}
    else:
        kwargs = reduce_value(kwargs, evaluate) if kwargs else {}
    if type(kwargs) is not Promise:
        if type(args) is not Promise:
            return self._call_task(task, expr, args, kwargs, parent_job)
        # A chain's link: only its argument is still to come.
        return args.then(lambda ready: self._call_task(task, expr, ready, kwargs, parent_job))
    return Promise.all([args, kwargs]).then(
        lambda ak: self._call_task(task, expr, ak[0], ak[1], parent_job)
    )


def evaluated_under(self: Scheduler, parent_job: Job | None) -> dict[Any, tuple[Expression, Any]]:
    """What was evaluated under ``parent_job`` in this execution, by key.

    Scheduler tasks are not cached calls and operators are not jobs, so without
    this an expression referenced twice (``x + x``) would be evaluated twice. As in
    insitro/redun, each is evaluated once per parent job: a scheduler expression
    keyed by its hash (``echo(1) + echo(1)`` is one evaluation), an operator
    expression by identity (hashing every ``x[0]`` would cost more than it saves).
    Task calls are shared by call hash instead, except ``cache_scope=NONE`` calls,
    kept here by their expression hash (:func:`~redun.scheduler.calls.add_job`), and
    every call by identity once values that change on their way into a call (handles)
    exist (:func:`eval_task_expr`).
    """
    memo = self._evaluated.get(parent_job)
    if memo is None:
        memo = self._evaluated[parent_job] = {}
    return memo


def eval_scheduler_expr(self: Scheduler, expr: TaskExpression, parent_job: Job | None) -> Any:
    """A scheduler task's expression, evaluated once per parent job."""
    task = self._resolve_task(expr)
    if not isinstance(task, SchedulerTask):
        return self._eval_task_expr(expr, parent_job)
    memo = self._evaluated_under(parent_job)
    key = expression_key(expr)
    seen = memo.get(key)
    if seen is not None:
        return seen[1]
    result = task.func(self, parent_job, expr, *expr.args, **expr.kwargs)
    evaluate = self._evaluator(parent_job)
    if type(result) is Promise:
        result = result.then(lambda value: reduce_value(value, evaluate))
    else:
        result = reduce_value(result, evaluate)
    memo[key] = (expr, result)  # the expression too: it keeps its id from being reused
    return result


def eval_simple_expr(self: Scheduler, expr: SimpleExpression, parent_job: Job | None) -> Any:
    """A lazy operator's expression (``x[0]``, ``x + y``), evaluated once per parent job."""
    memo = self._evaluated_under(parent_job)
    seen = memo.get(id(expr))
    if seen is not None:
        return seen[1]
    result = self._apply_simple_expr(expr, parent_job)
    memo[id(expr)] = (expr, result)
    return result


def apply_simple_expr(self: Scheduler, expr: SimpleExpression, parent_job: Job | None) -> Any:
    """Apply a lazy operator to its evaluated operands."""
    evaluate = self._evaluator(parent_job)
    args = reduce_value(expr.args, evaluate)
    kwargs = reduce_value(expr.kwargs, evaluate) if expr.kwargs else {}
    operation = OPERATIONS.get(expr.func_name)
    if operation is None:
        raise UnknownOperation(f"unknown lazy operation {expr.func_name!r}")

    def apply(ak: list) -> Any:
        return reduce_value(operation(*ak[0], **ak[1]), evaluate)

    if type(args) is not Promise and type(kwargs) is not Promise:
        return apply([args, kwargs])
    return Promise.all([args, kwargs]).then(apply)


def _then(value: Any, func: Callable[[Any], Any]) -> Any:
    if type(value) is Promise:
        return value.then(func)
    return func(value)
