"""Tasks: functions whose calls become lazy, cached, recorded expressions."""

from __future__ import annotations

import inspect
import re
import sys
import typing
from collections.abc import Callable, Iterator
from typing import Any, Generic, ParamSpec, TypeVar, cast

from redun.errors import TaskNotFoundError, TaskOptionError, UsageError
from redun.expression import Expression, SchedulerExpression, TaskExpression
from redun.namespace import compute_namespace
from redun.task_options import CacheCheckValid, CacheScope, normalize_cache_options

P = ParamSpec("P")
R = TypeVar("R")


def _valid_limits(limits: Any) -> bool:
    if isinstance(limits, dict):
        return all(
            isinstance(name, str)
            and isinstance(count, int)
            and not isinstance(count, bool)
            and count >= 0
            for name, count in limits.items()
        )
    if isinstance(limits, (list, tuple, set, frozenset)):
        return all(isinstance(name, str) for name in limits)
    return False


_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*$")
_NAMESPACE_RE = re.compile(r"^[A-Za-z_][A-Za-z_0-9.]*$")

# Options the scheduler understands; anything else is kept and passed to executors.
KNOWN_OPTIONS = frozenset(
    {
        "cache",
        "check_valid",
        "executor",
        "limits",
        "retries",
        "nout",
        "config_args",
        "load_module",
        "wrapped_task",
        "cache_scope",
        "prov",
    }
)


class Task(Generic[P, R]):
    """A function registered with redun. Calling it returns a :class:`TaskExpression`.

    Args:
        func: the Python function.
        name: task name (default: the function's name).
        namespace: dotted namespace (default: the module's ``redun_namespace``).
        version: a hand-set version; when given, it replaces the code hash.
        hash_includes: extra values whose hashes count in the task's hash.
        script: the function returns a shell script to run (see :func:`redun.script`).
        **options: task options (``cache``, ``check_valid``, ``executor``, ``limits``,
            ``retries``, ``nout``, ``config_args``...).
    """

    # Lets code hashing recognise tasks without importing this module.
    _redun_task = True
    type_name = "redun.Task"
    # True for a task restored from a cached value whose code has changed since: calls
    # through it use the task as defined now.
    stale = False

    def __init__(
        self,
        func: Callable,
        name: str | None = None,
        namespace: str | None = None,
        version: str | None = None,
        compat: list[str] | None = None,
        script: bool = False,
        task_options_base: dict | None = None,
        task_options_override: dict | None = None,
        export_options: set[str] | None = None,
        hash_includes: list | None = None,
        source: str | None = None,
    ) -> None:
        self.func = func
        self.name: str = name or func.__name__
        self.namespace: str = compute_namespace(func, namespace)
        self.version = None if version is None else str(version)
        self.compat = compat or []
        self.script = script
        self.fullname: str = self._format_fullname(self.namespace, self.name)
        self._task_options_base: dict = normalize_cache_options(
            task_options_base or {}, f"task {self.fullname}"
        )
        self._task_options_override: dict = normalize_cache_options(
            task_options_override or {}, f"task {self.fullname}"
        )
        self._export_options: set[str] = set(export_options or ())
        if "cache" in self._export_options:
            self._export_options.add("cache_scope")
        self._hash_includes = hash_includes
        self._source = source
        # An explicit source= stands for the function's code in the hash.
        self._given_source = source
        self._hash: str | None = None
        self._full_hash: str | None = None
        self._code_hash: Any = None
        self._signature: inspect.Signature | None = None
        self._nout: Any = _UNSET
        # `async def` tasks run on an event loop (see redun.scheduler.async_tasks).
        self.is_coroutine: bool = inspect.iscoroutinefunction(func)
        self._validate()
        self._resolve_options()

    def _resolve_options(self) -> None:
        # Resolved once: the scheduler reads these for every job. Options given as
        # expressions (executor=get_context("tool.executor")) are evaluated per call;
        # until then the defaults stand in for them.
        options = self.options_view = self.get_task_options()
        lazy = frozenset(key for key, value in options.items() if isinstance(value, Expression))
        self.lazy_options: frozenset[str] = lazy
        concrete = {key: value for key, value in options.items() if key not in lazy}
        self.cache_scope: CacheScope = concrete.get("cache_scope", CacheScope.BACKEND)
        self.cache: bool = self.cache_scope is CacheScope.BACKEND
        self.check_valid: str = concrete.get("check_valid", CacheCheckValid.FULL).value
        self.executor_name: str = concrete.get("executor", "default")

    # -- identity --------------------------------------------------------
    def _validate(self) -> None:
        if not _NAME_RE.match(self.name):
            raise UsageError(
                f"task name {self.name!r} must use only letters, digits and underscores"
            )
        if self.namespace and not _NAMESPACE_RE.match(self.namespace):
            raise UsageError(
                f"task namespace {self.namespace!r} must use letters, digits, '_' and '.'"
            )
        options = {
            key: value
            for key, value in self.get_task_options().items()
            if not isinstance(value, Expression)
        }
        nout = options.get("nout")
        if nout is not None and (not isinstance(nout, int) or isinstance(nout, bool) or nout < 0):
            raise TaskOptionError(
                f"task {self.fullname}: nout must be a non-negative int, not {nout!r}"
            )
        retries = options.get("retries")
        if retries is not None and (
            not isinstance(retries, int) or isinstance(retries, bool) or retries < 0
        ):
            raise TaskOptionError(
                f"task {self.fullname}: retries must be a non-negative int, not {retries!r}"
            )
        executor = options.get("executor")
        if executor is not None and not isinstance(executor, str):
            raise TaskOptionError(
                f"task {self.fullname}: executor must be the name of an executor (a str), "
                f"not {executor!r}"
            )
        limits = options.get("limits")
        if limits is not None and not _valid_limits(limits):
            raise TaskOptionError(
                f"task {self.fullname}: limits must be a list of resource names or a dict "
                f"of resource name -> non-negative int, not {limits!r}"
            )
        config_args = options.get("config_args")
        if config_args:
            unknown = [arg for arg in config_args if arg not in self.signature.parameters]
            if unknown:
                raise UsageError(
                    f"task {self.fullname}: config_args {unknown} are not parameters "
                    f"of the function ({', '.join(self.signature.parameters)})"
                )

    def __repr__(self) -> str:
        return f"Task(fullname={self.fullname}, hash={self.hash[:8]})"

    @property
    def source(self) -> str:
        if self._source is None:
            from redun.utils import get_func_source

            try:
                # From the `def` line, decorators dropped, as redun gives it.
                self._source = get_func_source(self.func)
            except (OSError, TypeError):
                self._source = ""
        return self._source

    @property
    def hash(self) -> str:
        """The task's hash: name, namespace, and version or the code it reaches."""
        if self._hash is None:
            self._hash = self._calc_hash()
        return self._hash

    def _calc_hash(self) -> str:
        from redun.hashing import hash_parts, hash_value

        if self.version is not None:
            body = "version:" + self.version
        elif self._given_source is not None:
            # The given text is the code's identity (as redun hashes task.source).
            body = "source:" + hash_parts(self._given_source)
        else:
            body = "code:" + self.code_hash.digest
        includes = ""
        if self._hash_includes:
            includes = hash_parts(*sorted(hash_value(item) for item in self._hash_includes))
        return hash_parts("task", self.fullname, body, includes)

    @property
    def code_hash(self) -> Any:
        """The :class:`redun.codehash.CodeHash` of the function and what it reaches."""
        if self._code_hash is None:
            from redun.codehash import hash_function_code

            self._code_hash = hash_function_code(self.func)
        return self._code_hash

    def is_async(self) -> bool:
        """True if the task's function is ``async def`` (it may ``await`` task calls)."""
        return self.is_coroutine

    def recompute_hash(self) -> None:
        self._hash = None
        self._full_hash = None
        self._code_hash = None

    def get_hash(self, data: bytes | None = None) -> str:
        """The hash of this task as a value (passed as an argument, or compared).

        It is :attr:`hash` plus the call-time option overrides
        (``task.options(memory=4)``), as in redun. Calls are keyed by
        :attr:`hash` alone, as in redun (which looks the task up by name): the
        same call with other resources or another executor is a cache hit.
        """
        full = self._full_hash
        if full is None:
            overrides = self._task_options_override
            if overrides:
                from redun.hashing import hash_parts, hash_value

                full = hash_parts(self.hash, "options", hash_value(overrides))
            else:
                full = self.hash
            self._full_hash = full
        return full

    @staticmethod
    def _format_fullname(namespace: str | None, name: str) -> str:
        """``namespace.name``, or ``name`` without a namespace (as redun spells it)."""
        return f"{namespace}.{name}" if namespace else name

    def is_valid(self) -> bool:
        """True if this task's hash is the registered task's current hash.

        A task kept in a cached value (returned by a task, or passed to one) is
        restored with the hash it had; once its code changes it is no longer
        valid, and neither is the cached value holding it.
        """
        current = get_task_registry().get(self.fullname)
        return current is not None and current.hash == self.hash

    def _stale_copy(self, recorded_hash: str) -> Task[P, R]:
        """This task as it was when ``recorded_hash`` was its hash (invalid; see is_valid)."""
        clone = self._clone()
        clone._hash = recorded_hash
        clone.stale = True
        return clone

    # -- options -----------------------------------------------------------
    def get_task_options(self) -> dict:
        return {**self._task_options_base, **self._task_options_override}

    def get_task_option(self, option_name: str, default: Any = None) -> Any:
        if option_name in self._task_options_override:
            return self._task_options_override[option_name]
        return self._task_options_base.get(option_name, default)

    def has_task_option(self, option_name: str) -> bool:
        return option_name in self._task_options_override or option_name in self._task_options_base

    def options(self, **task_options_update: Any) -> Task[P, R]:
        """A copy of this task with some options overridden (``executor``, ``cache``...)."""
        clone = self._clone(
            task_options_override={**self._task_options_override, **task_options_update}
        )
        return clone

    def export_options(self, **task_options_update: Any) -> Task[P, R]:
        """Like :meth:`options`, and the options also apply to child jobs."""
        return self._clone(
            task_options_override={**self._task_options_override, **task_options_update},
            export_options=self._export_options | set(task_options_update),
        )

    def update_context(self, context: dict | None = None, **kwargs: Any) -> Task[P, R]:
        """A copy of this task with context values overridden for its jobs."""
        from redun.scheduler.context import merge_contexts

        previous = self._task_options_override.get("_context_override", {})
        return self.options(_context_override=merge_contexts(previous, context, kwargs))

    def _clone(self, **changes: Any) -> Task[P, R]:
        clone = cast("Task[P, R]", object.__new__(type(self)))
        clone.__dict__.update(self.__dict__)
        for key, value in changes.items():
            setattr(clone, "_" + key, value)
        clone._task_options_override = normalize_cache_options(
            clone._task_options_override, f"task {self.fullname}"
        )
        if "cache" in clone._export_options:
            clone._export_options = clone._export_options | {"cache_scope"}
        clone._full_hash = None
        clone._validate()
        clone._resolve_options()
        return clone

    @property
    def nout(self) -> int | None:
        """How many values the task returns, from ``nout=`` or a tuple return annotation."""
        if self._nout is _UNSET:
            nout = self.get_task_option("nout")
            self._nout = nout if nout is not None else _tuple_length(self.func)
        return cast("int | None", self._nout)

    @property
    def signature(self) -> inspect.Signature:
        """The parameters callers give: the innermost wrapped task's, unless the
        wrapper asked for its own (``wraps_task(use_wrapper_signature=True)``)."""
        if self._signature is None:
            func = self.func
            if self.wrapped_task is not None and not self.get_task_option(
                "use_wrapper_signature", False
            ):
                func = self.inner_task.func
            self._signature = inspect.signature(func)
        return self._signature

    @property
    def wrapped_task(self) -> Task | None:
        """The task this one wraps (see :func:`redun.wraps_task`), or None."""
        inner_name = self.get_task_option("wrapped_task")
        return get_task_registry().get(inner_name) if inner_name else None

    @property
    def inner_task(self) -> Task:
        """The innermost wrapped task, or this task if it wraps none."""
        current: Task = self
        seen = {id(self)}
        while True:
            inner = current.wrapped_task
            if inner is None or id(inner) in seen:
                return current
            seen.add(id(inner))
            current = inner

    @property
    def load_module(self) -> str:
        return self.get_task_option("load_module") or self.func.__module__

    def partial(self, *args: Any, **kwargs: Any) -> PartialTask[..., R]:
        """Bind some arguments now; the rest come at call time."""
        return PartialTask(self, args, kwargs)

    # -- calling -----------------------------------------------------------
    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return cast(
            R, TaskExpression(self.fullname, args, kwargs, self._task_options_override, self)
        )

    # -- pickling: by reference, so workers and the database see the registered task.
    def __reduce__(self) -> Any:
        return (
            _restore_task,
            (self.fullname, self.load_module, self._task_options_override, self.hash),
        )

    def __getstate__(self) -> dict:
        """The task as redun describes it: name, namespace, version, hash and the
        call-time options (pickling goes through ``__reduce__``, by reference)."""
        return {
            "name": self.name,
            "namespace": self.namespace,
            "version": self.version,
            "hash": self.hash,
            "compat": list(self.compat),
            "script": self.script,
            "task_options": dict(self._task_options_override),
            "export_options": set(self._export_options),
        }

    def __setstate__(self, state: dict) -> None:
        """Become the task ``state`` describes (see :meth:`__getstate__`), as registered
        now; one whose code has changed is stale, one whose code is gone is never valid
        and raises ``ValueError`` when called."""
        name = state["name"]
        namespace = state.get("namespace") or ""
        fullname = self._format_fullname(namespace, name)
        overrides = dict(state.get("task_options") or {})
        exports = set(state.get("export_options") or ())
        found = get_task_registry().get(fullname)
        if found is None:
            restored: Task = Task(
                _undefined_task(fullname),
                name=name,
                namespace=namespace,
                version=state.get("version"),
                compat=list(state.get("compat") or []),
                script=bool(state.get("script", False)),
                task_options_override=overrides,
                export_options=exports,
            )
            restored._hash = state["hash"]
        else:
            restored = found.options(**overrides) if overrides else found
            if exports != restored._export_options:
                restored = restored._clone(export_options=exports)
            if restored.hash != state["hash"]:
                restored = restored._stale_copy(state["hash"])
        self.__dict__.update(restored.__dict__)

    # Tasks compare by identity, like functions.
    __hash__ = object.__hash__


def _undefined_task(fullname: str) -> Callable:
    def undefined(*args: Any, **kwargs: Any) -> Any:
        raise ValueError(
            f"task {fullname!r} is not defined in this process: its code was removed, "
            "or its module is not imported"
        )

    return undefined


_UNSET: Any = object()


def _tuple_length(func: Callable) -> int | None:
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable string annotations: no length
        return None
    ret = hints.get("return")
    if typing.get_origin(ret) in (tuple, typing.Tuple):  # noqa: UP006
        args = typing.get_args(ret)
        if args and args[-1] is not Ellipsis and args != ((),):
            return len(args)
        if args == ((),):
            return 0
    return None


def _restore_task(fullname: str, module: str, overrides: dict, hash: str | None = None) -> Task:
    registry = get_task_registry()
    found = registry.get(fullname)
    if found is None and module and module not in sys.modules:
        try:
            __import__(module)
        except ImportError:
            pass
        found = registry.get(fullname)
    if found is None:
        raise TaskNotFoundError(
            f"task {fullname!r} is not registered in this process (module {module!r})"
        )
    restored = found.options(**overrides) if overrides else found
    if hash is not None and restored.hash != hash:
        return restored._stale_copy(hash)
    return restored


class SchedulerTask(Task[P, R]):
    """A task evaluated inside the scheduler with lazy arguments (``cond``, ``catch``...).

    Its function is called as ``func(scheduler, parent_job, sexpr, *args, **kwargs)`` and
    returns a value or a :class:`redun.promise.Promise`.
    """

    type_name = "redun.SchedulerTask"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return cast(
            R, SchedulerExpression(self.fullname, args, kwargs, self._task_options_override, self)
        )


class PartialTask(Task[P, R]):
    """A task with some arguments already given."""

    type_name = "redun.PartialTask"

    def __init__(self, task: Task[..., R], args: tuple, kwargs: dict) -> None:
        self.task = task
        self.args = tuple(args)
        self.kwargs = dict(kwargs)
        super().__init__(
            task.func,
            name=task.name,
            namespace=task.namespace,
            version=task.version,
            task_options_base=task._task_options_base,
            task_options_override=task._task_options_override,
        )

    def __repr__(self) -> str:
        return (
            f"PartialTask(fullname={self.fullname}, hash={self.hash[:8]}, "
            f"args={self.args!r}, kwargs={self.kwargs!r})"
        )

    def _calc_hash(self) -> str:
        from redun.hashing import hash_parts, hash_value

        return hash_parts("partial", self.task.hash, hash_value(self.args), hash_value(self.kwargs))

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        return self.task(*self.args, *args, **{**self.kwargs, **kwargs})

    def is_valid(self) -> bool:
        return self.task.is_valid()

    def partial(self, *args: Any, **kwargs: Any) -> PartialTask[..., R]:
        return PartialTask(self.task, self.args + args, {**self.kwargs, **kwargs})

    def options(self, **task_options_update: Any) -> PartialTask[..., R]:  # type: ignore[override]
        return PartialTask(self.task.options(**task_options_update), self.args, self.kwargs)

    def __reduce__(self) -> Any:
        return (PartialTask, (self.task, self.args, self.kwargs))

    def __getstate__(self) -> dict:
        """redun's description: the task's own, with the bound ``args``/``kwargs``."""
        state = super().__getstate__()
        state.update({"task": self.task.__getstate__(), "args": self.args, "kwargs": self.kwargs})
        return state

    def __setstate__(self, state: dict) -> None:
        task = Task.__new__(Task)
        task.__setstate__(state["task"])
        self.__dict__.update(PartialTask(task, state["args"], state["kwargs"]).__dict__)


def task(
    func: Callable | None = None,
    *,
    name: str | None = None,
    namespace: str | None = None,
    version: str | None = None,
    compat: list[str] | None = None,
    script: bool = False,
    hash_includes: list | None = None,
    source: str | None = None,
    export_options: dict | None = None,
    **task_options_base: Any,
) -> Any:
    """Register a function as a redun task.

    Usable bare (``@task``) or with options (``@task(cache=False, executor="processes")``).
    See :class:`Task` for the options.
    """

    def deco(func: Callable) -> Task:
        options = dict(task_options_base)
        export_keys = None
        if export_options:
            options.update(export_options)
            export_keys = set(export_options)
        new_task: Task = Task(
            func,
            name=name,
            namespace=namespace,
            version=version,
            compat=compat,
            script=script,
            task_options_base=options,
            export_options=export_keys,
            hash_includes=hash_includes,
            source=source,
        )
        get_task_registry().add(new_task)
        return new_task

    if func is not None:
        return deco(func)
    return deco


def scheduler_task(
    name: str | None = None,
    namespace: str | None = None,
    version: str = "1",
    **task_options_base: Any,
) -> Callable[[Callable], SchedulerTask]:
    """Register a function as a scheduler task (see :class:`SchedulerTask`)."""

    def deco(func: Callable) -> SchedulerTask:
        new_task: SchedulerTask = SchedulerTask(
            func,
            name=name,
            namespace=namespace,
            version=version,
            task_options_base=task_options_base,
        )
        get_task_registry().add(new_task)
        return new_task

    return deco


class TaskRegistry:
    """All tasks defined in this process, by full name."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    def add(self, task: Task) -> None:
        self._tasks[task.fullname] = task

    def rename(self, old_name: str, new_namespace: str, new_name: str) -> Task:
        """Move the task registered as ``old_name`` to ``new_namespace.new_name``.

        Its full name and hash change with it (the hash covers the name).
        """
        task = self._tasks.pop(old_name, None)
        if task is None:
            raise TaskNotFoundError(f"task {old_name!r} is not registered")
        task.namespace = new_namespace
        task.name = new_name
        task.fullname = f"{new_namespace}.{new_name}" if new_namespace else new_name
        task.recompute_hash()
        self._tasks[task.fullname] = task
        return task

    def get(self, task_name: str | None = None, hash: str | None = None) -> Task | None:
        if task_name is not None:
            return self._tasks.get(task_name)
        if hash is not None:
            for task in self._tasks.values():
                if task.hash == hash:
                    return task
        return None

    def require(self, task_name: str) -> Task:
        """The task named ``task_name``, or a TaskNotFoundError with suggestions."""
        found = self._tasks.get(task_name)
        if found is None:
            import difflib

            close = difflib.get_close_matches(task_name, list(self._tasks), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise TaskNotFoundError(f"task {task_name!r} not found{hint}")
        return found

    def __iter__(self) -> Iterator[Task]:
        return iter(list(self._tasks.values()))

    def __len__(self) -> int:
        return len(self._tasks)

    def __contains__(self, name: object) -> bool:
        return name in self._tasks


_task_registry = TaskRegistry()


def get_task_registry() -> TaskRegistry:
    """The process-wide registry of tasks."""
    return _task_registry


# Func: the type variable redun's decorator signatures use (``Callable[[Func], Task]``).
Func = TypeVar("Func", bound=Callable)


def get_tuple_type_length(tuple_type: Any) -> int | None:
    """The number of items of a ``tuple[...]``/``NamedTuple`` type, or None if unknown."""
    if isinstance(tuple_type, type) and issubclass(tuple_type, tuple):
        fields = getattr(tuple_type, "_fields", None)
        return len(fields) if fields is not None else None
    if typing.get_origin(tuple_type) in (tuple, typing.Tuple):  # noqa: UP006
        args = typing.get_args(tuple_type)
        if args == ((),) or (args == () and getattr(tuple_type, "__args__", None) == ()):
            return 0  # tuple[()]; a bare typing.Tuple has no __args__ and stays unknown
        if args and args[-1] is not Ellipsis:
            return len(args)
    return None


def __getattr__(name: str) -> Any:
    # wraps_task lives in its own module, which imports this one.
    if name == "wraps_task":
        from redun.task_wrap import wraps_task

        return wraps_task
    if name == "hash_args_eval":
        from redun.scheduler.calls import hash_args_eval

        return hash_args_eval
    raise AttributeError(f"module 'redun.task' has no attribute {name!r}")
