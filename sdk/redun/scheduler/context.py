"""Context values: nested dicts that ``get_context("a.b")`` reads below a call.

A job's context is its parent's (or the execution's) with the task's
``update_context(...)`` merged over it, key by key at every depth, so
``update_context({"a": {"b": 1}})`` keeps ``a.c`` from above.

The values read are recorded with the job they were read under (the job whose
expression, or whose calls' defaults, called ``get_context``): a cached call is
taken only if what was read under it, and under every call below it, is what
the context holds now (:class:`ContextReads`). So a context change re-runs the
calls that read a changed value, and those above them re-evaluate their
expressions, as in redun. A read under ``update_context`` records the whole
context's hash instead (the override is not known where the cache is checked),
and such calls are keyed by the context they see.

Defaults such as ``offset=get_context("offset", 3)`` are read in the context
of the call they belong to (its own ``update_context`` included), while its
arguments and lazy task options are evaluated where the call is made. A
:class:`ContextEnv` stands in for the parent job during that evaluation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from redun.hashing import hash_value

if TYPE_CHECKING:
    from redun.scheduler.job import Job


def get_context_value(context: dict, var_path: str, default: Any) -> Any:
    """``context["a"]["b"]`` for ``var_path="a.b"``, or ``default`` if any step is missing."""
    found, value = _lookup(context, var_path)
    return value if found else default


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


ABSENT = "-"  # the hash recorded for a context variable that was not set
WHOLE = "*"  # the key of the whole context's hash (a read under update_context)


def _lookup(context: dict, var_path: str) -> tuple[bool, Any]:
    """(whether ``var_path`` is set in ``context``, its value)."""
    value: Any = context
    for part in var_path.split("."):
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


def read_hash(context: dict, var_path: str) -> str:
    """What a read of ``var_path`` in ``context`` is recorded as (``WHOLE``: the context's
    own hash)."""
    if var_path == WHOLE:
        return hash_value(context)
    found, value = _lookup(context, var_path)
    return hash_value(value) if found else ABSENT


def note_context_read(
    env: Any, var_path: str, context: dict, run_context: dict, context_hash: Callable
) -> None:
    """Record on the job behind ``env`` (a job or a :class:`ContextEnv`) that it read
    ``var_path`` from ``context``; under an override, the run's context as a whole
    (``context_hash``: the scheduler's, which hashes each context object once)."""
    job = env._job if type(env) is ContextEnv else env
    if job is None:
        return  # read at the top: the root call's own arguments hold the value
    reads = job.context_reads
    if reads is None:
        reads = job.context_reads = {}
    if context is run_context:
        if var_path not in reads:
            reads[var_path] = read_hash(context, var_path)
    elif WHOLE not in reads:
        reads[WHOLE] = context_hash(run_context)


class ContextReads:
    """Whether recorded reads still hold in the run's context (memoized per run)."""

    def __init__(self, context: dict) -> None:
        self.context = context
        self._hashes: dict[str, str] = {}

    def changed(self, recorded: str | None) -> str | None:
        """The first variable whose recorded read differs now ("*": the context as a
        whole), or None if none does. ``recorded``: the JSON a call was recorded with;
        None (recorded before reads were) holds only for an empty context."""
        if recorded is None:
            return WHOLE if self.context else None
        if not recorded:
            return None
        hashes = self._hashes
        for var_path, digest in json.loads(recorded).items():
            now = hashes.get(var_path)
            if now is None:
                now = hashes[var_path] = read_hash(self.context, var_path)
            if now != digest:
                return var_path
        return None


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
