"""The walk: the transitive closure of what a function's code references.

Names are found in the code object's ``co_names`` (and those of nested code
objects: comprehensions, inner functions, lambdas), in the names used by the
function's default-argument expressions, and resolved in the function's
``__globals__``; attribute names (``helpers.f``) are resolved on the user
modules the code references. Each object a name resolves to becomes a
labelled part (``helper:``, ``class:``, ``const:``, ``closure:``,
``package:``) or is skipped (other tasks, the standard library, redun).
"""

from __future__ import annotations

import functools
import re
import sys
import types
from typing import Any

from redun.codehash.cache import _CODE_NAMES
from redun.codehash.classes import _class_info
from redun.codehash.modules import (
    _ENGINE,
    _PACKAGE,
    _USER,
    _distribution_versions,
    _function_kind,
    _module_kind,
)
from redun.codehash.source import _as_function, _source_info
from redun.hashing import hash_parts, hash_text, hash_value, is_plain_data


def _type_name(t: type) -> str:
    return f"{t.__module__}.{t.__qualname__}"


def _code_names(code: types.CodeType) -> tuple[str, ...]:
    """Sorted ``co_names`` of a code object and all code nested in it."""
    cached = _CODE_NAMES.get(code)
    if cached is not None:
        return cached
    names: set[str] = set()
    stack = [code]
    while stack:
        current = stack.pop()
        names.update(current.co_names)
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    result = tuple(sorted(names))
    _CODE_NAMES.set(code, result)
    return result


class _Walker:
    """One transitive walk from a root function, collecting labelled parts."""

    def __init__(self, root: types.FunctionType) -> None:
        self.root = root
        self.parts: dict[str, set[str]] = {}
        self.seen: set[int] = {id(root)}
        self.seen_attrs: set[tuple[int, str]] = set()
        self.keep: list[Any] = [root]  # ids in `seen` must stay unique
        # Work left: functions whose names to scan, classes whose body to
        # follow. A stack, not recursion: helper chains can be long.
        self.todo: list[types.FunctionType | type] = []

    def add(self, label: str, digest: str) -> None:
        self.parts.setdefault(label, set()).add(digest)

    def first_visit(self, obj: Any) -> bool:
        key = id(obj)
        if key in self.seen:
            return False
        self.seen.add(key)
        self.keep.append(obj)
        return True

    def run(self) -> dict[str, str]:
        root = self.root
        self.add("source", _source_info(root)[1])
        self.scan(root, is_root=True)
        while self.todo:
            item = self.todo.pop()
            if isinstance(item, type):
                self.follow_class(item)
            else:
                self.scan(item, is_root=False)
        parts = {}
        for label, digests in self.parts.items():
            if len(digests) == 1:
                parts[label] = next(iter(digests))
            else:  # two objects share a label (closures from one factory)
                parts[label] = hash_parts(*sorted(digests))
        return parts

    def scan(self, fn: types.FunctionType, *, is_root: bool) -> None:
        """Resolve the names a function's code uses."""
        code = fn.__code__
        g = fn.__globals__
        home = g.get("__name__") or fn.__module__ or "?"
        names = _code_names(code)
        default_names = _source_info(fn)[2]
        if default_names:
            names = tuple(sorted(set(names).union(default_names)))
        for name in names:
            if name in g:
                self.resolve(g[name], home, name, names, None)
        closure = fn.__closure__
        if closure:
            prefix = "closure:" if is_root else f"closure:{fn.__module__}.{fn.__qualname__}."
            for var, cell in zip(code.co_freevars, closure):
                try:
                    value = cell.cell_contents
                except ValueError:  # an empty cell
                    continue
                if type(value) in _ACCUMULATORS:
                    # A list or dict captured from an enclosing function is state the
                    # code fills in (calls.append(...)), not a constant: its type counts.
                    self.add(prefix + var, hash_text(f"type:{type(value).__name__}"))
                    continue
                self.resolve(value, home, var, names, prefix + var)

    def resolve(
        self, obj: Any, home: str, name: str, names: tuple[str, ...], label: str | None
    ) -> None:
        """Account for one object a name resolved to."""
        t = type(obj)
        if getattr(t, "_redun_task", False):
            return  # task-to-task calls are tracked by the scheduler
        if isinstance(obj, types.ModuleType):
            self.module(obj, names)
        elif isinstance(obj, type):
            self.cls(obj)
        elif isinstance(obj, types.FunctionType):
            self.function(obj)
        elif isinstance(obj, types.MethodType):
            self.resolve(obj.__func__, home, name, names, None)
            self.resolve(obj.__self__, home, name, names, label)
        elif isinstance(obj, (types.BuiltinFunctionType, types.MethodWrapperType)):
            self_ = getattr(obj, "__self__", None)
            if self_ is not None and not isinstance(self_, types.ModuleType):
                self.resolve(self_, home, name, names, label)
            else:
                self.package(getattr(obj, "__module__", None))
        else:
            fn = None if is_plain_data(obj) else _as_function(obj)
            if fn is not None:  # lru_cache and other wrappers of a function
                self.function(fn)
                if _module_kind(t.__module__) == _USER:
                    self.cls(t)  # a user-defined wrapper class
                if not isinstance(obj, functools.partial):
                    return
            self.const(obj, label or f"const:{home}.{name}")

    def module(self, module: types.ModuleType, names: tuple[str, ...]) -> None:
        kind = _module_kind(getattr(module, "__name__", None), module)
        if kind == _USER:
            namespace = vars(module)
            key = id(module)
            for attr in names:
                if attr in namespace and (key, attr) not in self.seen_attrs:
                    self.seen_attrs.add((key, attr))
                    self.resolve(namespace[attr], module.__name__, attr, names, None)
        elif kind == _PACKAGE:
            self.package(module.__name__)

    def function(self, fn: types.FunctionType) -> None:
        unwrapped = _as_function(fn) or fn
        if not self.first_visit(unwrapped):
            return
        kind = _function_kind(unwrapped)
        if kind == _USER:
            label = f"helper:{unwrapped.__module__}.{unwrapped.__qualname__}"
            self.add(label, _source_info(unwrapped)[1])
            self.todo.append(unwrapped)
        elif kind == _PACKAGE:
            self.package(unwrapped.__module__)

    def cls(self, cls: type) -> None:
        if not self.first_visit(cls):
            return
        kind = _module_kind(cls.__module__)
        if kind == _PACKAGE:
            self.package(cls.__module__)
        elif kind == _USER:
            self.add(f"class:{_type_name(cls)}", _class_info(cls)[0])
            self.todo.append(cls)

    def follow_class(self, cls: type) -> None:
        """Follow what a user class's body uses, its bases and metaclass."""
        names = _class_info(cls)[1]
        module = sys.modules.get(cls.__module__)
        if names is not None and module is not None:
            # Every name in the class body (methods, defaults, decorators,
            # class attributes) that is a global of its module.
            namespace = vars(module)
            for name in names:
                if name in namespace:
                    self.resolve(namespace[name], cls.__module__, name, names, None)
        else:
            self.methods(cls)
        for base in cls.__bases__:
            if base is not object:
                self.cls(base)
        meta = type(cls)
        if meta is not type:
            self.cls(meta)

    def methods(self, cls: type) -> None:
        """Scan the names used by a class's methods (for classes without source)."""
        for attr in list(vars(cls).values()):
            if isinstance(attr, property):
                members: list[Any] = [attr.fget, attr.fset, attr.fdel]
            else:
                members = [attr]
            for member in members:
                if isinstance(member, type):
                    self.cls(member)  # a nested class
                    continue
                if member is None or is_plain_data(member):
                    continue
                fn = _as_function(member)
                if fn is not None and self.first_visit(fn):
                    self.todo.append(fn)  # its names count; its source is the class's

    def package(self, module_name: str | None) -> None:
        if not module_name or _module_kind(module_name) != _PACKAGE:
            return
        for dist, version in _distribution_versions(module_name.partition(".")[0]):
            self.parts.setdefault(f"package:{dist}", set()).add(version)

    def const(self, obj: Any, label: str) -> None:
        t = type(obj)
        kind = _module_kind(t.__module__)
        if kind == _ENGINE:
            return  # an instance of a redun class: the engine, not user code
        if kind == _USER:
            self.cls(t)
            digest = _guarded_hash(obj)
        elif is_plain_data(obj) or isinstance(obj, functools.partial):
            digest = _guarded_hash(obj)  # a partial: its function's name and arguments
        else:
            if kind == _PACKAGE:
                self.package(t.__module__)
            digest = hash_text(f"type:{_type_name(t)}")
        self.add(label, digest)


_ACCUMULATORS = frozenset({list, dict, set, bytearray})


def _guarded_hash(obj: Any) -> str:
    """hash_value(obj), or the type name when the value cannot be hashed."""
    if isinstance(obj, re.Pattern):
        return hash_value((obj.pattern, obj.flags))
    try:
        return hash_value(obj)
    except Exception:  # an unhashable global must not break task hashing
        return hash_text(f"type:{_type_name(type(obj))}")
