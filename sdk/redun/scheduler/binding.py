"""Bind call arguments to parameter names, so f(1) and f(x=1) are the same call."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from redun.errors import TaskArgumentError

if TYPE_CHECKING:
    from redun.task import Task

_SIMPLE_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
_plans: dict[int, Any] = {}


def _plan(task: Task) -> Any:
    """For simple signatures: (names, positional count, defaults); else None."""
    func = task.func
    key = id(func)
    plan = _plans.get(key)
    if plan is None:
        params = list(task.signature.parameters.values())
        if all(p.kind in _SIMPLE_KINDS for p in params):
            names = tuple(p.name for p in params)
            positional = sum(1 for p in params if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD)
            defaults = {
                p.name: p.default for p in params if p.default is not inspect.Parameter.empty
            }
            plan = (names, positional, defaults, func)
        else:
            plan = (None, 0, None, func)
        _plans[key] = plan
    return plan


def bind_arguments(task: Task, args: tuple, kwargs: dict) -> dict[str, Any]:
    """An ordered name -> value mapping of the call, defaults filled in."""
    names, positional, defaults, _ = _plan(task)
    if names is not None and len(args) <= positional:
        if not kwargs and len(args) == len(names):
            return dict(zip(names, args))
        bound: dict[str, Any] = dict(zip(names, args))
        simple = True
        for key, value in kwargs.items():
            if key in bound or key not in names:
                simple = False
                break
            bound[key] = value
        if simple and all(name in bound or name in defaults for name in names):
            return {name: bound[name] if name in bound else defaults[name] for name in names}
    try:
        signature = task.signature.bind(*args, **kwargs)
    except TypeError as error:
        raise TaskArgumentError(f"bad arguments for task {task.fullname}: {error}") from None
    signature.apply_defaults()
    result: dict[str, Any] = {}
    for name, value in signature.arguments.items():
        kind = task.signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            for key in sorted(value):
                result[f"**{key}"] = value[key]
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            result[f"*{name}"] = tuple(value)
        else:
            result[name] = value
    return result


_lazy: dict[int, tuple[tuple[str, ...], dict[str, Any]]] = {}


def lazy_defaults(task: Task, args: tuple, kwargs: dict) -> dict[str, Any]:
    """Defaults that are expressions (``x=get_context("a.b")``) for parameters not given.

    They are evaluated like arguments, so their values count in the call's hash.
    """
    key = id(task.func)
    entry = _lazy.get(key)
    if entry is None:
        from redun.expression import Expression

        params = list(task.signature.parameters.values())
        names = tuple(p.name for p in params)
        entry = (names, {p.name: p.default for p in params if isinstance(p.default, Expression)})
        _lazy[key] = entry
    names, defaults = entry
    if not defaults:
        return {}
    given = set(names[: len(args)]) | set(kwargs)
    return {name: value for name, value in defaults.items() if name not in given}


def get_arg_defaults(task: Task, args: tuple, kwargs: dict) -> dict[str, Any]:
    """The defaults of the parameters that neither ``args`` nor ``kwargs`` give."""
    defaults: dict[str, Any] = {}
    for index, param in enumerate(task.signature.parameters.values()):
        if index < len(args) or param.name in kwargs:
            continue
        if param.default is not inspect.Parameter.empty:
            defaults[param.name] = param.default
    return defaults


def set_arg_defaults(task: Task, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """``(args, kwargs)`` with the missing parameters' defaults added to ``kwargs``."""
    return args, {**kwargs, **get_arg_defaults(task, args, kwargs)}
