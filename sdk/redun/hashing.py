"""Stable, type-aware hashing of values.

Every digest is a 40-hex-character BLAKE2b digest (``digest_size=20``).

:func:`hash_value` turns a Python value into a digest that is

* **stable**: the same in every process and run (Python's ``hash()`` is never
  used, so ``PYTHONHASHSEED`` does not matter);
* **type-aware**: ``1``, ``1.0``, ``"1"`` and ``True`` differ, and so do a
  tuple and a list with the same items, or ``bytes`` and ``bytearray``;
* **order-blind where Python is**: the order of a dict's keys or a set's
  elements does not change the digest.

How a value is encoded: each value becomes a self-delimiting byte string
(a one-byte tag, then a fixed-size payload or a length-prefixed one), so the
concatenation of encodings is unambiguous. Lists and tuples are their tag and
length followed by their items; dicts, sets and frozensets are their tag and
length followed by the *sorted* digests of their entries (a dict entry is the
encoding of its key followed by its value). Everything else is a "composite":
a kind byte, a qualified type name, an optional payload and child values:

=====================  =====================================================
value                  what is hashed
=====================  =====================================================
enum member            class ``module.qualname`` and member name
dataclass instance     class name, then each field's name and value
namedtuple             class name, field names, then the items
type, function         ``module.qualname`` (code is hashed by ``codehash``)
bound method           the function's name and the object it is bound to
datetime & co          class name and ISO text (``timedelta``: its parts)
Decimal, Fraction      exact text / numerator and denominator
UUID, paths            bytes / text, with the class name
numpy array, scalar    dtype, shape and raw bytes (only when numpy is
                       already imported; it is never imported here)
``Value`` objects      type name and ``obj.get_hash()``; so is any object
                       with a bound ``get_hash`` method (duck typing)
subclasses of builtins class name, the builtin content and ``__dict__``
anything else          :func:`hash_value_fallback`: class name and state
                       (``__getstate__()``, else ``__dict__``/``__slots__``),
                       as a last resort ``pickle`` bytes (protocol 4)
=====================  =====================================================

Encoding is iterative (an explicit stack of frames), so a structure nested
100,000 deep hashes without ``RecursionError``; a container that contains
itself raises :class:`~redun.errors.HashingError` instead of looping. The
common types (``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``,
``list``, ``tuple``, ``dict``, ``set``) are dispatched on their exact type
with no ``isinstance`` chain.
"""

from __future__ import annotations

import array
import dataclasses
import datetime
import enum
import functools
import hashlib
import pathlib
import re
import struct
import sys
import threading
import types
from collections import deque
from collections.abc import Callable
from typing import Any

from redun.errors import HashingError
from redun.value import Value

__all__ = [
    "DIGEST_SIZE",
    "hash_bytes",
    "hash_parts",
    "hash_text",
    "hash_value",
    "hash_value_fallback",
    "is_plain_data",
]

DIGEST_SIZE = 20
"""Digest size in bytes; hex digests are twice as long."""

_blake2b = hashlib.blake2b
_PERSON_VALUE = b"redun.value.1"
_PERSON_PARTS = b"redun.parts.1"

_pack_int = struct.Struct("<cq").pack  # tag, signed 64-bit int
_pack_len = struct.Struct("<cQ").pack  # tag, unsigned 64-bit length/count
_pack_float = struct.Struct("<cd").pack
_pack_complex = struct.Struct("<cdd").pack
_struct_error = struct.error

# Flush a sink's buffer into its hasher beyond this many bytes.
_FLUSH_AT = 1 << 20


def hash_bytes(data: bytes) -> str:
    """Return the 40-hex digest of ``data``."""
    return _blake2b(data, digest_size=DIGEST_SIZE).hexdigest()


def hash_text(s: str) -> str:
    """Return the 40-hex digest of the UTF-8 encoding of ``s``."""
    return _blake2b(s.encode("utf-8", "surrogatepass"), digest_size=DIGEST_SIZE).hexdigest()


def hash_parts(*parts: str) -> str:
    """Combine strings (usually hex digests) into one digest.

    Each part is length-prefixed, so ``("ab", "c")`` and ``("a", "bc")``
    differ; order matters.

    Raises:
        HashingError: a part is not a ``str``.
    """
    # One length-prefixed string, one digest call: this runs several times per job.
    for part in parts:
        if type(part) is not str and not isinstance(part, str):
            raise HashingError(f"hash_parts() takes str parts, not {type(part).__name__}")
    framed = "".join([f"{len(part)}:{part}" for part in parts])
    data = f"{len(parts)}|{framed}".encode("utf-8", "surrogatepass")
    return _blake2b(data, digest_size=DIGEST_SIZE, person=_PERSON_PARTS).hexdigest()


def hash_value(obj: Any) -> str:
    """Return a stable, type-aware 40-hex digest of ``obj``.

    Raises:
        HashingError: ``obj`` contains itself, or holds an object that has no
            state to hash and cannot be pickled.
    """
    t = type(obj)
    if t is int:
        try:
            data = _pack_int(b"i", obj)
        except _struct_error:
            data = _encode_bigint(obj)
        return _blake2b(data, digest_size=DIGEST_SIZE, person=_PERSON_VALUE).hexdigest()
    enc = _LEAF.get(t)
    if enc is not None:
        return _blake2b(enc(obj), digest_size=DIGEST_SIZE, person=_PERSON_VALUE).hexdigest()
    return _encode(obj, None).hexdigest()


def hash_value_fallback(obj: Any) -> str:
    """Hash ``obj`` by its class name and its state, ignoring ``get_hash``.

    The state is ``obj.__getstate__()`` when the class defines one, else its
    ``__dict__`` and ``__slots__`` values, hashed with :func:`hash_value`
    rules; objects with none of those are hashed by their pickle bytes.

    Raises:
        HashingError: the state cannot be hashed (for example a lock).
    """
    return _encode(obj, _expand_state(obj)).hexdigest()


# --------------------------------------------------------------------------
# Leaf encoders: exact type -> bytes.


def _encode_bigint(x: int) -> bytes:
    n = (x.bit_length() + 8) // 8  # room for the sign bit
    return _pack_len(b"I", n) + x.to_bytes(n, "little", signed=True)


def _encode_int(x: int) -> bytes:
    try:
        return _pack_int(b"i", x)
    except _struct_error:
        return _encode_bigint(x)


def _encode_float(x: float) -> bytes:
    # Every NaN encodes alike; -0.0 and 0.0 stay distinct (deterministically).
    return _pack_float(b"f", x) if x == x else b"n"


def _encode_complex(x: complex) -> bytes:
    re_, im = x.real, x.imag
    if re_ != re_ or im != im:
        return b"C" + _encode_float(re_) + _encode_float(im)
    return _pack_complex(b"c", re_, im)


def _utf8(s: str) -> bytes:
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogatepass")


def _encode_str(x: str) -> bytes:
    data = _utf8(x)
    return _pack_len(b"s", len(data)) + data


def _encode_bytes(x: bytes) -> bytes:
    return _pack_len(b"b", len(x)) + x


def _encode_bytearray(x: bytearray) -> bytes:
    return _pack_len(b"a", len(x)) + x


def _composite(kind: bytes, name: str, payload: bytes = b"", nchildren: int = 0) -> bytes:
    """Header of a composite value: kind, type name, payload, child count."""
    name_b = _utf8(name)
    return b"".join(
        (
            b"X",
            kind,
            _pack_len(b"n", len(name_b)),
            name_b,
            _pack_len(b"p", len(payload)),
            payload,
            _pack_len(b"c", nchildren),
        )
    )


def _qualname(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or ""
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if not isinstance(qualname, str):
        qualname = type(obj).__qualname__
    return f"{module}.{qualname}" if module else qualname


def _encode_type(x: type) -> bytes:
    return _composite(b"t", _qualname(x))


def _encode_function(x: Any) -> bytes:
    return _composite(b"f", _qualname(x))


def _encode_datetime(x: datetime.date | datetime.time) -> bytes:
    text = x.isoformat()
    fold = getattr(x, "fold", 0)
    return _composite(b"k", _qualname(type(x)), _utf8(f"{text}|{fold}"))


def _encode_timedelta(x: datetime.timedelta) -> bytes:
    payload = _utf8(f"{x.days},{x.seconds},{x.microseconds}")
    return _composite(b"k", _qualname(type(x)), payload)


def _encode_decimal(x: Any) -> bytes:
    return _composite(b"k", _qualname(type(x)), _utf8(str(x)))


def _encode_uuid(x: Any) -> bytes:
    return _composite(b"k", _qualname(type(x)), x.bytes)


def _encode_path(x: pathlib.PurePath) -> bytes:
    return _composite(b"k", _qualname(type(x)), _utf8(str(x)))


def _encode_array(x: array.array) -> bytes:
    return _composite(b"k", "array.array", _utf8(x.typecode) + b"|" + x.tobytes())


def _encode_memoryview(x: memoryview) -> bytes:
    return _composite(b"k", f"memoryview[{x.format}]", x.tobytes())


_FUNCTION_TYPES = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    types.ClassMethodDescriptorType,
    types.MethodWrapperType,
)

_LEAF: dict[type, Callable[[Any], bytes]] = {
    type(None): lambda x: b"N",
    bool: lambda x: b"T" if x else b"F",
    int: _encode_int,
    float: _encode_float,
    complex: _encode_complex,
    str: _encode_str,
    bytes: _encode_bytes,
    bytearray: _encode_bytearray,
    type(Ellipsis): lambda x: b"e",
    type: _encode_type,
    types.FunctionType: _encode_function,
    datetime.datetime: _encode_datetime,
    datetime.date: _encode_datetime,
    datetime.time: _encode_datetime,
    datetime.timedelta: _encode_timedelta,
    pathlib.PurePosixPath: _encode_path,
    pathlib.PureWindowsPath: _encode_path,
    pathlib.PosixPath: _encode_path,
    pathlib.WindowsPath: _encode_path,
    array.array: _encode_array,
    memoryview: _encode_memoryview,
}


# --------------------------------------------------------------------------
# Composite expansion: anything not a leaf or a plain container.

_Expansion = tuple[bytes, list[Any] | None]
_MISSING = object()
_object_getstate = getattr(object, "__getstate__", None)


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
    (pathlib.PurePath, _leaf_handler(_encode_path)),
    (deque, _expand_deque),
]


def _register_decimal(module: Any) -> None:
    _LEAF[module.Decimal] = _encode_decimal
    _SUBCLASS_HANDLERS.append((module.Decimal, _leaf_handler(_encode_decimal)))


def _register_fractions(module: Any) -> None:
    _EXPAND_EXACT[module.Fraction] = _expand_fraction
    _SUBCLASS_HANDLERS.append((module.Fraction, _expand_fraction))


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


def _expand(x: Any) -> _Expansion:
    """Encode a value that is not a leaf or plain container."""
    t = type(x)
    expand = _EXPAND_EXACT.get(t)
    if expand is not None:
        return expand(x)
    if isinstance(x, type):
        return _encode_type(x), None

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


def _slot_names(t: type) -> list[str]:
    names: list[str] = []
    for klass in t.__mro__:
        slots = klass.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        for name in slots:
            if name in ("__dict__", "__weakref__") or name in names:
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = f"_{klass.__name__.lstrip('_')}{name}"  # private name mangling
            names.append(name)
    return names


def _expand_state(x: Any) -> _Expansion:
    """Class name plus state: ``__getstate__``, ``__dict__``/``__slots__``, pickle."""
    t = type(x)
    name = _qualname(t)
    getstate = getattr(t, "__getstate__", None)
    if getstate is not None and getstate is not _object_getstate:
        try:
            state = x.__getstate__()
        except Exception as exc:
            raise HashingError(f"cannot hash a {name}: __getstate__() failed: {exc}") from exc
        return _composite(b"o", name, b"g", 1), [state]
    try:
        state = x.__dict__
    except AttributeError:
        state = None
    slots = _slot_names(t)
    if state is not None or slots:
        missing = _MISSING
        slot_state = {}
        for slot in slots:
            value = getattr(x, slot, missing)
            if value is not missing:
                slot_state[slot] = value
        dict_state = dict(state) if state is not None else None
        if dict_state:
            # redun's own bookkeeping on user objects (e.g. the failed job on an error).
            for key in [k for k in dict_state if isinstance(k, str) and k.startswith("__redun")]:
                del dict_state[key]
        if isinstance(x, BaseException):
            # An error is its type, its arguments and its own attributes.
            slot_state = {"args": x.args, **slot_state}
        return _composite(b"o", name, b"s", 2), [dict_state, slot_state]
    import pickle  # the last resort: loaded on first use

    try:
        data = pickle.dumps(x, protocol=4)
    except Exception as exc:
        raise HashingError(
            f"cannot hash a {name}: it has no __getstate__, __dict__ or __slots__ "
            f"and cannot be pickled ({exc}); give it a get_hash() method or make it a "
            "redun.value.Value"
        ) from exc
    return _composite(b"o", name, b"p" + data), None


# --------------------------------------------------------------------------
# The encoder: an explicit stack of frames.
#
# An unordered container (dict, set, frozenset) encodes as its tag, its
# length, then the sorted "representations" of its entries: a leaf entry's
# representation is its own encoding (a dict entry: key then value), any other
# entry's is b"#" and the digest of its encoding. No leaf encoding starts with
# b"#", and every encoding is self-delimiting, so the result is unambiguous.

_SEQ = 0  # items encode into the current sink, in order
_UNORD = 1  # entries of a dict/set/frozenset, sorted at the end
_ENTRY = 2  # one non-leaf entry of an unordered container, in its own sink

# Lists and tuples up to this length are first tried as all-leaf (no frame).
_SMALL = 16


def _leaf_bytes(x: Any) -> bytes | None:
    t = type(x)
    if t is str:
        data = _utf8(x)
        return _pack_len(b"s", len(data)) + data
    if t is int:
        try:
            return _pack_int(b"i", x)
        except _struct_error:
            return _encode_bigint(x)
    enc = _LEAF.get(t)
    return enc(x) if enc is not None else None


def _small_leaves(tag: bytes, x: list[Any] | tuple[Any, ...]) -> bytes | None:
    """Encode a short list/tuple whose items are all leaves, else None."""
    parts = [_pack_len(tag, len(x))]
    append = parts.append
    for item in x:
        t = type(item)
        if t is int:
            try:
                append(_pack_int(b"i", item))
            except _struct_error:
                append(_encode_bigint(item))
        elif t is str:
            try:
                data = item.encode("utf-8")
            except UnicodeEncodeError:
                data = item.encode("utf-8", "surrogatepass")
            append(_pack_len(b"s", len(data)))
            append(data)
        else:
            enc = _LEAF.get(t)
            if enc is None:
                return None
            append(enc(item))
    return b"".join(parts)


def _new_hasher() -> Any:
    return _blake2b(digest_size=DIGEST_SIZE, person=_PERSON_VALUE)


def _cycle_error(x: Any) -> HashingError:
    return HashingError(
        f"cannot hash a {_qualname(type(x))} that contains itself (reference cycle)"
    )


def _encode(obj: Any, expansion: _Expansion | None) -> Any:
    """Encode ``obj`` into a fresh hasher and return the hasher.

    ``expansion`` forces how the top-level object is expanded (used by
    :func:`hash_value_fallback`).
    """
    h: Any = _new_hasher()
    buf: Any = bytearray()
    active: set[int] = set()  # ids of the containers on the current path
    # A frame is a list [kind, iterator, id-or-None]; _UNORD frames add
    # [tag, representations, is_dict, saved hasher, saved buffer].
    frames: list[list[Any]] = []
    if expansion is None:
        frames.append([_SEQ, iter((obj,)), None])
    else:
        header, children = expansion
        buf += header
        if children:
            active.add(id(obj))
            frames.append([_SEQ, iter(children), id(obj)])

    leaf_get = _LEAF.get
    leaf_bytes = _leaf_bytes
    small_leaves = _small_leaves
    pack_int = _pack_int
    pack_len = _pack_len
    struct_error = _struct_error

    while frames:
        frame = frames[-1]
        kind = frame[0]

        if kind == _UNORD:
            reps: list[bytes] = frame[4]
            append = reps.append
            exhausted = True
            if frame[5]:  # dict entries: (key, value)
                for entry in frame[1]:
                    kb = leaf_bytes(entry[0])
                    if kb is not None:
                        vb = leaf_bytes(entry[1])
                        if vb is not None:
                            append(kb + vb)
                            continue
                    h = _new_hasher()
                    buf = bytearray()
                    frames.append([_ENTRY, iter(entry), None])
                    exhausted = False
                    break
            else:
                for entry in frame[1]:
                    eb = leaf_bytes(entry)
                    if eb is not None:
                        append(eb)
                        continue
                    h = _new_hasher()
                    buf = bytearray()
                    frames.append([_ENTRY, iter((entry,)), None])
                    exhausted = False
                    break
            if exhausted:  # close the container
                frames.pop()
                if frame[2] is not None:
                    active.discard(frame[2])
                h, buf = frame[6], frame[7]
                reps.sort()
                buf += pack_len(frame[3], len(reps))
                buf += b"".join(reps)
            continue

        for x in frame[1]:
            t = type(x)
            if t is int:
                try:
                    buf += pack_int(b"i", x)
                except struct_error:
                    buf += _encode_bigint(x)
                continue
            if t is str:
                try:
                    data = x.encode("utf-8")
                except UnicodeEncodeError:
                    data = x.encode("utf-8", "surrogatepass")
                buf += pack_len(b"s", len(data))
                buf += data
                continue
            enc = leaf_get(t)
            if enc is not None:
                buf += enc(x)
                continue
            if t is tuple or t is list:
                tag = b"U" if t is tuple else b"L"
                if len(x) <= _SMALL:
                    data = small_leaves(tag, x)
                    if data is not None:
                        buf += data
                        continue
                if t is list:
                    i: int | None = id(x)
                    if i in active:
                        raise _cycle_error(x)
                    active.add(i)  # type: ignore[arg-type]
                else:
                    i = None
                buf += pack_len(tag, len(x))
                frames.append([_SEQ, iter(x), i])
                break
            if t is dict or t is set or t is frozenset:
                if t is frozenset:
                    i = None
                else:
                    i = id(x)
                    if i in active:
                        raise _cycle_error(x)
                    active.add(i)
                if t is dict:
                    frames.append([_UNORD, iter(x.items()), i, b"D", [], True, h, buf])
                else:
                    tag = b"S" if t is set else b"Z"
                    frames.append([_UNORD, iter(x), i, tag, [], False, h, buf])
                break
            header, children = _expand(x)
            buf += header
            if children:
                i = id(x)
                if i in active:
                    raise _cycle_error(x)
                active.add(i)
                frames.append([_SEQ, iter(children), i])
                break
        else:
            frames.pop()
            if frame[2] is not None:
                active.discard(frame[2])
            if kind == _ENTRY:
                h.update(buf)
                frames[-1][4].append(b"#" + h.digest())
                h = buf = None  # the parent _UNORD frame opens the next sink
            elif len(buf) > _FLUSH_AT:
                h.update(buf)
                buf = bytearray()

    h.update(buf)
    return h
