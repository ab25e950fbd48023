"""The ``Value`` protocol: how non-plain objects take part in hashing and caching.

Plain data (None, bool, int, float, str, bytes and lists, tuples, dicts and
sets of them) needs nothing: :func:`redun.hashing.hash_value` handles it.
Objects that stand for something outside the process (a file, a directory,
a database table) subclass :class:`Value` so that:

* ``get_hash()`` says what the object *is* (a file: its path plus its size and
  mtime, or its content digest), and is what the cache keys on;
* ``is_valid()`` says whether a cached result is still good (a file result is
  not once the file was changed or deleted since it was recorded);
* ``__getstate__``/``__setstate__`` say what is stored in the database.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Value:
    """Base class for values with their own hash and validity.

    Subclasses override :meth:`get_hash` (required) and :meth:`is_valid`
    (optional). ``type_name`` names the type in the database; it defaults to
    the class's ``module.qualname``.
    """

    type_name: ClassVar[str | None] = None

    def get_hash(self, data: bytes | None = None) -> str:
        """Return a stable hex digest identifying this value."""
        from redun.hashing import hash_value_fallback

        return hash_value_fallback(self)

    def is_valid(self) -> bool:
        """Return False when a cached copy of this value no longer holds."""
        return True

    def iter_files(self) -> Any:
        """Yield the local files this value stands for (used by watches)."""
        return iter(())

    @classmethod
    def get_type_name(cls) -> str:
        return cls.type_name or f"{cls.__module__}.{cls.__qualname__}"
