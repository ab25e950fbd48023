"""Value lifecycle hooks around a task call: ``preprocess`` and ``postprocess``.

A :class:`redun.value.Value` may change as it passes into a task (a
:class:`redun.Handle` forks) and as it comes out (a handle takes the identity
of the call that returned it). The scheduler calls these only once a class
defining such hooks exists, so ordinary workflows pay nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redun.utils import map_nested_value
from redun.value import Value

if TYPE_CHECKING:
    from redun.scheduler.job import Job


def preprocess_arguments(
    forks: dict[tuple[str, str], int], parent: Job | None, args: tuple, kwargs: dict
) -> tuple[tuple, dict]:
    """``(args, kwargs)`` with each Value replaced by its ``preprocess`` result.

    ``forks`` counts, per (parent job, value hash), how often a value was passed
    to the parent's calls: the count (``call_order``) keeps two calls that get
    the same handle apart.
    """

    def prepare(value: Any) -> Any:
        if not isinstance(value, Value):
            return value
        call_order = 0
        if parent is not None:
            key = (parent.id, value.get_hash())
            call_order = forks[key] = forks.get(key, 0) + 1
        return value.preprocess({"call_order": call_order})

    return map_nested_value(prepare, args), map_nested_value(prepare, kwargs)


def postprocess_result(result: Any, pre_call_hash: str) -> Any:
    """``result`` with each Value replaced by its ``postprocess`` result."""

    def finish(value: Any) -> Any:
        if isinstance(value, Value):
            return value.postprocess({"pre_call_hash": pre_call_hash})
        return value

    return map_nested_value(finish, result)
