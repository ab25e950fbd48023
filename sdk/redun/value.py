"""The ``Value`` protocol: how non-plain objects take part in hashing and caching.

Plain data (None, bool, int, float, str, bytes and lists, tuples, dicts and
sets of them) needs nothing: :func:`redun.hashing.hash_value` handles it.
Objects that stand for something outside the process (a file, a directory,
a database table) subclass :class:`Value` so that:

* ``get_hash()`` says what the object *is* (a file: its path plus its size and
  mtime, or its content digest), and is what the cache keys on;
* ``is_valid()`` says whether a cached result is still good (a file result is
  not once the file was changed or deleted since it was recorded);
* ``serialize()``/``deserialize()`` say how it is stored, when plain pickling
  (``__getstate__``/``__setstate__``) is not what you want;
* ``parse_arg()`` makes one from a command-line string (``redun run ... --x V``).

A :class:`ProxyValue` gives the same protocol to a type you do not own
(``class FrameProxy(ProxyValue): type = pandas.DataFrame``). Every subclass is
registered, by its ``type_name``, in the :class:`TypeRegistry`
(:func:`get_type_registry`).

How this engine honours the protocol: the hash of a ``Value`` is its type name
and ``get_hash()``; an overridden ``serialize`` is used whenever the value is
pickled (stored, or sent to a worker process) and ``deserialize`` when it is
read back; ``is_valid()`` is checked on cached results.
"""

from __future__ import annotations

import copyreg
import importlib
import pickle
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

from redun.errors import InvalidValueError

MIME_TYPE_PICKLE = "application/python-pickle"


class _Hooks:
    """``active`` turns True once a Value class with pre/postprocess hooks is defined."""

    active = False


lifecycle_hooks = _Hooks()


class TypeRegistry:
    """Value classes by type name, and the proxies of raw types."""

    def __init__(self) -> None:
        self._by_name: dict[str, type[Value]] = {}
        self._proxies: dict[type, type[ProxyValue]] = {}
        self._proxy_cache: dict[type, type[ProxyValue] | None] = {}

    def register(self, value_type: type[Value]) -> None:
        """Register a Value class (done automatically when it is defined)."""
        if getattr(value_type, "__args__", None):
            return  # a parameterized generic alias, not a class of its own
        self._by_name[value_type.get_type_name()] = value_type
        raw = getattr(value_type, "type", None)
        if getattr(value_type, "proxy", False) and isinstance(raw, type):
            self._proxies[raw] = value_type  # type: ignore[assignment]
            self._proxy_cache.clear()
            if value_type.serialize is not ProxyValue.serialize:
                copyreg.pickle(raw, _proxy_reducer(value_type))  # type: ignore[arg-type]

    def get_proxy_type(self, raw_type: type) -> type[ProxyValue] | None:
        """The proxy registered for ``raw_type`` or one of its bases, if any."""
        if not self._proxies:
            return None
        try:
            return self._proxy_cache[raw_type]
        except KeyError:
            pass
        found = None
        for base in getattr(raw_type, "__mro__", (raw_type,)):
            found = self._proxies.get(base)
            if found is not None:
                break
        self._proxy_cache[raw_type] = found
        return found

    def get_type(self, raw_type: type, use_default: bool = True) -> type[Value] | None:
        """The Value class that handles ``raw_type`` (a proxy, itself, or ProxyValue)."""
        proxy = self.get_proxy_type(raw_type)
        if proxy is not None:
            return proxy
        if isinstance(raw_type, type) and issubclass(raw_type, Value):
            return raw_type
        return ProxyValue if use_default else None

    def get_value(self, raw_value: Any) -> Value:
        """``raw_value`` as a Value: itself, or wrapped in its proxy."""
        proxy = self.get_proxy_type(type(raw_value))
        if proxy is not None:
            return proxy(raw_value)
        if isinstance(raw_value, Value):
            return raw_value
        return ProxyValue(raw_value)

    def get_type_name(self, raw_type: type) -> str:
        value_type = self.get_type(raw_type, use_default=False)
        if value_type is not None:
            return value_type.get_type_name()
        return f"{raw_type.__module__}.{raw_type.__qualname__}"

    def parse_type_name(self, type_name: str) -> type:
        """The class a type name stands for (registered, else imported)."""
        if type_name == "builtins.NoneType":
            return type(None)
        found = self._by_name.get(type_name)
        if found is not None:
            return found
        home = _ENGINE_TYPE_MODULES.get(type_name)
        if home is not None:  # an engine type whose module is loaded on first use
            importlib.import_module(home)
            return self._by_name[type_name]
        module_name, _, name = type_name.rpartition(".")
        try:
            target: Any = importlib.import_module(module_name)
            for part in name.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError, ValueError) as error:
            raise InvalidValueError(f"unknown value type {type_name!r}: {error}") from None
        return target  # type: ignore[no-any-return]

    def get_hash(self, value: Any, data: bytes | None = None) -> str:
        """The hash :func:`redun.hashing.hash_value` gives ``value``."""
        from redun.hashing import hash_value

        return hash_value(value)

    def is_valid(self, value: Any) -> bool:
        return self.get_value(value).is_valid()

    def is_valid_nested(self, nested_value: Any) -> bool:
        from redun.backends.base import value_is_valid

        return value_is_valid(nested_value)

    def get_serialization_format(self, value: Any) -> str:
        return self.get_value(value).get_serialization_format()

    def serialize(self, value: Any) -> bytes:
        return self.get_value(value).serialize()

    def deserialize(self, type_name: str, data: bytes) -> Any:
        try:
            raw_type: Any = self.parse_type_name(type_name)
        except InvalidValueError:
            return pickle.loads(data)
        value_type = self.get_type(raw_type) or ProxyValue
        try:
            return value_type.deserialize(raw_type, data)
        except ModuleNotFoundError as error:
            raise InvalidValueError(f"cannot read a stored {type_name}: {error}") from error

    def parse_arg(self, raw_type: type, arg: str) -> Any:
        """A value of ``raw_type`` from a command-line string."""
        value_type = self.get_type(raw_type, use_default=False)
        if value_type is not None:
            return value_type.parse_arg(raw_type, arg)
        from redun.workflow.args import parse_plain

        return parse_plain(raw_type, arg)

    def preprocess(self, raw_value: Any, preprocess_args: dict) -> Any:
        return self.get_value(raw_value).preprocess(preprocess_args)

    def postprocess(self, raw_value: Any, postprocess_args: dict) -> Any:
        return self.get_value(raw_value).postprocess(postprocess_args)

    def iter_subvalues(self, raw_value: Any) -> Iterator[Value]:
        """The Values inside ``raw_value``, as redun gives them: for a Value, what it
        holds; for anything else (a list, a dict...), every Value nested in it, each
        followed by what it holds. A directory holds its files, as the store records
        them (each in the state the directory's hash stands for)."""
        from redun.file.dir import recorded_files_of

        if isinstance(raw_value, Value):
            yield from raw_value.iter_subvalues()
            yield from recorded_files_of(raw_value)
            return
        from redun.nested import ValueWalk

        for item in ValueWalk(raw_value, None):
            yield item
            yield from recorded_files_of(item)


# Engine value types named "redun.X" (as in insitro/redun), and the modules that
# define (and so register) them, imported when a stored one is read first.
_ENGINE_TYPE_MODULES = {
    "redun.ErrorValue": "redun.scheduler.errorvalue",
    "redun.Traceback": "redun.scheduler.tracebacks",
    "redun.Frame": "redun.scheduler.tracebacks",
}

_type_registry = TypeRegistry()


class Value:
    """Base class for values with their own hash, validity and serialization.

    Subclasses override what they need: :meth:`get_hash`, :meth:`is_valid`,
    :meth:`serialize`/:meth:`deserialize`, :meth:`parse_arg`. ``type_name``
    names the type in the database; it defaults to ``module.QualName``.
    Set ``register = False`` on a class to keep it out of the registry.
    """

    type_name: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("type_name"):
            raw = cls.__dict__.get("type")
            source = raw if isinstance(raw, type) else cls
            cls.type_name = f"{source.__module__}.{source.__qualname__}"
        if cls.__dict__.get("register", True):
            _type_registry.register(cls)
        if not getattr(cls, "proxy", False) and (
            cls.preprocess is not Value.preprocess or cls.postprocess is not Value.postprocess
        ):
            # The scheduler starts calling pre/postprocess once such a class exists.
            lifecycle_hooks.active = True

    def get_hash(self, data: bytes | None = None) -> str:
        """Return a stable hex digest identifying this value."""
        if data is not None:
            from redun.hashing import hash_bytes

            return hash_bytes(data)
        from redun.hashing import hash_value_fallback

        return hash_value_fallback(self)

    def is_valid(self) -> bool:
        """Return False when a cached copy of this value no longer holds."""
        return True

    def iter_files(self) -> Any:
        """Yield the local files this value stands for (used by watches)."""
        return iter(())

    def get_serialization_format(self) -> str:
        """The MIME type of :meth:`serialize`'s bytes."""
        return MIME_TYPE_PICKLE

    def serialize(self) -> bytes:
        """The bytes stored for this value (default: its pickle)."""
        with _plain_pickling():
            return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def deserialize(cls, raw_type: Any, data: bytes) -> Any:
        """A value from :meth:`serialize`'s bytes."""
        return pickle.loads(data)

    @classmethod
    def parse_arg(cls, raw_type: type, arg: str) -> Any:
        """A value from a command-line string (default: ``cls(arg)``)."""
        return cls(arg)  # type: ignore[call-arg]

    def preprocess(self, preprocess_args: dict) -> Any:
        """The value a task receives for this argument (default: itself)."""
        return self

    def postprocess(self, postprocess_args: dict) -> Any:
        """The value recorded when a task returns this one (default: itself)."""
        return self

    def iter_subvalues(self) -> Iterator[Value]:
        """Yield the Values inside this one (none by default).

        A value that holds others (e.g. a collection of Files) declares them
        here: the cache checks their validity and the recorder records them
        (see :mod:`redun.nested`).
        """
        return iter(())

    @classmethod
    def get_type_name(cls) -> str:
        return cls.type_name or f"{cls.__module__}.{cls.__qualname__}"

    def __reduce_ex__(self, protocol: Any) -> Any:
        # A subclass that overrides serialize() is stored as serialize() says,
        # wherever it is pickled: the database, the value store, worker processes.
        cls = type(self)
        if cls.serialize is not Value.serialize and not _state.plain:
            return (_deserialize, (cls.get_type_name(), self.serialize()))
        return super().__reduce_ex__(protocol)


class ProxyValue(Value):
    """The Value protocol for a type you do not own.

    Set ``type`` to the raw type; instances of it (and of its subclasses) are
    then hashed by ``proxy(instance).get_hash()`` and, if ``serialize`` is
    overridden, stored as it says.
    """

    proxy: ClassVar[bool] = True
    type: ClassVar[Any] = None

    def __init__(self, instance: Any) -> None:
        self.instance = instance

    def get_hash(self, data: bytes | None = None) -> str:
        from redun.hashing import hash_bytes, hash_value_fallback

        return hash_bytes(data) if data is not None else hash_value_fallback(self.instance)

    def serialize(self) -> bytes:
        with _plain_pickling():
            return pickle.dumps(self.instance, protocol=pickle.HIGHEST_PROTOCOL)

    def preprocess(self, preprocess_args: dict) -> Any:
        return self.instance

    def postprocess(self, postprocess_args: dict) -> Any:
        return self.instance

    @classmethod
    def parse_arg(cls, raw_type: type, arg: str) -> Any:
        return raw_type(arg)


class FileCache(ProxyValue):
    """A proxy that keeps its values' bytes in files, and only their paths in the store.

    For large values of a type you own: subclass it with ``type = YourType`` and a
    ``base_path`` (a local directory, ``s3://...``, any :class:`~redun.File` path).
    Each value is written once to ``base_path/<hash of its bytes>``; the store
    records that path. A file that has since gone makes the call a cache miss, so
    the task runs again. ``_serialize`` / ``_deserialize`` say how the bytes are
    made (default: pickle).
    """

    base_path: ClassVar[str] = "."

    def _serialize(self) -> bytes:
        with _plain_pickling():
            return pickle.dumps(self.instance, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def _deserialize(cls, data: bytes) -> Any:
        return pickle.loads(data)

    def serialize(self) -> bytes:
        import posixpath

        from redun.file import File
        from redun.hashing import hash_bytes

        data = self._serialize()
        file = File(posixpath.join(self.base_path, hash_bytes(data)))
        if not file.exists():  # same bytes, same name: written once
            file.write(data, mode="wb")
        return file.path.encode("utf-8")

    @classmethod
    def deserialize(cls, raw_type: Any, data: bytes) -> Any:
        from redun.file import File

        file = File(data.decode("utf-8"))
        if not file.exists():
            raise InvalidValueError(f"the file {file.path} holding a {cls.__name__} value is gone")
        return cls._deserialize(file.read("rb"))


class _State(threading.local):
    plain = False


_state = _State()


class _plain_pickling:
    """While active, Values pickle by their state (inside their own serialize())."""

    def __enter__(self) -> None:
        self.previous = _state.plain
        _state.plain = True

    def __exit__(self, *exc: Any) -> None:
        _state.plain = self.previous


def _deserialize(type_name: str, data: bytes) -> Any:
    return _type_registry.deserialize(type_name, data)


def _proxy_reducer(proxy_type: type[ProxyValue]) -> Any:
    def reduce(obj: Any) -> Any:
        if _state.plain:
            # Inside the proxy's own serialize(): pickle the object normally.
            return obj.__reduce_ex__(pickle.HIGHEST_PROTOCOL)
        return (_deserialize, (proxy_type.get_type_name(), proxy_type(obj).serialize()))

    return reduce


def get_type_registry() -> TypeRegistry:
    """The process-wide :class:`TypeRegistry`."""
    return _type_registry


def get_raw_type_name(raw_type: Any) -> str:
    return f"{raw_type.__module__}.{raw_type.__qualname__}"
