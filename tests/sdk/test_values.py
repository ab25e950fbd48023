"""The Value protocol redun users subclass: hashing, serialization, proxies, CLI
parsing, handles; and values that cannot be serialized (lambdas)."""

from __future__ import annotations

import enum
import pickle
import sqlite3
import threading
from pathlib import Path

import pytest

from redun import Handle, ProxyValue, Scheduler, Value, cond, get_type_registry, task
from redun.backends import backend_from_config
from redun.errors import HashingError
from redun.hashing import hash_value
from redun.utils import iter_nested_value, map_nested_value
from redun.value import FileCache
from redun.workflow.args import converter_for

redun_namespace = "test_values"


class Celsius(Value):
    """A custom value: hashed by its rounded reading, stored as text."""

    def __init__(self, degrees: float) -> None:
        self.degrees = float(degrees)

    def get_hash(self, data: bytes | None = None) -> str:
        return f"celsius-{round(self.degrees)}"

    def serialize(self) -> bytes:
        return f"{self.degrees}C".encode()

    @classmethod
    def deserialize(cls, raw_type: type, data: bytes) -> Celsius:
        return cls(float(data.decode().rstrip("C")))

    @classmethod
    def parse_arg(cls, raw_type: type, arg: str) -> Celsius:
        return cls(float(arg.rstrip("C")))


class Reading:
    """A class we pretend not to own; its proxy gives it the protocol."""

    def __init__(self, sensor: str, value: float, noise: float = 0.0) -> None:
        self.sensor, self.value, self.noise = sensor, value, noise


class ReadingProxy(ProxyValue):
    type = Reading

    def get_hash(self, data: bytes | None = None) -> str:
        return f"{self.instance.sensor}={self.instance.value}"  # noise does not count

    def serialize(self) -> bytes:
        return f"{self.instance.sensor}|{self.instance.value}".encode()

    @classmethod
    def deserialize(cls, raw_type: type, data: bytes) -> Reading:
        sensor, value = data.decode().split("|")
        return Reading(sensor, float(value))


def test_subclasses_are_registered_by_type_name() -> None:
    registry = get_type_registry()
    assert Celsius.type_name == f"{__name__}.Celsius"
    assert registry.parse_type_name(Celsius.type_name) is Celsius
    assert registry.get_type(Reading) is ReadingProxy
    assert registry.get_type(int, use_default=False) is None


def test_get_hash_decides_identity() -> None:
    assert hash_value(Celsius(20.2)) == hash_value(Celsius(19.9))
    assert hash_value(Celsius(20.2)) != hash_value(Celsius(25))
    # A proxy hashes the raw type: the noise field does not count.
    assert hash_value(Reading("a", 1.0, noise=0.1)) == hash_value(Reading("a", 1.0, noise=0.2))
    assert hash_value(Reading("a", 1.0)) != hash_value(Reading("b", 1.0))


def test_serialize_is_used_wherever_the_value_is_pickled() -> None:
    data = pickle.dumps(Celsius(21.5))
    assert b"21.5C" in data
    restored = pickle.loads(data)
    assert isinstance(restored, Celsius) and restored.degrees == 21.5
    reading = pickle.loads(pickle.dumps([Reading("a", 2.0, noise=9.0)]))[0]
    assert (reading.sensor, reading.value, reading.noise) == ("a", 2.0, 0.0)
    registry = get_type_registry()
    assert registry.deserialize(Celsius.type_name, registry.serialize(Celsius(3))).degrees == 3


def test_custom_values_are_recorded_and_read_back(tmp_path: Path) -> None:
    calls: list[float] = []

    @task
    def warm(t: Celsius) -> Celsius:
        calls.append(t.degrees)
        return Celsius(t.degrees + 1)

    config = {"db_uri": f"sqlite:///{tmp_path}/redun.db"}
    first = Scheduler(backend=backend_from_config(config))
    assert first.run(warm(Celsius(20.0))).degrees == 21.0
    # A new scheduler reads the result from the database (deserialize), and an
    # argument with the same hash is the same call.
    second = Scheduler(backend=backend_from_config(config))
    assert second.run(warm(Celsius(20.3))).degrees == 21.0
    assert calls == [20.0]


def test_parse_arg_builds_values_from_the_command_line() -> None:
    convert, many = converter_for(Celsius)
    assert not many and convert("30C").degrees == 30.0

    class Color(enum.Enum):
        red = 1
        green = 2

    convert, _ = converter_for(Color)
    assert convert("green") is Color.green
    assert convert("Color.green") is Color.green
    with pytest.raises(ValueError, match="choose from red, green"):
        convert("blue")
    convert, many = converter_for(list[Color])
    assert many and convert("Color.red") is Color.red


def test_lambdas_cannot_be_arguments_or_results() -> None:
    @task
    def ident(x: object) -> object:
        return x

    @task
    def make() -> object:
        return lambda: 10

    scheduler = Scheduler()
    with pytest.raises(HashingError, match="lambda"):
        scheduler.run(ident(lambda: 10))
    with pytest.raises(HashingError, match="lambda"):
        scheduler.run(make())
    # Scripts written for redun catch it as redun's InvalidValueError.
    from redun.value import InvalidValueError

    with pytest.raises(InvalidValueError):
        scheduler.run(make())
    # A module-level function is fine: it is stored by reference.
    assert scheduler.run(ident(map_nested_value)) is map_nested_value


class Db(Handle):
    def __init__(self, name: str, path: str) -> None:
        self.path = path
        self.instance = sqlite3.connect(path, check_same_thread=False)


def test_handle_identity_follows_its_history(tmp_path: Path) -> None:
    calls: list[str] = []

    @task
    def create(db: Db) -> Db:
        calls.append("create")
        db.execute("CREATE TABLE IF NOT EXISTS t (x)")
        db.commit()
        return db

    @task
    def insert(db: Db, x: int) -> Db:
        calls.append(f"insert {x}")
        db.execute("INSERT INTO t VALUES (?)", (x,))
        db.commit()
        return db

    @task
    def count(db: Db) -> int:
        return int(db.execute("SELECT count(*) FROM t").fetchone()[0])

    @task
    def pipeline(path: str) -> int:
        db = create(Db("db", path))
        return count(insert(insert(db, 1), 2))

    path = str(tmp_path / "data.db")
    scheduler = Scheduler()
    assert scheduler.run(pipeline(path)) == 2
    assert calls == ["create", "insert 1", "insert 2"]
    # The same history is the same handle: everything is cached, nothing inserted twice.
    assert scheduler.run(pipeline(path)) == 2
    assert calls == ["create", "insert 1", "insert 2"]

    db = Db("db", path)
    assert hash_value(db) == hash_value(Db("db", path))
    assert hash_value(db) != hash_value(Db("other", path))
    assert db.fork("1").get_hash() != db.fork("2").get_hash()
    assert db.apply_call("abc").get_hash() == db.apply_call("abc").get_hash()
    # Stored by name and arguments; reading it back reopens the connection.
    restored = pickle.loads(pickle.dumps(db))
    assert restored.get_hash() == db.get_hash()
    assert restored.execute("SELECT count(*) FROM t").fetchone()[0] == 2


def test_a_handle_chain_used_twice_runs_once(tmp_path: Path) -> None:
    # A handle forks on its way into each call, so each evaluation of a call on it has
    # another hash: the same expression used twice must still be evaluated once (as in
    # redun), or its side effects happen twice.
    calls: list[str] = []

    @task
    def insert(db: Db, x: int) -> Db:
        calls.append(f"insert {x}")
        db.execute("CREATE TABLE IF NOT EXISTS t (x)")
        db.execute("INSERT INTO t VALUES (?)", (x,))
        db.commit()
        return db

    @task
    def count(db: Db) -> int:
        calls.append("count")
        return int(db.execute("SELECT count(*) FROM t").fetchone()[0])

    @task
    def positive(x: int) -> bool:
        return x > 0

    @task
    def pipeline(path: str) -> list:
        n = count(insert(Db("db", path), 1))
        return [n, n, cond(positive(n), n, 0)]

    scheduler = Scheduler()
    assert scheduler.run(pipeline(str(tmp_path / "data.db"))) == [1, 1, 1]
    assert calls == ["insert 1", "count"]


def test_nested_value_helpers() -> None:
    value = {"a": [1, (2, 3)], "b": {4}}
    assert sorted(iter_nested_value(value), key=str) == [1, 2, 3, 4, "a", "b"]
    assert map_nested_value(lambda x: x * 10 if isinstance(x, int) else x, value) == {
        "a": [10, (20, 30)],
        "b": {40},
    }


class _ModelMeta(type):
    """Stands in for a model library's metaclass (pydantic's ModelMetaclass)."""

    def __new__(mcs, name: str, bases: tuple, namespace: dict) -> type:
        cls = super().__new__(mcs, name, bases, namespace)
        cls.fields = tuple(namespace.get("__annotations__", {}))  # type: ignore[attr-defined]
        return cls


class Params(Value, metaclass=_ModelMeta):
    """A model wrapped as a value: hashed by its JSON, parsed from JSON on the CLI."""

    alpha: float
    label: str

    def __init__(self, alpha: float, label: str) -> None:
        self.alpha, self.label = alpha, label

    def get_hash(self, data: bytes | None = None) -> str:
        import json

        return json.dumps({"alpha": self.alpha, "label": self.label}, sort_keys=True)

    @classmethod
    def parse_arg(cls, raw_type: type, arg: str) -> Params:
        import json

        return cls(**json.loads(arg))


def test_a_value_class_with_its_own_metaclass() -> None:
    assert Params.fields == ("alpha", "label")  # type: ignore[attr-defined]
    assert get_type_registry().parse_type_name(Params.type_name or "") is Params
    convert, _ = converter_for(Params)
    params = convert('{"alpha": 0.5, "label": "x"}')
    assert (params.alpha, params.label) == (0.5, "x")
    assert hash_value(params) == hash_value(Params(0.5, "x"))
    assert hash_value(params) != hash_value(Params(0.6, "x"))

    @task
    def use(p: Params) -> str:
        return f"{p.label}:{p.alpha}"

    assert Scheduler().run(use(params)) == "x:0.5"


def test_merge_handles_waits_for_every_fork_and_returns_the_first(tmp_path: Path) -> None:
    from redun import merge_handles

    one_at_a_time = threading.Lock()  # the forks share one sqlite3 connection

    @task
    def insert(db: Db, x: int) -> Db:
        with one_at_a_time:
            db.execute("CREATE TABLE IF NOT EXISTS t (x)")
            db.execute("INSERT INTO t VALUES (?)", (x,))
            db.commit()
        return db

    @task
    def count(db: Db) -> int:
        return int(db.execute("SELECT count(*) FROM t").fetchone()[0])

    @task
    def pipeline(path: str) -> list:
        db = Db("db", path)
        merged = merge_handles([insert(db, 1), insert(db, 2), insert(db, 3)])
        return [merged, count(merged)]

    path = str(tmp_path / "data.db")
    merged, rows = Scheduler().run(pipeline(path))
    # count() ran after all three inserts: the merged handle depends on every fork.
    assert rows == 3
    assert isinstance(merged, Db) and merged.__handle__.name == "db"

    @task
    def mixed(path: str) -> Db:
        return merge_handles([insert(Db("db", path), 4), insert(Db("other", path), 5)])

    with pytest.raises(Exception, match="forks of one handle"):
        Scheduler().run(mixed(path))


class Blob:
    def __init__(self, data: str) -> None:
        self.data = data


class BlobFiles(FileCache):
    type = Blob
    base_path = "blobs"  # relative: under the test's working directory

    def _serialize(self) -> bytes:
        return self.instance.data.encode()

    @classmethod
    def _deserialize(cls, data: bytes) -> Blob:
        return Blob(data.decode())


def test_file_cache_keeps_values_in_files_and_a_lost_file_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    calls: list[str] = []

    @task
    def make(text: str) -> Blob:
        calls.append(text)
        return Blob(text * 1000)

    @task
    def size(blob: Blob) -> int:
        return len(blob.data)

    def scheduler() -> Scheduler:
        return Scheduler(backend=backend_from_config({"db_uri": f"sqlite:///{tmp_path}/r.db"}))

    assert scheduler().run(size(make("ab"))) == 2000
    [stored] = list((tmp_path / "blobs").iterdir())
    assert stored.read_bytes() == b"ab" * 1000  # the value's bytes, in a file of their own
    with sqlite3.connect(tmp_path / "r.db") as db:
        rows = [bytes(row[0]) for row in db.execute("SELECT data FROM redun_value")]
    assert any(b"blobs/" in row for row in rows)  # the store holds the path...
    assert not any(b"ab" * 1000 in row for row in rows)  # ...not the data

    # A new process (a new scheduler) reads the value back from its file: cached.
    assert scheduler().run(make("ab")).data == "ab" * 1000
    assert calls == ["ab"]
    # The file gone, the cached call cannot be answered: it runs again and rewrites it.
    stored.unlink()
    assert scheduler().run(make("ab")).data == "ab" * 1000
    assert calls == ["ab", "ab"] and stored.exists()
