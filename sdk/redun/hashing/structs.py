"""insitro/redun's structure hashes, for Value classes written for it.

A custom ``Value.get_hash`` written for redun often returns
``hash_struct(["MyType", self.name, ...])``. These give the same digests as
redun does (the first 40 hex digits of SHA-512 over the bencoding of the
structure), so such a class hashes alike in both engines. The engine's own
hashing is :func:`redun.hashing.hash_value`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["bencode", "hash_struct", "hash_tag_bytes"]

_LENGTH = 40


def bencode(data: Any) -> bytes:
    """``data`` in bencoding: ints, str/bytes, mappings (keys sorted), other
    iterables as lists. Anything else (a float, a bool, None) is a TypeError."""
    out: list[bytes] = []
    # An explicit stack, so a deep structure needs no recursion.
    stack: list[Any] = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, _End):
            out.append(b"e")
        elif isinstance(item, bool):
            raise TypeError(f"cannot bencode {item!r}: a bool is not an int here")
        elif isinstance(item, int):
            out.append(b"i%de" % item)
        elif isinstance(item, (str, bytes)):
            raw = item.encode() if isinstance(item, str) else item
            out.append(b"%d:%s" % (len(raw), raw))
        elif isinstance(item, Mapping):
            out.append(b"d")
            stack.append(_END)
            for key, value in reversed(sorted(item.items())):
                stack.append(value)
                stack.append(key if isinstance(key, (str, bytes)) else _refuse(key))
        elif isinstance(item, Iterable):
            out.append(b"l")
            stack.append(_END)
            stack.extend(reversed(list(item)))
        else:
            raise TypeError(f"cannot bencode {item!r} ({type(item).__name__})")
    return b"".join(out)


class _End:
    __slots__ = ()


_END = _End()


def _refuse(key: Any) -> Any:
    raise TypeError(f"cannot bencode a mapping key {key!r}: keys are str or bytes")


def _digest(*chunks: bytes) -> str:
    import hashlib  # here: a plain run never needs it (see tests/sdk/test_run_imports.py)

    message = hashlib.sha512()
    for chunk in chunks:
        message.update(chunk)
    return message.hexdigest()[:_LENGTH]


def hash_struct(struct: Any) -> str:
    """The hash of a structure of ints, strings, bytes, lists and dicts."""
    return _digest(bencode(struct))


def hash_tag_bytes(tag: str, data: bytes) -> str:
    """The hash of ``data`` tagged with ``tag`` (e.g. a type name)."""
    return _digest(bencode([tag]), data)
