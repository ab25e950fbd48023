"""Context values: nested dicts that ``get_context("a.b")`` reads below a call.

A job's context is its parent's (or the execution's) with the task's
``update_context(...)`` merged over it, key by key at every depth, so
``update_context({"a": {"b": 1}})`` keeps ``a.c`` from above. The context
counts in a call's cache key.

Defaults such as ``offset=get_context("offset", 3)`` are read in the context
of the call they belong to (its own ``update_context`` included), while its
arguments and lazy task options are evaluated where the call is made. A
:class:`ContextEnv` stands in for the parent job during that evaluation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redun.scheduler.job import Job


def get_context_value(context: dict, var_path: str, default: Any) -> Any:
    """``context["a"]["b"]`` for ``var_path="a.b"``, or ``default`` if any step is missing."""
    value: Any = context
    for part in var_path.split("."):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return value


def merge_contexts(*layers: dict | None) -> dict:
    """Merge dicts left to right; nested dicts merge key by key, anything else replaces.

    The first layer is returned itself when nothing is merged over it (jobs share
    their parent's context object, which keeps its hash cached once).
    """
    given = [layer for layer in layers if layer]
    if not given:
        return layers[0] if layers and layers[0] is not None else {}
    if len(given) == 1:
        return given[0]
    from redun.utils import merge_dicts

    return merge_dicts(given)


class ContextEnv:
    """The parent job as seen from a call's defaults: the same job, the call's context.

    Child jobs made while evaluating the defaults hang under the real parent;
    only ``context`` differs.
    """

    __slots__ = ("_job", "context", "child_jobs", "id")

    def __init__(self, job: Job | None, context: dict) -> None:
        self._job = job
        self.context = context
        self.child_jobs: list[Job] = job.child_jobs if job is not None else []
        self.id = job.id if job is not None else None

    def get_context(self) -> dict:
        return self.context

    @property
    def prov(self) -> bool:
        return self._job.prov if self._job is not None else True

    @property
    def exported(self) -> dict:
        return self._job.exported if self._job is not None else {}

    def __getattr__(self, name: str) -> Any:
        if self._job is None:
            raise AttributeError(name)
        return getattr(self._job, name)


def context_from_config(section: dict | None) -> dict:
    """The base context of ``[scheduler]``: ``context`` (JSON) or ``context_file`` (a path).

    Raises:
        UsageError: both are given, the file cannot be read, or the JSON is invalid.
    """
    import json

    from redun.errors import UsageError

    section = section or {}
    text = section.get("context")
    path = section.get("context_file")
    if text and path:
        raise UsageError(
            "[scheduler] sets both context and context_file in redun.ini; keep one of them"
        )
    where = "[scheduler] context in redun.ini"
    if path:
        where = f"[scheduler] context_file {path}"
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise UsageError(f"cannot read {where}: {error.strerror or error}") from None
    if not text:
        return {}
    try:
        context = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{where} is not valid JSON: {error}") from None
    if not isinstance(context, dict):
        raise UsageError(f"{where} must be a JSON object, not {type(context).__name__}")
    return context
