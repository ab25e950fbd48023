"""Composite expansion: how a value that is not a leaf or a plain container encodes.

:func:`_expand` turns such a value into a header (kind byte, qualified type
name, optional payload, child count) and the child values to encode after
it: enum members, dataclasses, namedtuples, ranges, partials, bound methods,
``Value`` objects and duck-typed ``get_hash`` objects, numpy arrays (only
when numpy is already imported), subclasses of known data types and of
builtins, and finally objects hashed by their state (:mod:`.state`).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import re
import sys
import threading
import types
from collections import deque
from collections.abc import Callable
from typing import Any

from redun.hashing.leaves import (
    _LEAF,
    _composite,
    _encode_datetime,
    _encode_decimal,
    _encode_function,
    _encode_path,
    _encode_timedelta,
    _encode_type,
    _encode_uuid,
    _Expansion,
    _qualname,
    _utf8,
)
from redun.hashing.state import _MISSING, _expand_state
from redun.value import Value, get_type_registry

_type_registry = get_type_registry()


def _expand_range(x: range) -> _Expansion:
    return _composite(b"r", "range", b"", 3), [x.start, x.stop, x.step]


def _expand_slice(x: slice) -> _Expansion:
    return _composite(b"r", "slice", b"", 3), [x.start, x.stop, x.step]


def _expand_fraction(x: Any) -> _Expansion:
    return _composite(b"q", _qualname(type(x)), b"", 2), [x.numerator, x.denominator]


def _expand_pattern(x: re.Pattern) -> _Expansion:
    return _composite(b"x", "re.Pattern", b"", 2), [x.pattern, x.flags]


def _expand_deque(x: deque) -> _Expansion:
    return _composite(b"s", _qualname(type(x)), b"", 2), [list(x), x.maxlen]


def _expand_partial(x: functools.partial) -> _Expansion:
    children = [x.func, x.args, dict(x.keywords)]
    return _composite(b"P", _qualname(type(x)), b"", 3), children


def _expand_method(x: types.MethodType) -> _Expansion:
    return _composite(b"m", _qualname(x.__func__), b"", 1), [x.__self__]


_EXPAND_EXACT: dict[type, Callable[[Any], _Expansion]] = {
    range: _expand_range,
    slice: _expand_slice,
    re.Pattern: _expand_pattern,
    deque: _expand_deque,
    functools.partial: _expand_partial,
    types.MethodType: _expand_method,
}

# Builtin base -> how to read a subclass instance's builtin content without
# going through methods the subclass may override.
_BUILTIN_BASES: tuple[tuple[type, Callable[[Any], Any]], ...] = (
    (int, int.__int__),
    (float, float.__float__),
    (complex, lambda x: complex(complex.real.__get__(x), complex.imag.__get__(x))),
    (str, str.__str__),
    (bytes, lambda x: bytes(memoryview(x))),
    (bytearray, lambda x: bytearray(memoryview(x))),
    (list, lambda x: list(list.__iter__(x))),
    (tuple, lambda x: tuple(tuple.__iter__(x))),
    (dict, lambda x: dict(dict.items(x))),
    (set, lambda x: set(set.__iter__(x))),
    (frozenset, lambda x: frozenset(frozenset.__iter__(x))),
)


def _leaf_handler(encode: Callable[[Any], bytes]) -> Callable[[Any], _Expansion]:
    return lambda x: (encode(x), None)


# Subclasses of known data types (pandas.Timestamp is a datetime, ...).
_SUBCLASS_HANDLERS: list[tuple[type | tuple[type, ...], Callable[[Any], _Expansion]]] = [
    ((datetime.date, datetime.time), _leaf_handler(_encode_datetime)),
    (datetime.timedelta, _leaf_handler(_encode_timedelta)),
    (deque, _expand_deque),
]


def _register_decimal(module: Any) -> None:
    _LEAF[module.Decimal] = _encode_decimal
    _SUBCLASS_HANDLERS.append((module.Decimal, _leaf_handler(_encode_decimal)))


def _register_fractions(module: Any) -> None:
    _EXPAND_EXACT[module.Fraction] = _expand_fraction
    _SUBCLASS_HANDLERS.append((module.Fraction, _expand_fraction))


def _register_pathlib(module: Any) -> None:
    for cls in (module.PurePosixPath, module.PureWindowsPath, module.PosixPath, module.WindowsPath):
        _LEAF[cls] = _encode_path
    _SUBCLASS_HANDLERS.append((module.PurePath, _leaf_handler(_encode_path)))


def _register_uuid(module: Any) -> None:
    _LEAF[module.UUID] = _encode_uuid
    _SUBCLASS_HANDLERS.append((module.UUID, _leaf_handler(_encode_uuid)))


# Types whose modules load only when used: a value of such a type cannot
# exist before its module is imported, so handlers register on first sight
# instead of slowing down ``import redun``.
_LAZY_TYPES: dict[str, Callable[[Any], None]] = {
    "decimal": _register_decimal,
    "fractions": _register_fractions,
    "uuid": _register_uuid,
    "pathlib": _register_pathlib,
}
_LAZY_LOCK = threading.Lock()


def _register_lazy_types() -> None:
    modules = sys.modules
    if not any(name in modules for name in _LAZY_TYPES):
        return
    with _LAZY_LOCK:
        for name in list(_LAZY_TYPES):
            module = modules.get(name)
            if module is not None:
                _LAZY_TYPES.pop(name)(module)


def is_plain_data(obj: Any) -> bool:
    """True if ``obj`` is data :func:`hash_value` encodes by content.

    Plain data: builtin scalars and containers (and their subclasses), enum
    members, dataclass instances, namedtuples, dates and times, decimals,
    fractions, UUIDs, paths, compiled regexes, arrays and numpy arrays. Not:
    types, functions, ``Value`` objects and objects hashed by their state.
    """
    t = type(obj)
    if t in _LEAF:
        return t is not type and t is not types.FunctionType
    if t is list or t is tuple or t is dict or t is set or t is frozenset:
        return True
    if t in _EXPAND_EXACT:
        return t is not types.MethodType and t is not functools.partial
    if isinstance(obj, type) or isinstance(obj, Value):
        return False
    if isinstance(obj, enum.Enum) or hasattr(t, "__dataclass_fields__"):
        return True
    if _LAZY_TYPES:
        _register_lazy_types()
        if t in _LEAF or t in _EXPAND_EXACT:
            return True
    if any(isinstance(obj, cls) for cls, _ in _SUBCLASS_HANDLERS):
        return True
    if any(isinstance(obj, base) for base, _ in _BUILTIN_BASES):
        return True
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(obj, (numpy.ndarray, numpy.generic))


def _bound_get_hash(obj: Any) -> Callable[[], Any] | None:
    """Return ``obj.get_hash`` if it is a method bound to ``obj``."""
    try:
        get_hash = getattr(obj, "get_hash", None)
    except Exception:
        return None
    if get_hash is None or not callable(get_hash):
        return None
    if isinstance(get_hash, (types.MethodType, types.BuiltinMethodType)):
        if getattr(get_hash, "__self__", None) is obj:
            return get_hash
    return None


_FUNCTION_TYPES = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    types.MethodWrapperType,
)


def _expand(x: Any) -> _Expansion:
    """Encode a value that is not a leaf or plain container."""
    t = type(x)
    expand = _EXPAND_EXACT.get(t)
    if expand is not None:
        return expand(x)
    if isinstance(x, type):
        return _encode_type(x), None

    # A ProxyValue registered for this type (or a base) hashes it.
    proxy = _type_registry.get_proxy_type(t)
    if proxy is not None:
        digest = proxy(x).get_hash()
        return _composite(b"v", proxy.get_type_name(), _utf8(str(digest))), None

    # The Value protocol, nominal or duck-typed (e.g. another library's File).
    if isinstance(x, Value):
        type_name = x.get_type_name()
        get_hash: Callable[[], Any] | None = x.get_hash
    else:
        get_hash = _bound_get_hash(x)
        type_name = _qualname(t)
    if get_hash is not None:
        digest = get_hash()
        payload = digest if isinstance(digest, bytes) else _utf8(str(digest))
        return _composite(b"v", type_name, payload), None

    if isinstance(x, enum.Enum):
        name = x.name
        if name is None:  # an unnamed flag combination
            return _composite(b"E", _qualname(t), b"", 1), [x.value]
        return _composite(b"E", _qualname(t), _utf8(name)), None
    if isinstance(x, _FUNCTION_TYPES):
        self_ = getattr(x, "__self__", None)
        if self_ is None or isinstance(self_, types.ModuleType):
            return _encode_function(x), None
        return _composite(b"m", _qualname(x), b"", 1), [self_]
    if hasattr(t, "__dataclass_fields__"):
        children: list[Any] = []
        missing = _MISSING
        for field in dataclasses.fields(x):
            value = getattr(x, field.name, missing)
            if value is not missing:  # an init=False field never set
                children.append(field.name)
                children.append(value)
        return _composite(b"d", _qualname(t), b"", len(children)), children
    if isinstance(x, tuple) and isinstance(getattr(t, "_fields", None), tuple):
        names = _utf8(",".join(map(str, t._fields)))
        items = list(tuple.__iter__(x))
        return _composite(b"T", _qualname(t), names, len(items)), items

    numpy = sys.modules.get("numpy")
    if numpy is not None:
        if isinstance(x, numpy.ndarray):
            return _expand_ndarray(x, numpy)
        if isinstance(x, numpy.generic):
            payload = _utf8(x.dtype.str) + b"|" + x.tobytes()
            return _composite(b"y", _qualname(t), payload), None

    if _LAZY_TYPES:
        _register_lazy_types()
        enc = _LEAF.get(t)
        if enc is not None:
            return enc(x), None
        expand = _EXPAND_EXACT.get(t)
        if expand is not None:
            return expand(x)
    for cls, handler in _SUBCLASS_HANDLERS:
        if isinstance(x, cls):
            return handler(x)

    for base, content in _BUILTIN_BASES:
        if isinstance(x, base):
            children = [content(x)]
            state = getattr(x, "__dict__", None)
            if state:
                children.append(dict(state))
            return _composite(b"S", _qualname(t), _utf8(base.__name__), len(children)), children

    return _expand_state(x)


def _expand_ndarray(x: Any, numpy: Any) -> _Expansion:
    shape = _utf8(",".join(map(str, x.shape)))
    dtype = _utf8(f"{x.dtype.str}|{x.dtype}")
    if x.dtype.hasobject:
        items = list(x.flat)
        return _composite(b"A", _qualname(type(x)), dtype + b"|" + shape, len(items)), items
    data = numpy.ascontiguousarray(x).tobytes()
    return _composite(b"y", _qualname(type(x)), dtype + b"|" + shape + b"|" + data), None
