"""Task options with fixed vocabularies: cache scope and validity checking.

``@task(cache=False)`` is the short form of ``cache_scope=CacheScope.CSE``;
``cache=True`` of ``CacheScope.BACKEND``. Options are normalised when a task
is made, so ``task.get_task_option("cache_scope")`` is always an enum (or
absent) whichever spelling the user wrote.

Both enums mix in ``str``: ``CacheCheckValid.FULL == "full"``, so code that
compares with the plain strings keeps working.
"""

from __future__ import annotations

import enum
from typing import Any

from redun.errors import UsageError


class CacheScope(str, enum.Enum):
    """Which earlier results a call may reuse.

    NONE: none; every call runs, even a repeat of one in the same execution.
    CSE: only identical calls of this execution (common subexpression elimination).
    BACKEND: also calls recorded by earlier executions (the default).
    """

    NONE = "NONE"
    CSE = "CSE"
    BACKEND = "BACKEND"


class CacheCheckValid(str, enum.Enum):
    """How much of a cached call is checked before it is reused.

    FULL: every call below it too (their code and their files).
    SHALLOW: only the call's own result.
    """

    FULL = "full"
    SHALLOW = "shallow"


def normalize_cache_options(options: dict, where: str) -> dict:
    """``options`` with ``cache`` folded into ``cache_scope`` and both as enums.

    Args:
        options: task options as the user gave them (not modified).
        where: names the task in error messages.

    Raises:
        UsageError: an unknown cache scope or check_valid value.
    """
    if "cache" not in options and "cache_scope" not in options and "check_valid" not in options:
        return options
    from redun.expression import Expression

    result = dict(options)
    # An option given as an expression (cache=get_context("use_cache")) is evaluated per
    # call by the scheduler, and normalised then.
    if "cache" in result and not isinstance(result["cache"], Expression):
        result["cache_scope"] = CacheScope.BACKEND if result.pop("cache") else CacheScope.CSE
    if "cache_scope" in result and not isinstance(result["cache_scope"], Expression):
        result["cache_scope"] = _member(CacheScope, result["cache_scope"], "cache_scope", where)
    if "check_valid" in result and not isinstance(result["check_valid"], Expression):
        result["check_valid"] = _member(
            CacheCheckValid, result["check_valid"], "check_valid", where
        )
    return result


def _member(enum_class: Any, value: Any, option: str, where: str) -> Any:
    if isinstance(value, enum_class):
        return value
    try:
        return enum_class(value)
    except ValueError:
        pass
    if isinstance(value, str):
        # Accept either spelling of the member ("cse" or "CSE", "FULL" or "full").
        for member in enum_class:
            if value.lower() in (member.value.lower(), member.name.lower()):
                return member
    choices = ", ".join(repr(member.value) for member in enum_class)
    raise UsageError(
        f"{where}: {value!r} is not a valid {enum_class.__name__}: {option} must be one of "
        f"{choices}"
    )
