"""Lazy expressions: what calling a task returns.

Nothing runs when a task is called. The call builds a :class:`TaskExpression`;
attribute access, indexing, calls and operators on an expression build
:class:`SimpleExpression` nodes on top of it. A scheduler later reduces the
graph to concrete values.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from redun.errors import ExpressionError

if TYPE_CHECKING:
    from redun.task import Task

Result = TypeVar("Result")

# Operators that build lazy expressions: name -> concrete implementation.
_BINARY_OPS: dict[str, Callable[..., Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "truediv": operator.truediv,
    "floordiv": operator.floordiv,
    "mod": operator.mod,
    "pow": operator.pow,
    # Like the original: `&` and `|` on expressions are logical `and`/`or`.
    "and": lambda a, b: a and b,
    "or": lambda a, b: a or b,
    "xor": operator.xor,
    "lshift": operator.lshift,
    "rshift": operator.rshift,
    "matmul": operator.matmul,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
_UNARY_OPS: dict[str, Callable[..., Any]] = {
    "neg": operator.neg,
    "pos": operator.pos,
    "invert": operator.invert,
    "abs": abs,
}


def _reflected(func: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    return lambda a, b: func(b, a)


def _apply_getattr(obj: Any, name: str) -> Any:
    return getattr(obj, name)


def _apply_call(obj: Any, *args: Any, **kwargs: Any) -> Any:
    return obj(*args, **kwargs)


OPERATIONS: dict[str, Callable[..., Any]] = {
    **_BINARY_OPS,
    **{f"r{name}": _reflected(func) for name, func in _BINARY_OPS.items()},
    **_UNARY_OPS,
    "getattr": _apply_getattr,
    "getitem": operator.getitem,
    "call": _apply_call,
    "eq": operator.eq,
    "ne": operator.ne,
}


_SYMBOLS = {
    "add": "+",
    "sub": "-",
    "mul": "*",
    "truediv": "/",
    "floordiv": "//",
    "mod": "%",
    "pow": "**",
    "and": "&",
    "or": "|",
    "xor": "^",
    "lshift": "<<",
    "rshift": ">>",
    "matmul": "@",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
    "eq": "==",
    "ne": "!=",
}
_SYMBOLS.update({f"r{name}": symbol for name, symbol in list(_SYMBOLS.items())})
_UNARY_SYMBOLS = {"neg": "-", "pos": "+", "invert": "~"}


class Expression(Generic[Result]):
    """Base class of lazy values. Subclasses hold what to compute, not results."""

    __slots__ = ("_hash", "__weakref__")

    def __init__(self) -> None:
        self._hash: str | None = None

    # -- lazy operations -------------------------------------------------
    def __getattr__(self, name: str) -> SimpleExpression:
        if name.startswith("__") and name.endswith("__"):
            # Protocol probes (copy, pickle, numpy...) must not become expressions.
            raise AttributeError(name)
        return SimpleExpression("getattr", (self, name))

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice) and key.stop is not None:
            # A bounded slice is a list of item expressions, as in the original.
            return [self[i] for i in range(key.start or 0, key.stop, key.step or 1)]
        return SimpleExpression("getitem", (self, key))

    def __call__(self, *args: Any, **kwargs: Any) -> SimpleExpression:
        return SimpleExpression("call", (self, *args), kwargs)

    def __bool__(self) -> bool:
        raise ExpressionError(
            f"{self!r} is a lazy expression, and has no truth value until it is evaluated. "
            "Use redun.cond(pred, then, else_) to branch on a task's result, or do the test "
            "inside a task that receives the concrete value."
        )

    def __iter__(self) -> Iterator[Any]:
        nout = self._nout()
        if nout is None:
            raise ExpressionError(
                f"cannot iterate over {self!r}: its length is unknown until it runs. "
                "Give the task a return annotation like `-> tuple[int, str]` or "
                "`@task(nout=2)` to destructure its result."
            )
        return iter([self[i] for i in range(nout)])

    def __len__(self) -> int:
        nout = self._nout()
        if nout is None:
            raise ExpressionError(f"{self!r} has no known length until it is evaluated.")
        return nout

    def _nout(self) -> int | None:
        return None

    def __await__(self) -> Any:
        # Inside an `async def` task: the scheduler evaluates it, the task resumes.
        from redun.scheduler.async_tasks import await_expression

        return await_expression(self)

    # Expressions are hashable by identity so they can key dicts and sets.
    __hash__ = object.__hash__

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return SimpleExpression("eq", (self, other))

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return SimpleExpression("ne", (self, other))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def get_hash(self) -> str:
        """A structural hash of the expression (task, arguments, operation)."""
        if self._hash is None:
            self._hash = _expression_hash(self)
        return self._hash


def _binary(name: str) -> Callable[[Expression, Any], SimpleExpression]:
    def method(self: Expression, other: Any) -> SimpleExpression:
        return SimpleExpression(name, (self, other))

    method.__name__ = f"__{name}__"
    return method


def _unary(name: str) -> Callable[[Expression], SimpleExpression]:
    def method(self: Expression) -> SimpleExpression:
        return SimpleExpression(name, (self,))

    method.__name__ = f"__{name}__"
    return method


for _name in _BINARY_OPS:
    setattr(Expression, f"__{_name}__", _binary(_name))
    if _name not in ("lt", "le", "gt", "ge"):
        setattr(Expression, f"__r{_name}__", _binary(f"r{_name}"))
for _name in _UNARY_OPS:
    setattr(Expression, f"__{_name}__", _unary(_name))


class ApplyExpression(Expression[Result]):
    """An expression that applies something to arguments."""

    __slots__ = ("args", "kwargs")

    def __init__(self, args: tuple, kwargs: dict) -> None:
        super().__init__()
        self.args = args
        self.kwargs = kwargs

    def _nested_parts(self) -> list:
        """What it holds, for a walk of the values and tasks inside a value that keeps
        this expression (see :class:`redun.nested.ValueWalk`)."""
        return [*self.args, *self.kwargs.values()]


class TaskExpression(ApplyExpression[Result]):
    """A call of a task with (possibly lazy) arguments."""

    __slots__ = ("task_name", "task", "task_options")

    def __init__(
        self,
        task_name: str,
        args: tuple,
        kwargs: dict,
        task_options: dict | None = None,
        task: Task | None = None,
    ) -> None:
        super().__init__(args, kwargs)
        self.task_name = task_name
        self.task = task
        self.task_options = task_options or {}

    def _nout(self) -> int | None:
        return self.task.nout if self.task is not None else None

    def _nested_parts(self) -> list:
        parts = [*self.args, *self.kwargs.values()]
        if self.task is not None:
            parts.append(self.task)  # restored from the store: stale once its code changed
        return parts

    @property
    def _options(self) -> dict:
        """The task options this call overrides (the original's attribute name)."""
        return self.task_options

    def is_valid(self) -> bool:
        """True if its task is still registered and the Values among its arguments are
        still valid (redun's ``TaskExpression.is_valid``; a method, not a lazy
        attribute, as there)."""
        from redun.nested import all_valid
        from redun.task import get_task_registry

        if get_task_registry().get(self.task_name) is None:
            return False
        return all_valid((self.args, self.kwargs))

    def __repr__(self) -> str:
        return f"{self.task_name}({format_arguments(self.args, self.kwargs, limit=None)})"

    def __getstate__(self) -> dict:
        return {
            "task_name": self.task_name,
            "args": self.args,
            "kwargs": self.kwargs,
            "task_options": self.task_options,
            "task": self.task,
        }

    def __setstate__(self, state: dict) -> None:
        self._hash = None
        self.task_name = state["task_name"]
        self.args = state["args"]
        self.kwargs = state["kwargs"]
        self.task_options = state["task_options"]
        self.task = state["task"]

    def __reduce__(self) -> Any:
        # A tuple instead of a state dict: half the time and two thirds of the bytes, which
        # counts when a fan-out's returned list of calls is recorded (redun.scheduler.replay).
        return (
            _rebuild_task_expression,
            (type(self), self.task_name, self.args, self.kwargs, self.task_options, self.task),
        )


def _rebuild_task_expression(
    cls: type[TaskExpression],
    task_name: str,
    args: tuple,
    kwargs: dict,
    task_options: dict,
    task: Any,
) -> TaskExpression:
    expr = cls.__new__(cls)
    expr._hash = None
    expr.task_name = task_name
    expr.args = args
    expr.kwargs = kwargs
    expr.task_options = task_options
    expr.task = task
    return expr


class SchedulerExpression(TaskExpression[Result]):
    """A call of a scheduler task (``cond``, ``catch``...): its arguments stay lazy."""

    __slots__ = ()


class SimpleExpression(ApplyExpression[Result]):
    """An operation (attribute, item, call, operator) on lazy values."""

    __slots__ = ("func_name",)

    def __init__(self, func_name: str, args: tuple = (), kwargs: dict | None = None) -> None:
        super().__init__(args, kwargs or {})
        self.func_name = func_name

    def __repr__(self) -> str:
        args = self.args
        name = self.func_name
        if name == "getattr":
            return f"{args[0]!r}.{args[1]}"
        if name == "getitem":
            return f"{args[0]!r}[{args[1]!r}]"
        if name == "call":
            return f"{args[0]!r}({format_arguments(args[1:], self.kwargs, limit=None)})"
        symbol = _SYMBOLS.get(name)
        if symbol is not None and len(args) == 2:
            left, right = (args[1], args[0]) if name.startswith("r") else args
            return f"({left!r} {symbol} {right!r})"
        if name in _UNARY_SYMBOLS and len(args) == 1:
            return f"{_UNARY_SYMBOLS[name]}{args[0]!r}"
        return f"{name}({format_arguments(args, self.kwargs, limit=None)})"

    def __getstate__(self) -> dict:
        return {"func_name": self.func_name, "args": self.args, "kwargs": self.kwargs}

    def __setstate__(self, state: dict) -> None:
        self._hash = None
        self.func_name = state["func_name"]
        self.args = state["args"]
        self.kwargs = state["kwargs"]


class ValueExpression(Expression[Result]):
    """A concrete value wrapped as an expression."""

    __slots__ = ("value",)

    def __init__(self, value: Result) -> None:
        super().__init__()
        self.value = value

    def __repr__(self) -> str:
        return f"ValueExpression({self.value!r})"

    def _nested_parts(self) -> list:
        return [self.value]

    def __getstate__(self) -> dict:
        return {"value": self.value}

    def __setstate__(self, state: dict) -> None:
        self._hash = None
        self.value = state["value"]


class QuotedExpression(Generic[Result]):
    """An expression passed around unevaluated (see :func:`quote`)."""

    __slots__ = ("_expr",)

    def __init__(self, expr: Result) -> None:
        self._expr = expr

    def __repr__(self) -> str:
        return f"QuotedExpression({self._expr!r})"

    def _nested_parts(self) -> list:
        return [self._expr]

    def eval(self) -> Result:
        return self._expr


def quote(expr: Result) -> QuotedExpression[Result]:
    """Protect an expression from evaluation when passed to a task."""
    return QuotedExpression(expr)


def format_arguments(args: tuple, kwargs: dict, limit: int | None = 80) -> str:
    """Short, readable rendering of call arguments (``limit=None``: each in full, as
    redun's expression reprs show them)."""
    parts = [_short_repr(arg, limit) for arg in args]
    parts.extend(f"{key}={_short_repr(value, limit)}" for key, value in sorted(kwargs.items()))
    return ", ".join(parts)


def _short_repr(value: Any, limit: int | None) -> str:
    try:
        text = repr(value)
    except Exception:  # a user's broken __repr__ must not break ours
        text = f"<{type(value).__name__}>"
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."


def _expression_hash(expr: Expression) -> str:
    from redun.hashing import hash_parts, hash_value

    if isinstance(expr, TaskExpression):
        task_hash = expr.task.get_hash() if expr.task is not None else expr.task_name
        return hash_parts("task", task_hash, hash_value(expr.args), hash_value(expr.kwargs))
    if isinstance(expr, SimpleExpression):
        return hash_parts("simple", expr.func_name, hash_value(expr.args), hash_value(expr.kwargs))
    if isinstance(expr, ValueExpression):
        return hash_parts("value", hash_value(expr.value))
    raise ExpressionError(f"cannot hash expression {expr!r}")
