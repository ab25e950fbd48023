"""The backend interface and the records it stores.

A *call* is one evaluation of a task: ``eval_hash`` (task hash + argument
hashes) says what was asked; ``call_hash`` (adds the result hash and the child
calls' hashes) says what happened. The cache maps eval hashes to the latest
call, and a call's children let the scheduler check, in one query, that
everything a cached result depended on is still current.
"""

from __future__ import annotations

import enum
import pickle
import time
from typing import TYPE_CHECKING, Any

from redun.nested import all_valid, holds_values
from redun.plain import Plain
from redun.value import Value

if TYPE_CHECKING:
    from redun.scheduler.job import Job


class TagEntity(str, enum.Enum):
    """The kinds of record a tag is on, as stored in ``redun_tag.entity_type``
    (redun's names: ``Tag.entity_type == TagEntity.Job`` in a query)."""

    Execution = "execution"
    Job = "job"
    CallNode = "call_node"
    Task = "task"
    Value = "value"
    Null = "null"

    def __str__(self) -> str:
        return self.value


class CallRecord(Plain):
    """One recorded call of a task.

    ``result_needs_check``: whether the result holds values with their own validity
    (files); None: unknown. ``expr_hash``: the expression the task returned (a value
    hash), when its result came from calls below it: a cached call whose subtree
    changed re-evaluates it (scheduler.replay). ``cacheable``: False for a call of a
    task with cache=False: a call above it is never taken whole from the cache, so
    this one runs again every time. ``context_reads``: the context values read under
    the call, as JSON (:attr:`redun.scheduler.job.Job.context_reads`); "" none,
    None not known (recorded before reads were).
    """

    __slots__ = (
        "call_hash",
        "task_name",
        "task_hash",
        "args_hash",
        "eval_hash",
        "result_hash",
        "child_call_hashes",
        "arg_hashes",
        "time",
        "result_needs_check",
        "expr_hash",
        "cacheable",
        "context_reads",
    )

    def __init__(
        self,
        call_hash: str,
        task_name: str,
        task_hash: str,
        args_hash: str,
        eval_hash: str,
        result_hash: str,
        child_call_hashes: tuple[str, ...] = (),
        arg_hashes: dict[str, str] | None = None,
        time: float = 0.0,
        result_needs_check: bool | None = None,
        expr_hash: str | None = None,
        cacheable: bool = True,
        context_reads: str | None = "",
    ) -> None:
        self.call_hash = call_hash
        self.task_name = task_name
        self.task_hash = task_hash
        self.args_hash = args_hash
        self.eval_hash = eval_hash
        self.result_hash = result_hash
        self.child_call_hashes = child_call_hashes
        self.arg_hashes: dict[str, str] = {} if arg_hashes is None else arg_hashes
        self.time = time
        self.result_needs_check = result_needs_check
        self.expr_hash = expr_hash
        self.cacheable = cacheable
        self.context_reads = context_reads


class TreeCheck(Plain):
    """What the call tree below a call was found valid on (see :mod:`redun.scheduler.cache`).

    The tree below a call hash never changes, so the same conditions give the same
    verdict: the tasks in the walked calls still have these hashes (``tasks``: task
    name and hash of every call walked), the tasks the walk stopped at still have
    ``check_valid="shallow"`` (``shallow``: their names), these values (``checks``:
    value hashes of files in results and arguments) are still valid.
    """

    __slots__ = ("tasks", "shallow", "checks")

    def __init__(self, tasks: list[tuple[str, str]], shallow: list[str], checks: list[str]) -> None:
        self.tasks = tasks
        self.shallow = shallow
        self.checks = checks


class CacheHit(Plain):
    """A cached call found valid for a job."""

    __slots__ = ("call_hash", "result_hash", "value")

    def __init__(self, call_hash: str, result_hash: str, value: Any) -> None:
        self.call_hash = call_hash
        self.result_hash = result_hash
        self.value = value


class ValueRecord(Plain):
    """A value to store: its hash, type name, and the object (pickled by the writer)."""

    __slots__ = ("value_hash", "type_name", "value", "needs_check")

    def __init__(self, value_hash: str, type_name: str, value: Any, needs_check: bool) -> None:
        self.value_hash = value_hash
        self.type_name = type_name
        self.value = value
        self.needs_check = needs_check


class Backend:
    """Interface every backend implements (see :class:`MemoryBackend`, ``DbBackend``)."""

    def load(self, migrate: bool | None = None) -> None:
        """Open the store (create or migrate the schema as configured)."""

    def find_calls(self, eval_hashes: list[str]) -> dict[str, CallRecord]:
        """The latest recorded call for each eval hash that has one."""
        raise NotImplementedError

    def get_call_tree(self, call_hashes: list[str]) -> dict[str, CallRecord]:
        """The given calls and all their descendants, by call hash."""
        raise NotImplementedError

    def checked_arguments(self, root_call_hashes: list[str]) -> dict[str, list[str]]:
        """For each call in the trees below these roots, its arguments that hold files.

        (Their value hashes: values that need a validity check.)
        """
        return {}

    def tree_checks(self, call_hashes: list[str]) -> dict[str, TreeCheck]:
        """The stored verdicts on the call trees below these calls (those that have one).

        See :mod:`redun.scheduler.cache`: a :class:`TreeCheck` lists what a call's
        tree was found valid on. Backends that keep none return an empty dict.
        """
        return {}

    def remember_tree_checks(self, checks: dict[str, TreeCheck]) -> None:
        """Keep these verdicts for later runs (with the run's records, if it has some).

        A verdict that is lost costs a later run a walk of the tree, nothing else.
        """

    def files_in_calls(self, call_hashes: list[str]) -> set[str]:
        """Paths of the files in the arguments and results of these calls and all below them.

        A cached job stands for its whole call tree; this says which files that
        tree read or wrote (a watch follows them); a directory in an object store
        ends in ``/`` (``s3://b/dir/``). Backends that do not record files return
        an empty set.
        """
        return set()

    def has_calls(self, task_hash: str) -> bool:
        """False only if no call of this task version was ever recorded (skips lookups)."""
        return True

    def get_values(self, value_hashes: list[str]) -> dict[str, Any]:
        """Stored values by hash (those found)."""
        raise NotImplementedError

    def values_needing_check(self, value_hashes: list[str]) -> set[str]:
        """Which of these values hold objects with their own validity (files)."""
        raise NotImplementedError

    def recorder(self, scheduler: Any) -> Any:
        """An event subscriber that records the run (with ``close()`` to flush)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections and threads."""


def needs_validity_check(value: Any) -> bool:
    """True if ``value`` holds a :class:`Value` or a task, whose validity can turn False.

    (Or is too large to tell: see :func:`redun.nested.holds_values`.)
    """
    return holds_values(value, tasks=True)


def value_is_valid(value: Any) -> bool:
    """False if any :class:`Value` inside ``value`` reports itself no longer valid, or any
    task inside it has changed its code since (a task kept in a cached value is stale)."""
    return all_valid(value, tasks=True)


def type_name_of(value: Any) -> str:
    cls = type(value)
    if isinstance(value, Value):
        return value.get_type_name()
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def call_record_for(job: Job, expr_hash: str | None = None) -> CallRecord:
    """The call record of a finished job (``expr_hash``: its recorded expression's)."""
    assert job.call_hash is not None and job.result_hash is not None
    return CallRecord(
        call_hash=job.call_hash,
        task_name=job.task.fullname,
        task_hash=job.task.hash,
        args_hash=job.args_hash,
        eval_hash=job.eval_hash,
        result_hash=job.result_hash,
        child_call_hashes=tuple(c.call_hash for c in job.child_jobs if c.call_hash),
        arg_hashes=job.arg_hashes,
        time=job.end_time or time.time(),
        expr_hash=expr_hash or job.expr_hash,
        cacheable=job.task.cache,
        context_reads=job.reads_text(),
    )


def dumps_value(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def loads_value(data: bytes) -> Any:
    return pickle.loads(data)
