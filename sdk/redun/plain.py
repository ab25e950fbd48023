"""Small slotted records written out by hand.

Classes built on every run's import path are not dataclasses: generating a
dataclass's methods costs about 0.25 ms per class at import, more than such a
record's whole use in a cached run. A :class:`Plain` subclass lists its fields
in ``__slots__`` (in constructor order) and writes its ``__init__``; equality
and repr come from the slots.
"""

from __future__ import annotations

from typing import Any


class Plain:
    """Compared by value (same class, equal fields) and shown by its fields."""

    __slots__: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __getstate__(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setstate__(self, state: tuple[Any, ...]) -> None:
        for name, value in zip(self.__slots__, state, strict=True):
            setattr(self, name, value)
