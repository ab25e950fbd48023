"""Task arguments from the command line, parsed by the task's signature."""

from __future__ import annotations

import argparse
import collections.abc
import datetime
import enum
import functools
import inspect
import json
import re
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


_OFFSET = re.compile(r"^(.*\d)\s+(Z|[+-]\d{2}:?\d{2})$")


def parse_datetime(cls: type, text: str) -> Any:
    """A ``datetime``, ``date`` or ``time`` from ISO 8601 text (``2022-07-01``,
    ``2022-07-01 10:05:33``, ``2022-07-01T10:05:33+04:00``; a UTC offset may follow
    after a space, as in ``10:05:33 +0400``)."""
    stripped = text.strip()
    found = _OFFSET.match(stripped)
    if found is not None:
        stripped = found.group(1) + found.group(2)
    try:
        return cls.fromisoformat(stripped)  # type: ignore[attr-defined]
    except ValueError:
        raise ValueError(
            f"expected an ISO 8601 {cls.__name__} such as 2022-07-01"
            + (" 10:05:33" if cls is datetime.datetime else ""),
        ) from None


def parse_function(text: str) -> Any:
    """A module-level function from its dotted name (``pkg.module.func``), as redun
    takes a function argument on the command line."""
    import importlib

    module_name, _, name = text.rpartition(".")
    if not module_name or not name:
        raise ValueError(f"Unexpected format for function name: {text} (write module.function)")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        raise ValueError(f"Function not found: {text}") from None
    if not callable(found):
        raise ValueError(f"Function not found: {text} (it is a {type(found).__name__})")
    return found


def parse_plain(raw_type: Any, text: str) -> Any:
    """A value of a type no Value class is registered for, from a command-line string:
    booleans (true/false, yes/no, 1/0), enum members by name, dates and times (ISO
    8601), functions by dotted name, else ``raw_type(text)``."""
    if raw_type is bool:
        return parse_bool(text)
    if raw_type is types.FunctionType:
        return parse_function(text)
    if isinstance(raw_type, type):
        if issubclass(raw_type, enum.Enum):
            return parse_enum(raw_type, text)
        if raw_type in (datetime.datetime, datetime.date, datetime.time):
            return parse_datetime(raw_type, text)
    return raw_type(text)


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
    if anno is types.FunctionType or collections.abc.Callable in (anno, origin):
        return parse_function, False
    if anno in (int, float, str):
        return anno, False
    if anno is dict or origin is dict:
        return json.loads, False
    if isinstance(anno, type):
        if issubclass(anno, enum.Enum):
            return functools.partial(parse_enum, anno), False
        if anno in (datetime.datetime, datetime.date, datetime.time):
            return functools.partial(parse_datetime, anno), False
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


class _Param(typing.NamedTuple):
    name: str
    flags: list[str]  # --name, and --dashed-name for a name with underscores
    convert: Any  # one CLI string -> a value
    many: bool  # takes a list
    required: bool
    help: str
    kind: str = "value"  # the element type's name, for errors ("invalid int value")


def _kind(anno: Any) -> str:
    """What one command-line value of ``anno`` is called in an error, as argparse
    says it: ``int``, ``Color``, ``function``..."""
    anno = _unwrap_optional(anno)
    origin = typing.get_origin(anno)
    if anno in (list, tuple, set) or origin in (list, tuple, set):
        args = typing.get_args(anno)
        return _kind(args[0]) if args else "value"
    if anno is types.FunctionType or collections.abc.Callable in (anno, origin):
        return "function"
    return str(getattr(anno, "__name__", "value"))


def _params(task: Task) -> list[_Param]:
    """The task's command-line options, from its signature and type hints."""
    try:
        hints = typing.get_type_hints(task.func)
    except Exception:
        hints = {}
    params = []
    for param in task.signature.parameters.values():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        anno = hints.get(param.name, param.annotation)
        if anno is inspect.Parameter.empty:
            anno = (
                type(param.default) if param.default not in (inspect.Parameter.empty, None) else str
            )
        convert, many = converter_for(anno)
        flags = [f"--{param.name}"]
        if "_" in param.name:
            flags.append(f"--{param.name.replace('_', '-')}")
        required = param.default is inspect.Parameter.empty
        label = getattr(anno, "__name__", str(anno))
        choices = _enum_choices(anno)
        if choices:
            label = f"{label}, one of: {', '.join(choices)}"
        text = label + ("" if required else f" (default: {param.default!r})")
        params.append(_Param(param.name, flags, convert, many, required, text, _kind(anno)))
    return params


def build_parser(task: Task) -> tuple[argparse.ArgumentParser, dict[str, tuple[str, Any, bool]]]:
    return _build_parser(task, _params(task))


def _build_parser(
    task: Task, params: list[_Param]
) -> tuple[argparse.ArgumentParser, dict[str, tuple[str, Any, bool]]]:
    parser = ArgumentParser(
        prog=f"redun run FILE {task.fullname}",
        description=(task.func.__doc__ or "").strip() or None,
        add_help=True,
    )
    dests: dict[str, tuple[str, Any, bool]] = {}
    for param in params:
        parser.add_argument(
            *param.flags,
            dest=param.name,
            nargs="*" if param.many else None,
            metavar=param.name.upper(),
            default=argparse.SUPPRESS,
            help=param.help,
        )
        dests[param.name] = (param.name, param.convert, param.required)
    return parser, dests


def _plain_pairs(params: list[_Param], argv: list[str]) -> dict[str, str] | None:
    """``argv`` as name -> text when it is only ``--name value`` pairs of single-valued
    options, each given once, no value looking like an option; None: argparse decides
    (lists, ``--name=value``, abbreviations, ``--help``, errors). Building an argparse
    parser is most of what parsing a run's few arguments costs (~0.5 ms, ~2 ms the
    first time in a process)."""
    if len(argv) % 2:
        return None
    by_flag = {flag: param for param in params for flag in param.flags}
    raw: dict[str, str] = {}
    for index in range(0, len(argv), 2):
        param = by_flag.get(argv[index])
        value = argv[index + 1]
        if param is None or param.many or param.name in raw or value.startswith("-"):
            return None
        raw[param.name] = value
    return raw


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
    params = _params(task)
    supplied = set(given)
    pairs = _plain_pairs(params, argv)

    def fail(message: str) -> typing.NoReturn:
        parser, _ = _build_parser(task, params)
        raise UsageError(f"{message}\n\n{parser.format_usage().strip()}")

    if pairs is not None:
        given_raw: dict[str, Any] = pairs
    else:
        parser, _ = _build_parser(task, params)
        parser.error = fail  # type: ignore[method-assign,assignment]
        given_raw = vars(parser.parse_args(argv))
    kwargs: dict[str, Any] = {}
    for name, _, convert, _, needed, _, kind in params:
        if name not in given_raw:
            if required and needed and name not in supplied:
                fail(f"task {task.fullname} needs --{name}")
            continue
        raw = given_raw[name]
        items = raw if isinstance(raw, list) else [raw]
        values = []
        for item in items:
            try:
                values.append(convert(item))
            except (ValueError, KeyError, TypeError, json.JSONDecodeError) as error:
                # argparse's words, as redun's command line says it, then why.
                fail(f"argument --{name}: invalid {kind} value: {item!r} ({error})")
        kwargs[name] = values if isinstance(raw, list) else values[0]
    return kwargs
