"""The encoder: an explicit stack of frames, and the value-hashing entry points.

Encoding is iterative, so a structure nested 100,000 deep hashes without
``RecursionError``; a container that contains itself raises
:class:`~redun.errors.HashingError` instead of looping.

Lists and tuples are their tag and length followed by their items. An
unordered container (dict, set, frozenset) encodes as its tag, its length,
then the sorted "representations" of its entries: a leaf entry's
representation is its own encoding (a dict entry: key then value), any other
entry's is b"#" and the digest of its encoding. No leaf encoding starts with
b"#", and every encoding is self-delimiting, so the result is unambiguous.
"""

from __future__ import annotations

from typing import Any

from redun.errors import HashingError
from redun.hashing.composite import _expand
from redun.hashing.digest import _PERSON_VALUE, DIGEST_SIZE, _blake2b
from redun.hashing.leaves import (
    _LEAF,
    _encode_bigint,
    _Expansion,
    _pack_int,
    _pack_len,
    _qualname,
    _struct_error,
    _utf8,
)
from redun.hashing.state import _expand_state

__all__ = ["hash_value", "hash_value_fallback"]

# Flush a sink's buffer into its hasher beyond this many bytes.
_FLUSH_AT = 1 << 20


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
        hasher = _VALUE_HASHER.copy()  # cheaper than a new hasher with its parameters
        hasher.update(data)
        return hasher.hexdigest()
    enc = _LEAF.get(t)
    if enc is not None:
        hasher = _VALUE_HASHER.copy()
        hasher.update(enc(obj))
        return hasher.hexdigest()
    return _encode(obj, None).hexdigest()


_VALUE_HASHER = _blake2b(digest_size=DIGEST_SIZE, person=_PERSON_VALUE)


def hash_value_fallback(obj: Any) -> str:
    """Hash ``obj`` by its class name and its state, ignoring ``get_hash``.

    The state is ``obj.__getstate__()`` when the class defines one, else its
    ``__dict__`` and ``__slots__`` values, hashed with :func:`hash_value`
    rules; objects with none of those are hashed by their pickle bytes.

    Raises:
        HashingError: the state cannot be hashed (for example a lock).
    """
    return _encode(obj, _expand_state(obj)).hexdigest()


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
