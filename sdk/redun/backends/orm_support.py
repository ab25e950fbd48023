"""Plain helpers of the provenance models (:mod:`redun.backends.orm`): no SQLAlchemy here.

Arguments are recorded by parameter name; their order (and redun's
``arg_position``) comes from the task's recorded source. Values are unpickled
from the row or from the value store, with a preview in their place when the
class is gone or the store does not hold them.
"""

from __future__ import annotations

import ast
import functools
import pickle
import textwrap
import warnings
from typing import Any

_TRIM = 200


def trim(text: str, limit: int = _TRIM) -> str:
    """``text`` cut to ``limit`` characters, with ``...`` when cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ValuePreview:
    """Stands for a value that cannot be loaded here: its type and recorded preview."""

    def __init__(self, type_name: str | None, preview: str | None, size: int | None) -> None:
        self.type_name = type_name
        self.preview = preview
        self.size = size

    def __repr__(self) -> str:
        text = f" {self.preview}" if self.preview else ""
        return f"<{self.type_name}{text} ({self.size or 0} bytes)>"


def load_value(row: Any, store: Any) -> Any:
    """The value of a ``Value`` row, unpickled from the row or from ``store``.

    Returns:
        The value; a :class:`ValuePreview` if its class cannot be imported here or
        the store does not hold it (with a warning).
    """
    preview = ValuePreview(row.type, row.preview_text, row.size)
    data = row.value
    if data is None and row.location == "store":
        try:
            data = store.read_bytes(row.value_hash)
        except Exception as exc:
            warnings.warn(
                f"value {row.value_hash[:8]} is not in the value store "
                f"{getattr(store, 'root', None) or '(none configured)'}: {exc}; "
                "is [backend] value_store set as it was for the run?",
                stacklevel=3,
            )
            return preview
    if data is None:
        return preview
    try:
        return pickle.loads(data)
    except Exception:
        return preview  # a class that is not importable here


class ArgumentOrder:
    """The parameters of a task's source: their order, and their positions."""

    def __init__(self, rank: dict[str, int], positions: dict[str, int | None]) -> None:
        self.rank = rank
        self.positions = positions

    def sort_key(self, name: str) -> tuple[int, str]:
        if name.startswith("**"):
            return (len(self.rank) + 1, name)
        return (self.rank.get(name, len(self.rank)), name)


_NO_ORDER = ArgumentOrder({}, {})


@functools.lru_cache(maxsize=1024)
def argument_order(source: str | None) -> ArgumentOrder:
    """The order of the first function's parameters in ``source`` (empty if none parses).

    Names are as recorded: ``*args`` for a var-positional parameter; keyword-only
    parameters rank after the positional ones and have no position.
    """
    if not source:
        return _NO_ORDER
    try:
        tree = ast.parse(textwrap.dedent(source))
    except (SyntaxError, ValueError):
        return _NO_ORDER
    func = next(
        (node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))),
        None,
    )
    if func is None:
        return _NO_ORDER
    spec = func.args
    names: list[str] = [arg.arg for arg in [*spec.posonlyargs, *spec.args]]
    positions: dict[str, int | None] = {name: index for index, name in enumerate(names)}
    if spec.vararg is not None:
        name = f"*{spec.vararg.arg}"
        positions[name] = len(names)
        names.append(name)
    for arg in spec.kwonlyargs:
        positions[arg.arg] = None
        names.append(arg.arg)
    return ArgumentOrder({name: index for index, name in enumerate(names)}, positions)
