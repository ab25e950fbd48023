"""Helpers that redun users' code imports from ``redun.utils``.

Only the public ones: pickling with redun's protocol, walking and mapping
nested values, the source of a function, import paths, and small formatting
helpers. The engine's own internals do not live here.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import pickle
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta, timezone
from typing import IO, Any, TypeVar

PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL
T = TypeVar("T")

_import_paths: list[str] = []


def str2bool(text: str) -> bool:
    """``"true"``/``"false"`` (any case) as a bool; ValueError otherwise."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    raise ValueError(f"expected true or false, got {text!r}")


def add_import_path(path: str) -> None:
    """Put ``path`` first on ``sys.path`` and remember it (``redun run --import-path``)."""
    _import_paths.insert(0, path)
    sys.path.insert(0, "" if path == "." else path)


def get_import_paths() -> list[str]:
    """The paths added with :func:`add_import_path`, newest first."""
    return _import_paths


def clear_import_paths() -> None:
    """Forget the paths added with :func:`add_import_path` (``sys.path`` is left alone)."""
    _import_paths.clear()


def json_dumps(value: Any) -> str:
    """Compact JSON with sorted keys: the same text for the same data."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def pickle_dumps(obj: Any) -> bytes:
    """Pickle ``obj`` with the protocol redun stores values with."""
    return pickle.dumps(obj, protocol=PICKLE_PROTOCOL)


def pickle_dump(obj: Any, file: IO[bytes]) -> None:
    """Pickle ``obj`` into ``file`` with redun's protocol."""
    pickle.dump(obj, file, protocol=PICKLE_PROTOCOL)


def pickle_loads(data: bytes) -> Any:
    """The inverse of :func:`pickle_dumps`."""
    return pickle.loads(data)


def _children(value: Any) -> Iterable[Any] | None:
    cls = type(value)
    if cls in (list, tuple, set, frozenset) or (
        isinstance(value, tuple) and hasattr(value, "_fields")
    ):
        return value  # type: ignore[no-any-return]
    if cls is dict:
        return [*value.keys(), *value.values()]
    if dataclasses.is_dataclass(cls):
        return [getattr(value, field.name) for field in dataclasses.fields(value)]
    return None


def iter_nested_value(value: Any) -> Iterator[Any]:
    """The leaves of a value nested in lists, tuples, sets, dicts and dataclasses."""
    stack = [value]
    while stack:
        item = stack.pop()
        children = _children(item)
        if children is None:
            yield item
        else:
            stack.extend(children)


def map_nested_value(func: Callable[[Any], Any], value: Any) -> Any:
    """``value`` rebuilt with ``func`` applied to each leaf (containers keep their type)."""
    cls = type(value)
    if cls is list:
        return [map_nested_value(func, item) for item in value]
    if cls is tuple:
        return tuple(map_nested_value(func, item) for item in value)
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return cls(*(map_nested_value(func, item) for item in value))
    if cls is set:
        return {map_nested_value(func, item) for item in value}
    if cls is dict:
        return {map_nested_value(func, k): map_nested_value(func, v) for k, v in value.items()}
    if dataclasses.is_dataclass(cls):
        fields = dataclasses.fields(value)
        mapped = cls(
            **{
                field.name: map_nested_value(func, getattr(value, field.name))
                for field in fields
                if field.init
            }
        )
        for field in fields:
            if not field.init:
                object.__setattr__(
                    mapped, field.name, map_nested_value(func, getattr(value, field.name))
                )
        return mapped
    return func(value)


def trim_string(text: str, max_length: int = 200, ellipsis: str = "...") -> str:
    """``text`` cut to ``max_length`` characters, ending in ``ellipsis`` if cut."""
    if len(text) <= max_length:
        return text
    return text[: max_length - len(ellipsis)] + ellipsis


def merge_dicts(dicts: list[T]) -> T:
    """Merge nested dicts; later ones win, nested dicts merge key by key."""
    result: dict = {}
    for item in dicts:
        for key, value in item.items():  # type: ignore[attr-defined]
            if isinstance(value, dict) and isinstance(result.get(key), dict):
                result[key] = merge_dicts([result[key], value])
            else:
                result[key] = value
    return result  # type: ignore[return-value]


def get_func_source(func: Callable) -> str:
    """The source of ``func`` from its ``def`` line (decorators dropped)."""
    source = inspect.getsource(func)
    lines = source.split("\n")
    for index, line in enumerate(lines):
        if re.match(r"^\s*(async\s+)?def ", line):
            return "\n".join(lines[index:])
    return source


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware."""
    return datetime.now(timezone.utc)


def format_timestamp(timestamp: datetime, tz: Any = None) -> str:
    """``timestamp`` as local (or ``tz``) time, ``YYYY-MM-DD HH:MM:SS``."""
    return timestamp.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")


def format_timedelta(duration: timedelta) -> str:
    """``H:MM:SS.cc``."""
    hours, rest = divmod(duration.seconds + duration.days * 86400, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{seconds:02}.{duration.microseconds // 10000:02}"
