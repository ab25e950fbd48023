"""Tests for redun.hashing: stable, type-aware value digests."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import decimal
import enum
import fractions
import hashlib
import json
import math
import os
import pathlib
import re
import subprocess
import sys
import threading
import time
import uuid
from typing import NamedTuple

import pytest

from redun.errors import HashingError
from redun.hashing import hash_bytes, hash_parts, hash_text, hash_value, hash_value_fallback
from redun.value import Value

HEX40 = re.compile(r"^[0-9a-f]{40}$")


# -- bytes, text, parts ------------------------------------------------------


def test_hash_bytes_and_text_are_blake2b_160():
    assert hash_bytes(b"abc") == hashlib.blake2b(b"abc", digest_size=20).hexdigest()
    assert hash_text("abc") == hash_bytes(b"abc")
    assert hash_text("é") == hash_bytes("é".encode())
    assert HEX40.match(hash_bytes(b""))


def test_hash_parts_is_ordered_and_framed():
    a, b = hash_text("a"), hash_text("b")
    assert hash_parts(a, b) != hash_parts(b, a)
    assert hash_parts("ab", "c") != hash_parts("a", "bc")
    assert hash_parts("a") != hash_parts("a", "")
    assert hash_parts() != hash_parts("")
    assert hash_parts(a, b) == hash_parts(a, b)
    assert HEX40.match(hash_parts(a, b))


def test_hash_parts_rejects_non_str():
    with pytest.raises(HashingError, match="bytes"):
        hash_parts(b"abc")  # type: ignore[arg-type]


# -- type awareness ----------------------------------------------------------


class Color(enum.Enum):
    RED = 1
    BLUE = 2


class Other(enum.Enum):
    RED = 1


@dataclasses.dataclass
class Point:
    x: int
    y: int


@dataclasses.dataclass
class Vector:
    x: int
    y: int


class Pair(NamedTuple):
    x: int
    y: int


def plain_function():
    return 1


DISTINCT_VALUES = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2**63,
    -(2**63) - 1,
    10**400,
    0.0,
    -0.0,
    1.0,
    math.inf,
    -math.inf,
    math.nan,
    1 + 0j,
    complex(math.nan, 1),
    "",
    "1",
    "1.0",
    "True",
    "None",
    b"",
    b"1",
    bytearray(b"1"),
    [],
    (),
    {},
    set(),
    frozenset(),
    [1],
    (1,),
    [[1]],
    [(1,)],
    {1},
    frozenset({1}),
    {1: None},
    {"1": None},
    [1, 2],
    [2, 1],
    (1, 2),
    ["a", "b"],
    ["ab"],
    [("a", "b")],
    {"a": "b"},
    {("a", "b")},
    range(3),
    range(1, 3),
    Color.RED,
    Color.BLUE,
    Other.RED,
    Point(1, 2),
    Vector(1, 2),
    Pair(1, 2),
    Point,
    Vector,
    plain_function,
    len,
    datetime.date(2024, 1, 2),
    datetime.datetime(2024, 1, 2),
    datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone.utc),
    datetime.time(1, 2),
    datetime.timedelta(days=1),
    datetime.timedelta(seconds=1),
    decimal.Decimal("1"),
    decimal.Decimal("1.0"),
    fractions.Fraction(1, 2),
    fractions.Fraction(1, 3),
    uuid.UUID(int=1),
    pathlib.PurePosixPath("a/b"),
    pathlib.Path("a/b"),
    "a/b",
    collections.OrderedDict(a=1),
    collections.deque([1]),
    re.compile("a"),
    re.compile("a", re.I),
    slice(1, 2),
    Ellipsis,
]


def test_distinct_values_have_distinct_digests():
    digests = [hash_value(value) for value in DISTINCT_VALUES]
    assert all(HEX40.match(d) for d in digests)
    seen: dict[str, object] = {}
    for value, digest in zip(DISTINCT_VALUES, digests):
        assert digest not in seen, f"{value!r} collides with {seen[digest]!r}"
        seen[digest] = value


@pytest.mark.parametrize(
    "a, b",
    [
        (1, 1.0),
        (1, True),
        (0, False),
        (1, "1"),
        ((1, 2), [1, 2]),
        (b"ab", bytearray(b"ab")),
        ({1, 2}, frozenset({1, 2})),
        (Pair(1, 2), (1, 2)),
        (0.0, -0.0),
        ({"a": 1}, collections.OrderedDict(a=1)),
    ],
)
def test_type_awareness(a, b):
    # Most of these compare equal in Python; the cache must still tell them apart.
    assert hash_value(a) != hash_value(b)


def test_equal_values_hash_alike():
    for value in DISTINCT_VALUES:
        assert hash_value(value) == hash_value(value)
    assert hash_value([1, "a", (2.5, None)]) == hash_value([1, "a", (2.5, None)])
    assert hash_value(Point(1, 2)) == hash_value(Point(1, 2))
    assert hash_value(Point(1, 2)) != hash_value(Point(2, 1))
    assert hash_value(10**400) == hash_value(10**400 + 0)
    assert hash_value(10**400) != hash_value(10**400 + 1)


def test_nan_and_infinities_are_deterministic():
    negative_nan = -math.nan
    assert hash_value(math.nan) == hash_value(float("nan")) == hash_value(negative_nan)
    assert hash_value(math.inf) == hash_value(float("inf"))
    assert hash_value(complex(math.nan, 0)) == hash_value(complex(-math.nan, 0))


def test_big_ints_beyond_the_str_digits_limit():
    big = 7**20000  # str(big) would raise ValueError (int max str digits)
    assert HEX40.match(hash_value(big))
    assert hash_value(big) != hash_value(-big)
    assert hash_value(2**63 - 1) != hash_value(2**63)
    assert hash_value(-(2**63)) != hash_value(-(2**63) - 1)


def test_surrogates_in_strings():
    assert hash_value("\udc80") != hash_value("\udc81")


# -- order invariance -------------------------------------------------------


def test_dict_key_order_does_not_matter():
    a = {"x": 1, "y": [1, 2], "z": {"k": {1, 2}}}
    b = {"z": {"k": {2, 1}}, "y": [1, 2], "x": 1}
    assert hash_value(a) == hash_value(b)
    assert hash_value({1: "a", 2: "b"}) == hash_value({2: "b", 1: "a"})
    assert hash_value({1: "a", 2: "b"}) != hash_value({1: "b", 2: "a"})


def test_set_order_does_not_matter():
    items = [f"item{i}" for i in range(200)]
    forward, backward = set(items), set(reversed(items))
    assert hash_value(forward) == hash_value(backward)
    assert hash_value(frozenset(items)) == hash_value(frozenset(reversed(items)))
    nested_a = {frozenset({1, 2}), (3, 4), "x"}
    nested_b = {"x", (3, 4), frozenset({2, 1})}
    assert hash_value(nested_a) == hash_value(nested_b)


def test_list_order_does_matter():
    assert hash_value([1, 2, 3]) != hash_value([3, 2, 1])


def test_dict_entries_do_not_blur():
    assert hash_value({"a": "bc"}) != hash_value({"ab": "c"})
    assert hash_value({"a": 1, "b": 2}) != hash_value({"a": 2, "b": 1})
    assert hash_value({1: [2]}) != hash_value({1: (2,)})
    assert hash_value({"a": [1], "b": [2]}) != hash_value({"a": [2], "b": [1]})


# -- stability across processes ----------------------------------------------

STABLE_SAMPLES = """[
    None, True, 1, -5, 2**70, 1.5, math.nan, "héllo", b"raw", bytearray(b"x"),
    [1, "a", (2, 3)], {"b": 1, "a": [1, {"z", "y", "x"}]}, {"s", "t", "u", "v"},
    frozenset({("a", 1), ("b", 2)}), range(10), Color.BLUE, Point(1, 2), Pair(3, 4),
    datetime.datetime(2024, 5, 6, 7, 8, 9), decimal.Decimal("3.14"), uuid.UUID(int=7),
    pathlib.PurePosixPath("/data/x.csv"), {frozenset({"k"}): {"nested": {"deep", "set"}}},
]"""


def _samples_script() -> str:
    return f"""
import dataclasses, datetime, decimal, enum, json, math, pathlib, uuid
from typing import NamedTuple
from redun.hashing import hash_value

class Color(enum.Enum):
    RED = 1
    BLUE = 2

@dataclasses.dataclass
class Point:
    x: int
    y: int

class Pair(NamedTuple):
    x: int
    y: int

print(json.dumps([hash_value(v) for v in {STABLE_SAMPLES}]))
"""


def _run_samples(seed: str) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [sys.executable, "-c", _samples_script()],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout)


def test_digests_are_stable_across_processes_and_hash_seeds():
    first = _run_samples("1")
    second = _run_samples("12345")
    assert first == second
    assert len(set(first)) == len(first)


def test_golden_digests():
    # Changing these means every cache in the world misses: do it on purpose.
    assert hash_value(None) == "5dfeb4acf03110f81110ccaceae2ca23159f409b"
    assert hash_value(1) == "4a8366facb62493c95896e7b323f5e2c3438122d"
    assert hash_value("1") == "7932ef120b3761a92afeb8db84d715e3a8e3de5c"
    assert hash_value([1, "a", {"b": (2.0, None)}]) == hash_value([1, "a", {"b": (2.0, None)}])


# -- depth, cycles, speed ---------------------------------------------------


@pytest.mark.parametrize(
    "wrap",
    [lambda x: [x], lambda x: (x,), lambda x: {"k": x}, lambda x: frozenset({x})],
    ids=["list", "tuple", "dict", "frozenset"],
)
def test_deep_nesting_does_not_recurse(wrap):
    value: object = ()
    for _ in range(10_000):
        value = wrap(value)
    assert HEX40.match(hash_value(value))


def test_deep_mixed_nesting():
    value: object = 0
    for i in range(10_000):
        value = [value] if i % 3 == 0 else ({"k": value} if i % 3 == 1 else (value, i))
    assert hash_value(value) == hash_value(value)


def test_self_referencing_list_raises():
    loop: list = [1]
    loop.append(loop)
    with pytest.raises(HashingError, match="contains itself"):
        hash_value(loop)


def test_indirect_cycles_raise():
    d: dict = {}
    d["self"] = [d]
    with pytest.raises(HashingError, match="contains itself"):
        hash_value(d)

    class Node:
        def __init__(self):
            self.next = self

    with pytest.raises(HashingError, match="contains itself"):
        hash_value(Node())


def test_shared_references_are_not_cycles():
    shared = [1, 2]
    assert hash_value([shared, shared]) == hash_value([[1, 2], [1, 2]])
    inner = {"a": 1}
    assert hash_value({"x": inner, "y": inner}) == hash_value({"x": {"a": 1}, "y": {"a": 1}})


def test_a_million_ints_hash_fast():
    values = list(range(1_000_000))
    hash_value(values)  # warm up
    start = time.perf_counter()
    hash_value(values)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"hashing 1,000,000 ints took {elapsed:.3f}s"


# -- dataclasses, namedtuples, enums, functions -------------------------------


def test_dataclass_hash_covers_class_and_fields():
    assert hash_value(Point(1, 2)) == hash_value(Point(1, 2))
    assert hash_value(Point(1, 2)) != hash_value(Point(1, 3))
    assert hash_value(Point(1, 2)) != hash_value(Vector(1, 2))
    assert hash_value(Point(1, {"a": 1, "b": 2})) == hash_value(Point(1, {"b": 2, "a": 1}))


def test_namedtuple_hash_covers_class_and_items():
    assert hash_value(Pair(1, 2)) == hash_value(Pair(1, 2))
    assert hash_value(Pair(1, 2)) != hash_value(Pair(2, 1))
    assert hash_value(Pair(1, 2)) != hash_value((1, 2))


def test_enum_members_hash_by_class_and_name():
    assert hash_value(Color.RED) == hash_value(Color(1))
    assert hash_value(Color.RED) != hash_value(Other.RED)
    assert hash_value(Color.RED) != hash_value(1)


def test_types_and_functions_hash_by_qualified_name():
    assert hash_value(Point) != hash_value(Vector)
    assert hash_value(plain_function) == hash_value(plain_function)
    assert hash_value(plain_function) != hash_value(test_enum_members_hash_by_class_and_name)
    assert hash_value(len) != hash_value(sum)
    assert hash_value([].append) != hash_value([1].append)  # bound to different lists


def test_builtin_subclasses_differ_from_their_base():
    class Name(str):
        pass

    class Bag(list):
        pass

    assert hash_value(Name("x")) != hash_value("x")
    assert hash_value(Name("x")) == hash_value(Name("x"))
    assert hash_value(Bag([1])) != hash_value([1])
    assert hash_value(collections.defaultdict(int, a=1)) == hash_value(
        collections.defaultdict(int, a=1)
    )


# -- the Value protocol -------------------------------------------------------


class Remote(Value):
    def __init__(self, url: str, etag: str):
        self.url = url
        self.etag = etag

    def get_hash(self, data=None) -> str:
        return hash_text(self.etag)


class DuckFile:
    """Not a Value, but has a bound get_hash (like another library's File)."""

    def __init__(self, path: str, digest: str, noise: object = None):
        self.path = path
        self.digest = digest
        self.noise = noise

    def get_hash(self) -> str:
        return self.digest


class StateValue(Value):
    def __init__(self, a):
        self.a = a


def test_value_subclass_hashes_by_get_hash():
    assert hash_value(Remote("s3://a", "e1")) == hash_value(Remote("s3://b", "e1"))
    assert hash_value(Remote("s3://a", "e1")) != hash_value(Remote("s3://a", "e2"))
    assert hash_value(Remote("s3://a", "e1")) != hash_value(hash_text("e1"))


def test_duck_typed_get_hash_is_used():
    lock = threading.Lock()  # unhashable noise: get_hash wins
    assert hash_value(DuckFile("a", "d1", lock)) == hash_value(DuckFile("b", "d1"))
    assert hash_value(DuckFile("a", "d1")) != hash_value(DuckFile("a", "d2"))
    assert hash_value([DuckFile("a", "d1")]) == hash_value([DuckFile("zz", "d1")])


def test_value_default_get_hash_uses_state():
    assert StateValue(1).get_hash() == StateValue(1).get_hash()
    assert StateValue(1).get_hash() != StateValue(2).get_hash()
    assert hash_value(StateValue(1)) != hash_value(StateValue(2))


def test_fallback_ignores_get_hash():
    a, b = Remote("s3://a", "e1"), Remote("s3://b", "e1")
    assert hash_value(a) == hash_value(b)
    assert hash_value_fallback(a) != hash_value_fallback(b)


# -- the fallback for other objects ----------------------------------------


class Plain:
    def __init__(self, a, b):
        self.a = a
        self.b = b


class Slotted:
    __slots__ = ("a", "__b")

    def __init__(self, a, b):
        self.a = a
        self.__b = b


class WithState:
    def __init__(self, keep, drop):
        self.keep = keep
        self.drop = drop

    def __getstate__(self):
        return {"keep": self.keep}


def test_objects_hash_by_class_and_dict():
    assert hash_value(Plain(1, 2)) == hash_value(Plain(1, 2))
    assert hash_value(Plain(1, 2)) != hash_value(Plain(1, 3))
    assert hash_value(Plain(1, {"x", "y"})) == hash_value(Plain(1, {"y", "x"}))
    assert hash_value(Plain(1, 2)) == hash_value_fallback(Plain(1, 2))


def test_objects_hash_by_slots():
    assert hash_value(Slotted(1, 2)) == hash_value(Slotted(1, 2))
    assert hash_value(Slotted(1, 2)) != hash_value(Slotted(1, 3))


def test_objects_hash_by_getstate():
    assert hash_value(WithState(1, threading.Lock())) == hash_value(WithState(1, "other"))
    assert hash_value(WithState(1, None)) != hash_value(WithState(2, None))


def test_unhashable_object_raises_naming_its_type():
    with pytest.raises(HashingError, match="lock"):
        hash_value(threading.Lock())
    with pytest.raises(HashingError, match="lock"):
        hash_value({"guard": [threading.Lock()]})


def test_hashing_does_not_import_numpy():
    code = (
        "import sys; from redun.hashing import hash_value; "
        "hash_value([1, {'a': object()}]); print('numpy' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "False"


def test_numpy_arrays_hash_by_dtype_shape_and_bytes():
    np = pytest.importorskip("numpy")
    a = np.arange(6, dtype=np.int64)
    assert hash_value(a) == hash_value(np.arange(6, dtype=np.int64))
    assert hash_value(a) != hash_value(a.astype(np.int32))
    assert hash_value(a) != hash_value(a.reshape(2, 3))
    assert hash_value(a.reshape(2, 3).T) == hash_value(np.ascontiguousarray(a.reshape(2, 3).T))


def test_bencode_and_redun_s_structure_hashes() -> None:
    from redun.hashing import hash_struct, hash_tag_bytes
    from redun.hashing.structs import bencode

    # The format's own examples.
    assert bencode("spam") == b"4:spam" and bencode(3) == b"i3e" and bencode(-3) == b"i-3e"
    assert bencode(["spam", "eggs"]) == b"l4:spam4:eggse"
    assert bencode({"spam": "eggs", "cow": "moo"}) == b"d3:cow3:moo4:spam4:eggse"
    assert bencode({"a": [1, {"b": b"\x00"}]}) == b"d1:ali1ed1:b1:\x00eee"
    for bad in (1.5, True, None):
        with pytest.raises(TypeError, match="cannot bencode"):
            bencode([bad])
    deep: list = []
    for _ in range(100_000):
        deep = [deep]
    assert bencode(deep).startswith(b"ll")  # no recursion

    # redun's digests: the first 40 hex digits of SHA-512 over the encoding.
    expected = hashlib.sha512(b"l4:Task3:123e").hexdigest()[:40]
    assert hash_struct(["Task", "123"]) == expected
    assert hash_struct(("Task", "123")) == expected
    assert hash_tag_bytes("Value", b"123") == hashlib.sha512(b"l5:Valuee123").hexdigest()[:40]
