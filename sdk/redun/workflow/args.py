"""Task arguments from the command line, parsed by the task's signature."""

from __future__ import annotations

import argparse
import enum
import functools
import inspect
import json
import types
import typing
from collections.abc import Iterable
from typing import Any

from redun.argparsing import ArgumentParser
from redun.errors import UsageError
from redun.task import Task

_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _unwrap_optional(anno: Any) -> Any:
    origin = typing.get_origin(anno)
    if origin is typing.Union or origin is types.UnionType:
        members = [arg for arg in typing.get_args(anno) if arg is not type(None)]
        if len(members) == 1:
            return members[0]
    return anno


def converter_for(anno: Any) -> tuple[Any, bool]:
    """(function turning one CLI string into a value, whether the option takes a list)."""
    anno = _unwrap_optional(anno)
    origin = typing.get_origin(anno)
    if anno in (list, tuple, set) or origin in (list, tuple, set):
        args = typing.get_args(anno)
        inner = args[0] if args else str
        return converter_for(inner)[0], True
    if anno is bool:
        return parse_bool, False
    if anno in (int, float, str):
        return anno, False
    if anno is dict or origin is dict:
        return json.loads, False
    if isinstance(anno, type):
        if issubclass(anno, enum.Enum):
            return functools.partial(parse_enum, anno), False
        from redun.value import get_type_registry

        # File, Dir, and any Value class or registered ProxyValue: their parse_arg.
        value_type = get_type_registry().get_type(anno, use_default=False)
        if value_type is not None:
            return functools.partial(value_type.parse_arg, anno), False
        if anno.__module__ != "builtins":
            return anno, False
    return _auto, False


def parse_enum(enum_class: type[enum.Enum], text: str) -> enum.Enum:
    """A member of ``enum_class`` from ``green`` or ``Color.green`` (or its value)."""
    prefix = enum_class.__name__ + "."
    name = text[len(prefix) :] if text.startswith(prefix) else text
    try:
        return enum_class[name]
    except KeyError:
        pass
    for member in enum_class:
        if str(member.value) == text:
            return member
    raise ValueError(f"choose from {', '.join(enum_class.__members__)}")


def _auto(text: str) -> Any:
    return text


def build_parser(task: Task) -> tuple[argparse.ArgumentParser, dict[str, tuple[str, Any, bool]]]:
    parser = ArgumentParser(
        prog=f"redun run FILE {task.fullname}",
        description=(task.func.__doc__ or "").strip() or None,
        add_help=True,
    )
    dests: dict[str, tuple[str, Any, bool]] = {}
    hints: dict[str, Any] = {}
    try:
        hints = typing.get_type_hints(task.func)
    except Exception:
        hints = {}
    for param in task.signature.parameters.values():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        anno = hints.get(param.name, param.annotation)
        if anno is inspect.Parameter.empty:
            anno = (
                type(param.default) if param.default not in (inspect.Parameter.empty, None) else str
            )
        convert, many = converter_for(anno)
        names = [f"--{param.name}"]
        if "_" in param.name:
            names.append(f"--{param.name.replace('_', '-')}")
        required = param.default is inspect.Parameter.empty
        label = getattr(anno, "__name__", str(anno))
        choices = _enum_choices(anno)
        if choices:
            label = f"{label}, one of: {', '.join(choices)}"
        parser.add_argument(
            *names,
            dest=param.name,
            nargs="*" if many else None,
            metavar=param.name.upper(),
            default=argparse.SUPPRESS,
            help=f"{label}" + ("" if required else f" (default: {param.default!r})"),
        )
        dests[param.name] = (param.name, convert, required)
    return parser, dests


def _enum_choices(anno: Any) -> list[str]:
    anno = _unwrap_optional(anno)
    args = typing.get_args(anno)
    inner = args[0] if args and typing.get_origin(anno) in (list, tuple, set) else anno
    if isinstance(inner, type) and issubclass(inner, enum.Enum):
        return list(inner.__members__)
    return []


def parse_task_args(
    task: Task, argv: list[str], required: bool = True, given: Iterable[str] = ()
) -> dict[str, Any]:
    """Keyword arguments for ``task`` from ``--name value`` pairs; UsageError on bad input.

    ``required=False`` lets parameters without a default be left out (``--rerun``
    fills them from the recorded call). ``given`` names arguments supplied
    another way (typed values from Python): they are not required either.
    """
    parser, dests = build_parser(task)
    supplied = set(given)

    def fail(message: str) -> typing.NoReturn:
        raise UsageError(f"{message}\n\n{parser.format_usage().strip()}")

    parser.error = fail  # type: ignore[method-assign,assignment]
    namespace = parser.parse_args(argv)
    kwargs: dict[str, Any] = {}
    for name, (_, convert, needed) in dests.items():
        if not hasattr(namespace, name):
            if required and needed and name not in supplied:
                fail(f"task {task.fullname} needs --{name}")
            continue
        raw = getattr(namespace, name)
        try:
            if isinstance(raw, list):
                kwargs[name] = [convert(item) for item in raw]
            else:
                kwargs[name] = convert(raw)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as error:
            fail(f"bad value for --{name}: {raw!r} ({error})")
    return kwargs
