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

Modules:

* :mod:`.digest`: the digest primitives (:func:`hash_bytes`,
  :func:`hash_text`, :func:`hash_parts`).
* :mod:`.leaves`: leaf encoders, exact type to bytes, and composite headers.
* :mod:`.composite`: how other values expand into a header and children.
* :mod:`.state`: objects hashed by their state (:func:`hash_value_fallback`).
* :mod:`.encoder`: the iterative encoder behind :func:`hash_value`.
"""

from redun.hashing.composite import is_plain_data
from redun.hashing.digest import DIGEST_SIZE, hash_bytes, hash_parts, hash_text
from redun.hashing.encoder import hash_value, hash_value_fallback
from redun.hashing.structs import hash_struct, hash_tag_bytes

__all__ = [
    "DIGEST_SIZE",
    "hash_bytes",
    "hash_parts",
    "hash_struct",
    "hash_tag_bytes",
    "hash_text",
    "hash_value",
    "hash_value_fallback",
    "is_plain_data",
]
