"""The code hash of a function: :class:`CodeHash` and :func:`hash_function_code`.

The digest is the hash of the sorted ``(label, digest)`` pairs of the parts.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any

from redun.codehash.cache import _CODE_HASHES, _LOCK
from redun.codehash.source import _as_function
from redun.codehash.walk import _Walker
from redun.errors import HashingError
from redun.hashing import hash_parts, hash_text


@dataclass(frozen=True)
class CodeHash:
    """The code hash of a function and the labelled parts it covers.

    Attributes:
        digest: 40-hex digest covering every part.
        parts: label -> digest (``package:`` labels map to a version). Shared
            by the cache: treat it as read-only.
    """

    digest: str
    parts: dict[str, str] = field(hash=False)

    def diff(self, other: CodeHash) -> dict[str, tuple[str | None, str | None]]:
        """Return ``label -> (other's value, this value)`` for every part that differs."""
        labels = sorted(self.parts.keys() | other.parts.keys())
        return {
            label: (other.parts.get(label), self.parts.get(label))
            for label in labels
            if other.parts.get(label) != self.parts.get(label)
        }


# Defined here, public as redun.codehash.CodeHash: keep that name for pickles,
# reprs and hash_value(), which hashes a dataclass by its qualified name.
CodeHash.__module__ = "redun.codehash"


def _digest_parts(parts: dict[str, str]) -> str:
    flat: list[str] = []
    for label in sorted(parts):
        flat.append(label)
        flat.append(parts[label])
    return hash_parts(*flat)


def hash_function_code(func: Any) -> CodeHash:
    """Return the transitive code hash of a function (see :mod:`redun.codehash`).

    Cached per function object: hashing the same function again is a lookup.

    Raises:
        HashingError: ``func`` is not (and does not wrap) a Python function.
    """
    cached = _CODE_HASHES.get(func)
    if cached is not None:
        return cached
    with _LOCK:
        cached = _CODE_HASHES.get(func)
        if cached is not None:
            return cached
        fn = _as_function(func)
        if fn is None:
            if isinstance(func, (types.BuiltinFunctionType, types.MethodDescriptorType)):
                module = getattr(func, "__module__", None) or ""
                name = f"{module}.{getattr(func, '__qualname__', func.__name__)}"
                parts = {"source": hash_text(f"<builtin {name}>")}
                result = CodeHash(_digest_parts(parts), parts)
                _CODE_HASHES.set(func, result)
                return result
            raise HashingError(f"cannot hash the code of {func!r}: not a Python function")
        known = _CODE_HASHES.get(fn)
        if known is None:
            parts = _Walker(fn).run()
            known = CodeHash(_digest_parts(parts), parts)
            _CODE_HASHES.set(fn, known)
        result = known
        if fn is not func:
            _CODE_HASHES.set(func, result)
        return result
