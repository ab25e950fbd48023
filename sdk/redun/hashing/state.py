"""Objects hashed by their state: the last resort of :func:`redun.hashing.hash_value`.

An object that is not a leaf, a container, a ``Value`` or a known data type
is hashed by its class name and its state: ``__getstate__()`` when the class
defines one, else its ``__dict__`` and ``__slots__`` values, and as a last
resort its ``pickle`` bytes (protocol 4).
"""

from __future__ import annotations

from typing import Any

from redun.errors import HashingError
from redun.hashing.leaves import _composite, _Expansion, _qualname

_MISSING = object()
_object_getstate = getattr(object, "__getstate__", None)


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
