"""``Handle``: a stateful resource (a database, a service) passed between tasks.

A handle's identity is not its content (a connection has none worth hashing)
but its history:

* made directly, ``DbHandle("db", url)``, it is identified by its name and
  constructor arguments;
* passed into a task, it *forks*: the task gets a copy identified by the
  handle it came from and a key (how many times the calling job had already
  passed that handle on), so two calls that both get the handle differ;
* returned by a task, it takes the identity of that call (task and
  arguments), so a later task that receives it is a cache hit exactly when
  the same chain of calls led to it.

Only the name and constructor arguments are stored; reading a handle back
calls ``__init__`` again, which reopens the resource. Attribute access falls
through to ``self.instance`` when the subclass sets one::

    class DbHandle(Handle):
        def __init__(self, name, db_file):
            self.db_file = db_file
            self.instance = sqlite3.connect(db_file)

    @task
    def load(db: DbHandle, rows: list) -> DbHandle:
        db.executemany("INSERT INTO t VALUES (?)", rows)
        db.commit()
        return db
"""

from __future__ import annotations

from typing import Any, ClassVar

from redun.hashing import hash_parts, hash_value
from redun.namespace import compute_namespace
from redun.value import Value, get_type_registry


class HandleInfo:
    """A handle's identity: name, constructor arguments, and the call or fork it came from."""

    def __init__(
        self,
        name: str,
        args: tuple,
        kwargs: dict,
        class_name: str,
        namespace: str | None = None,
        call_hash: str = "",
        hash: str | None = None,
        key: str = "",
    ) -> None:
        self.name = name
        self.namespace = namespace
        self.fullname = f"{namespace}.{name}" if namespace else name
        self.args = tuple(args)
        self.kwargs = dict(kwargs)
        self.class_name = class_name
        self.call_hash = call_hash
        self.key = key
        self.fork_parent: Handle | None = None
        self.hash = hash or self.get_hash()

    def get_state(self) -> dict:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "args": self.args,
            "kwargs": self.kwargs,
            "class_name": self.class_name,
            "call_hash": self.call_hash,
            "key": self.key,
            "hash": self.hash,
        }

    def get_hash(self) -> str:
        if self.call_hash:
            return hash_parts("Handle", self.fullname, "call", self.key, self.call_hash)
        return hash_parts(
            "Handle",
            self.fullname,
            "init",
            self.key,
            hash_value(self.args),
            hash_value(self.kwargs),
        )


_Info = HandleInfo  # the name inside Handle's body, where HandleInfo is the class attribute


class Handle(Value):
    """Base class of stateful resources passed between tasks (see the module docs).

    Subclasses define ``__init__(self, name, *args, **kwargs)``; ``name``
    (with the class's namespace) says which resource this is.
    """

    type_name: ClassVar[str | None] = "redun.Handle"
    HandleInfo: ClassVar[type[_Info]] = _Info  # redun's spelling: Handle.HandleInfo
    __handle__: _Info

    def __new__(
        cls, name: str | None = None, *args: Any, namespace: str | None = None, **kwargs: Any
    ) -> Any:
        handle = super().__new__(cls)
        if name is not None:  # None: being unpickled
            handle.__handle__ = HandleInfo(
                name=name,
                namespace=compute_namespace(cls, namespace),
                args=args,
                kwargs=kwargs,
                class_name=cls.get_type_name(),
            )
        return handle

    def __init__(
        self, name: str | None = None, *args: Any, namespace: str | None = None, **kwargs: Any
    ) -> None:
        pass

    def __repr__(self) -> str:
        info = self.__handle__
        return f"{info.class_name}(fullname={info.fullname}, hash={info.hash[:8]})"

    def __getattr__(self, attr: str) -> Any:
        instance = self.__dict__.get("instance")
        if instance is not None and not attr.startswith("__"):
            return getattr(instance, attr)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    def __getstate__(self) -> dict:
        return self.__handle__.get_state()

    def __setstate__(self, state: dict) -> None:
        self.__handle__ = HandleInfo(**state)
        self.__init__(state["name"], *state["args"], **state["kwargs"])  # type: ignore[misc]

    def __reduce_ex__(self, protocol: Any) -> Any:
        return (_new_handle, (type(self),), self.__getstate__())

    def get_hash(self, data: bytes | None = None) -> str:
        return self.__handle__.hash

    def _derive(self, call_hash: str, key: str) -> Handle:
        cls = type(self)
        info = self.__handle__
        other = object.__new__(cls)
        other.__dict__.update({k: v for k, v in self.__dict__.items() if k != "__handle__"})
        other.__handle__ = HandleInfo(
            name=info.name,
            namespace=info.namespace,
            args=info.args,
            kwargs=info.kwargs,
            class_name=info.class_name,
            call_hash=call_hash,
            key=key,
        )
        return other

    def fork(self, key: str) -> Handle:
        """A copy for one of several parallel uses, told apart by ``key``."""
        forked = self._derive(self.__handle__.hash, key)
        forked.__handle__.fork_parent = self
        return forked

    def apply_call(self, call_hash: str) -> Handle:
        """The handle as it is after the call ``call_hash`` returned it."""
        return self._derive(call_hash, "")

    def preprocess(self, preprocess_args: dict) -> Handle:
        return self.fork(self.__handle__.key or str(preprocess_args.get("call_order", 0)))

    def postprocess(self, postprocess_args: dict) -> Handle:
        return self.apply_call(postprocess_args["pre_call_hash"])

    def is_valid(self) -> bool:
        """False if the handle's class changed name since it was stored."""
        return self.__handle__.class_name == type(self).get_type_name()


def _new_handle(cls: type[Handle]) -> Handle:
    return object.__new__(cls)


def get_handle_class(handle_class_name: str) -> type[Handle]:
    """The Handle subclass registered under ``handle_class_name``."""
    return get_type_registry().parse_type_name(handle_class_name)  # type: ignore[return-value]
