"""Control flow as scheduler tasks: ``cond``, ``catch``, ``throw``, ``get_context``,
``apply_tags``, ``merge_handles``.

Scheduler tasks receive their arguments unevaluated, so ``cond`` evaluates
only the branch it takes and ``catch`` sees the error of its expression.
"""

from __future__ import annotations

from typing import Any

from redun.promise import Promise
from redun.scheduler.context import get_context_value, note_context_read
from redun.task import scheduler_task, task


@scheduler_task(namespace="redun")
def cond(
    scheduler: Any, parent_job: Any, sexpr: Any, cond_expr: Any, then_expr: Any, *rest: Any
) -> Any:
    """A lazy if/elif/else: ``cond(pred, then, [pred2, then2, ...], [else_])``.

    Only the branch taken is evaluated. With no else and a false predicate, the
    value is None.
    """
    clauses = (cond_expr, then_expr, *rest)

    def step(index: int) -> Any:
        return scheduler.evaluate(clauses[index], parent_job).then(
            lambda value: decide(index, value)
        )

    def decide(index: int, predicate: Any) -> Any:
        if predicate:
            return scheduler.evaluate(clauses[index + 1], parent_job)
        remaining = len(clauses) - index - 2
        if remaining == 0:
            return None
        if remaining == 1:
            return scheduler.evaluate(clauses[index + 2], parent_job)
        return step(index + 2)

    return step(0)


@task(namespace="redun", version="1")
def throw(error: Exception) -> None:
    """Raise ``error`` lazily (when this expression is evaluated)."""
    raise error


@scheduler_task(namespace="redun")
def catch(scheduler: Any, parent_job: Any, sexpr: Any, expr: Any, *catch_args: Any) -> Any:
    """Evaluate ``expr``; on an error matching a class, evaluate ``recover(error)``.

    ``catch(expr, ErrorClass, recover, [ErrorClass2, recover2, ...])``, where each
    ErrorClass may be a tuple of classes and each recover a task or function.

    A catch is a cached call of its own (a ``redun.catch`` job): once it succeeds,
    either way, it is answered from the cache, and a failure it recovered from is
    not run again. It caches the expression that gave its value (``expr``, or
    ``recover(error)``), so a change below re-runs only what changed. A failure it
    did not handle is not cached.
    """
    if len(catch_args) % 2:
        from redun.errors import UsageError

        raise UsageError("catch(expr, ErrorClass, recover, ...) takes class/recover pairs")
    from redun.expression import Expression
    from redun.hashing import hash_value

    pairs = list(zip(catch_args[::2], catch_args[1::2]))

    def run(job: Any, cached: Any) -> Any:
        def recover_from(error: BaseException) -> Any:
            for error_class, recover in pairs:
                if isinstance(error, error_class):
                    recovery = recover(error)
                    job.returned = recovery
                    return scheduler.evaluate(recovery, job)
            raise error

        target = expr if cached is None else cached
        job.returned = target
        return scheduler.evaluate(target, job).then(None, recover_from)

    try:
        expr_hash = expr.get_hash() if isinstance(expr, Expression) else hash_value(expr)
        arg_hashes = {"expr": expr_hash, "handlers": hash_value(catch_args)}
    except Exception:
        # Not hashable (or too deep to hash): evaluated as it stands, without caching.
        return _catch_uncached(scheduler, parent_job, expr, pairs)
    task = sexpr.task if sexpr is not None and sexpr.task is not None else catch
    return scheduler.call_inline(task, sexpr, parent_job, arg_hashes, run)


def _catch_uncached(scheduler: Any, parent_job: Any, expr: Any, pairs: list) -> Any:
    def recover_from(error: BaseException) -> Any:
        for error_class, recover in pairs:
            if isinstance(error, error_class):
                return scheduler.evaluate(recover(error), parent_job)
        raise error

    return scheduler.evaluate(expr, parent_job).then(None, recover_from)


@scheduler_task(namespace="redun")
def catch_all(
    scheduler: Any,
    parent_job: Any,
    sexpr: Any,
    exprs: Any,
    error_class: Any = Exception,
    recover: Any = None,
) -> Any:
    """Evaluate every expression in the nested value ``exprs``, even if some fail.

    With no failure, the evaluated nested value. Otherwise, once every
    expression has succeeded or failed: when all errors are instances of
    ``error_class`` and ``recover`` is given, ``recover`` is called with the
    nested value holding each result or its exception; else the first error
    (the first one not of ``error_class``) is raised.
    """
    from redun.nested import map_nested_value

    promises: list[Promise] = []

    def start(term: Any) -> Promise:
        promise = scheduler.evaluate(term, parent_job)
        promises.append(promise)
        return promise

    pending = map_nested_value(start, exprs)

    def outcome(term: Any) -> Any:
        if type(term) is Promise:
            return term.value if term.is_fulfilled else term.error
        return term

    def finish(_: Any) -> Any:
        errors = [promise.error for promise in promises if promise.is_rejected]
        if not errors:
            return map_nested_value(outcome, pending)
        if recover is None:
            raise errors[0]

        def handle(options: tuple[Any, Any]) -> Any:
            classes, recover_task = options
            for error in errors:
                if not isinstance(error, classes):
                    raise error
            return scheduler.evaluate(recover_task(map_nested_value(outcome, pending)), parent_job)

        # The error classes and the recovery task may themselves be expressions.
        return scheduler.evaluate((error_class, recover), parent_job).then(handle)

    return _settle_all(promises).then(finish)


def _settle_all(promises: list[Promise]) -> Promise:
    """A promise fulfilled once every one of ``promises`` has settled, either way."""
    done: Promise = Promise()
    left = [len(promises)]

    def one(_: Any) -> None:
        left[0] -= 1
        if left[0] == 0:
            done.do_resolve(None)

    if not promises:
        return done.do_resolve(None)
    for promise in promises:
        promise.then(one, one)
    return done


@scheduler_task(namespace="redun")
def get_context(
    scheduler: Any, parent_job: Any, sexpr: Any, var_path: str, default: Any = None
) -> Any:
    """A context value (``[scheduler] context`` JSON in redun.ini, or ``--context``)."""
    execution = scheduler.execution
    if parent_job is not None:
        context = parent_job.context
        if execution is not None:
            note_context_read(
                parent_job, var_path, context, execution.context, scheduler._context_hash
            )
    else:
        context = execution.context if execution else scheduler.context
    return get_context_value(context, var_path, default)


@scheduler_task(namespace="redun")
def apply_tags(
    scheduler: Any,
    parent_job: Any,
    sexpr: Any,
    value: Any,
    tags: Any = (),
    job_tags: Any = (),
    execution_tags: Any = (),
) -> Any:
    """Tag ``value`` (and optionally the calling job and the execution); returns the value.

    Tags are ``(key, value)`` pairs; the database backend records them, and
    ``redun log`` shows them.
    """
    from redun.hashing import hash_value

    def record(concrete: Any) -> Any:
        if tags:
            scheduler.add_tags("value", hash_value(concrete), list(tags))
        if job_tags and parent_job is not None:
            scheduler.add_tags("job", parent_job.id, list(job_tags))
        if execution_tags and scheduler.execution is not None:
            scheduler.add_tags("execution", scheduler.execution.id, list(execution_tags))
        return concrete

    return scheduler.evaluate(value, parent_job).then(record)


@scheduler_task(namespace="redun")
def merge_handles(scheduler: Any, parent_job: Any, sexpr: Any, handles: Any) -> Any:
    """Join handles forked from one handle (same name) back into one: returns the first.

    ``merge_handles([conn2, conn3])`` waits for every handle of the list, so what
    follows depends on all the calls that produced them. This engine records no
    handle lineage (no rollback), so the merged handle is the first, as redun's is.
    """

    def merge(concrete: Any) -> Any:
        from redun.errors import UsageError
        from redun.handle import Handle

        if not concrete or not all(isinstance(handle, Handle) for handle in concrete):
            raise UsageError("merge_handles() takes a non-empty list of handles")
        names = {handle.__handle__.name for handle in concrete}
        if len(names) != 1:
            raise UsageError(
                f"merge_handles() merges forks of one handle; got handles named {sorted(names)}"
            )
        return concrete[0]

    return scheduler.evaluate(handles, parent_job).then(merge)
