"""Caches of code hashing, keyed by object identity, and :func:`clear_caches`.

Results are cached per function object (and normalized source per code
object), so a 10,000-job run hashes each task once. A global reassigned after
a function was first hashed is therefore not seen until the caches are
cleared.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    import ast
    import types

    from redun.codehash.model import CodeHash

K = TypeVar("K")
V = TypeVar("V")


class _IdentityCache(Generic[K, V]):
    """Map objects to values by identity; an entry goes when its key dies.

    Code objects compare by value (two equal-looking functions from two loads
    of a module are "equal"), so a plain dict would serve a stale entry.
    """

    def __init__(self) -> None:
        self._data: dict[int, tuple[Any, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._data.get(id(key))
        if entry is not None and entry[0]() is key:
            return entry[1]
        return None

    def set(self, key: K, value: V) -> None:
        k = id(key)
        data = self._data

        def forget(ref: Any, k: int = k) -> None:
            entry = data.get(k)
            if entry is not None and entry[0] is ref:
                del data[k]

        try:
            ref: Any = weakref.ref(key, forget)
        except TypeError:  # not weak-referenceable: keep it alive
            ref = _StrongRef(key)
        data[k] = (ref, value)

    def clear(self) -> None:
        self._data.clear()


class _StrongRef:
    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __call__(self) -> Any:
        return self.obj


_CODE_HASHES: _IdentityCache[Any, CodeHash] = _IdentityCache()
_SOURCES: _IdentityCache[types.CodeType, tuple[str | None, str, tuple[str, ...]]] = _IdentityCache()
_CODE_NAMES: _IdentityCache[types.CodeType, tuple[str, ...]] = _IdentityCache()
_CLASS_INFOS: _IdentityCache[type, tuple[str, tuple[str, ...] | None]] = _IdentityCache()
_MODULE_TREES: dict[str, tuple[list[str], dict[str, list[ast.ClassDef]]]] = {}
_MODULE_KINDS: dict[tuple[str, str | None], str] = {}
_PACKAGES: dict[str, tuple[tuple[str, str], ...]] = {}
_LOCK = threading.RLock()


def clear_caches() -> None:
    """Forget every cached hash (for tests and for long-lived processes)."""
    with _LOCK:
        _CODE_HASHES.clear()
        _SOURCES.clear()
        _CODE_NAMES.clear()
        _CLASS_INFOS.clear()
        _MODULE_TREES.clear()
        _MODULE_KINDS.clear()
        _PACKAGES.clear()
    from redun.codehash import disk

    disk.clear_memory()
