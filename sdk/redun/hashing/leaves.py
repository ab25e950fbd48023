"""Leaf encoders: values encoded from their exact type alone, with no children.

Each value becomes a self-delimiting byte string (a one-byte tag, then a
fixed-size payload or a length-prefixed one), so the concatenation of
encodings is unambiguous. :data:`_LEAF` maps an exact type to its encoder;
the common types are dispatched there with no ``isinstance`` chain.

Values that are neither leaves nor plain containers are "composites": a kind
byte, a qualified type name, an optional payload and child values. Their
header is built by :func:`_composite`.
"""

from __future__ import annotations

import array
import datetime
import struct
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import PurePath

_pack_int = struct.Struct("<cq").pack  # tag, signed 64-bit int
_pack_len = struct.Struct("<cQ").pack  # tag, unsigned 64-bit length/count
_pack_float = struct.Struct("<cd").pack
_pack_complex = struct.Struct("<cdd").pack
_struct_error = struct.error

# How a composite value expands: its header, then the child values to encode.
_Expansion = tuple[bytes, list[Any] | None]


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
    name = _qualname(x)
    if "<lambda>" in name or "<locals>" in name:
        # Hashed by name, two different lambdas would be one value; and neither
        # can be stored or sent to a worker by reference. redun refuses them too.
        from redun.errors import HashingError

        kind = "a lambda" if "<lambda>" in name else "a function defined inside a function"
        raise HashingError(
            f"cannot use {kind} ({name}) as a task argument or result: it cannot be "
            "serialized; define it at module level, or make it a task"
        )
    return _composite(b"f", name)


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


def _encode_path(x: PurePath) -> bytes:
    return _composite(b"k", _qualname(type(x)), _utf8(str(x)))


def _encode_array(x: array.array) -> bytes:
    return _composite(b"k", "array.array", _utf8(x.typecode) + b"|" + x.tobytes())


def _encode_memoryview(x: memoryview) -> bytes:
    return _composite(b"k", f"memoryview[{x.format}]", x.tobytes())


# Exact type -> encoder. Grows at run time: decimal.Decimal and uuid.UUID
# register on first sight (see redun.hashing.composite).
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
    array.array: _encode_array,
    memoryview: _encode_memoryview,
}
