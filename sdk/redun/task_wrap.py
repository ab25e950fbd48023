"""``wraps_task``: write decorators that wrap a task in another task.

The decorator made with :func:`wraps_task` takes a task (or a plain function,
made a task on the fly), moves it aside into a namespace named after the
wrapper, and registers a new task under the original name whose function the
wrapper builds. The outer task's hash covers the inner task and any
``wrapper_hash_includes``, so editing either invalidates the cache.

::

    def doubled(offset: int = 0):
        @wraps_task(wrapper_hash_includes=[offset])
        def _doubled(inner: Task):
            def run(*args, **kwargs):
                return 2 * inner.func(*args, **kwargs) + offset
            return run
        return _doubled

    @doubled()
    def plus_one(x: int) -> int:      # registered as plus_one; the original
        return x + 1                  # moves to _doubled.plus_one
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redun.task import Task, get_task_registry, task


def wraps_task(
    wrapper_name: str | None = None,
    wrapper_hash_includes: list | None = None,
    use_wrapper_signature: bool = False,
    **wrapper_task_options_base: Any,
) -> Callable[[Callable[[Task], Callable]], Callable[[Callable | Task], Task]]:
    """Make a task decorator out of ``wrapper(inner_task) -> function``.

    Args:
        wrapper_name: the namespace the wrapped task moves into (default: the
            wrapper function's name).
        wrapper_hash_includes: values the wrapper depends on (its own arguments);
            they count in the outer task's hash.
        use_wrapper_signature: give the outer task the signature of the function
            the wrapper returns, instead of the inner task's (it shows in ``redun
            run ... help`` and command-line parsing).
        **wrapper_task_options_base: task options of the outer task.
    """
    includes = list(wrapper_hash_includes or [])

    def transform(wrapper: Callable[[Task], Callable]) -> Callable[[Callable | Task], Task]:
        suffix = wrapper_name or wrapper.__name__

        def create(inner: Callable | Task) -> Task:
            hidden = inner if isinstance(inner, Task) else task(inner)
            visible_name, visible_namespace = hidden.name, hidden.namespace
            _hide(hidden, suffix)
            outer: Task = task(
                name=visible_name,
                namespace=visible_namespace,
                wrapped_task=hidden.fullname,
                use_wrapper_signature=use_wrapper_signature,
                load_module=hidden.load_module,
                hash_includes=[*includes, hidden],
                **wrapper_task_options_base,
            )(wrapper(hidden))
            return outer

        return create

    return transform


def _hide(inner: Task, suffix: str) -> str:
    """Move ``inner`` (and, first, whatever it wraps) into the ``suffix`` namespace.

    The innermost task moves first, so each layer's new name is free when its
    turn comes. Returns ``inner``'s new full name.
    """
    registry = get_task_registry()
    wrapped_name = inner.get_task_option("wrapped_task")
    if wrapped_name:
        wrapped = registry.get(wrapped_name)
        if wrapped is not None:
            inner._task_options_base["wrapped_task"] = _hide(wrapped, suffix)
            inner.options_view = inner.get_task_options()
    namespace = f"{inner.namespace}.{suffix}" if inner.namespace else suffix
    if registry.get(inner.fullname) is inner:
        return registry.rename(inner.fullname, namespace, inner.name).fullname
    # Not (or no longer) registered under its name: rename it in place and register it.
    inner.namespace = namespace
    inner.fullname = f"{namespace}.{inner.name}"
    inner.recompute_hash()
    registry.add(inner)
    return inner.fullname
