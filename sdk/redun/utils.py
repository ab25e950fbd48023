"""Helpers that redun users' code imports from ``redun.utils``.

Only the public ones: pickling with redun's protocol, walking and mapping
nested values, the source of a function, import paths, and small formatting
helpers. The engine's own internals do not live here.
"""

from __future__ import annotations

import inspect
import json
import pickle
import re
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import IO, Any, TypeVar

# One set of rules for what a value holds (see redun.nested), under redun's names.
from redun.nested import iter_nested_value as iter_nested_value
from redun.nested import map_nested_value as map_nested_value

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
