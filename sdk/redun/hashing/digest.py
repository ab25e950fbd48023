"""Digest primitives: BLAKE2b digests of bytes, text and framed parts.

Every digest is a 40-hex-character BLAKE2b digest (``digest_size=20``).
Value digests (:func:`redun.hashing.hash_value`) and part digests
(:func:`hash_parts`) each use their own BLAKE2b personalization, so the same
bytes digest differently in each role and under plain :func:`hash_bytes`.
"""

from __future__ import annotations

try:  # the C BLAKE2 module alone: hashlib would load OpenSSL's too (~3 ms at start-up)
    from _blake2 import blake2b as _blake2b
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import blake2b as _blake2b

from redun.errors import HashingError

__all__ = ["DIGEST_SIZE", "hash_bytes", "hash_parts", "hash_text"]

DIGEST_SIZE = 20
"""Digest size in bytes; hex digests are twice as long."""

_PERSON_VALUE = b"redun.value.1"
_PERSON_PARTS = b"redun.parts.1"


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
    hasher = _PARTS_HASHER.copy()  # cheaper than a new hasher with its parameters
    hasher.update(f"{len(parts)}|{framed}".encode("utf-8", "surrogatepass"))
    return hasher.hexdigest()


_PARTS_HASHER = _blake2b(digest_size=DIGEST_SIZE, person=_PERSON_PARTS)
