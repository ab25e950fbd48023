"""One walker for nested values (:mod:`redun.nested`), and every container kind
through each part that looks inside values: cache validity, hashing, recording,
explain and the daemon's watch dependencies.

The headline: a task returning ``@dataclass Result(out: File)`` must be re-run
once its file is deleted, exactly like the same File in a list.
"""

from __future__ import annotations

import ast
import dataclasses
import os
from collections import OrderedDict, defaultdict
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from redun import File, Scheduler, task
from redun.backends.queries import StoreReader
from redun.config import Config
from redun.events import JobStateChanged
from redun.explain import explain_job
from redun.explain.files import live_files
from redun.hashing import hash_parts, hash_value
from redun.nested import (
    Kind,
    ValueWalk,
    all_valid,
    holds_values,
    iter_nested_value,
    kind_of,
    map_nested_value,
)
from redun.value import Value

redun_namespace = "test_nested"

ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class Result:
    out: Any
    n: int = 0


@dataclasses.dataclass
class Box:
    item: Any


class Pair(NamedTuple):
    out: Any
    n: int


class Bundle(Value):
    """A Value that declares the Files inside it (and says nothing of their state itself)."""

    def __init__(self, files: list) -> None:
        self.files = list(files)

    def get_hash(self, data: bytes | None = None) -> str:
        return hash_parts("Bundle", *(f.hash for f in self.files))

    def iter_subvalues(self) -> Any:
        return iter(self.files)


WRAPS = {
    "list": lambda f: [f],
    "tuple": lambda f: (1, f),
    "set": lambda f: {f},
    "frozenset": lambda f: frozenset([f]),
    "dict_value": lambda f: {"out": f},
    "dict_key": lambda f: {f: "out"},
    "namedtuple": lambda f: Pair(f, 1),
    "dataclass": lambda f: Result(out=f),
    "deep": lambda f: {"a": [Result(out=(2, Pair(f, 3)))]},
    "declared": lambda f: Bundle([f]),
}
KINDS = sorted(WRAPS)


@task
def make(kind: str, path: str) -> Any:
    out = File(path)
    out.write("made")
    return WRAPS[kind](out)


@task
def measure(kind: str, holder: Any) -> int:
    return sum(len(f.read()) for f in ValueWalk(holder) if isinstance(f, File))


class Ran:
    """Which tasks ran (not cached) in a scheduler's runs."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.ran: list[str] = []
        scheduler.events.subscribe(self)

    def __call__(self, event: object) -> None:
        if isinstance(event, JobStateChanged) and event.state == "done":
            self.ran.append(event.task.rsplit(".", 1)[-1])

    def take(self) -> list[str]:
        ran, self.ran = self.ran, []
        return ran


def scheduler_for(store: str, tmp_path: Path) -> Scheduler:
    if store == "memory":
        return Scheduler()
    return Scheduler(config=Config({"backend": {"db_uri": f"sqlite:///{tmp_path}/redun.db"}}))


# -- validity: the headline bug -------------------------------------------------------


@pytest.mark.parametrize("store", ["memory", "sqlite"])
@pytest.mark.parametrize("kind", KINDS)
def test_cached_result_whose_file_was_deleted_is_remade(
    kind: str, store: str, tmp_path: Path
) -> None:
    path = str(tmp_path / "out.txt")
    scheduler = scheduler_for(store, tmp_path)
    ran = Ran(scheduler)
    try:
        scheduler.run(make(kind, path))
        assert ran.take() == ["make"]
        scheduler.run(make(kind, path))
        assert ran.take() == [], "an untouched result is a cache hit"
        os.remove(path)
        scheduler.run(make(kind, path))
        assert ran.take() == ["make"], f"a File inside a {kind} was deleted: re-make it"
        assert Path(path).read_text() == "made"
    finally:
        scheduler.stop()
        scheduler.backend.close()


# -- hashing -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_hash_follows_the_file_inside(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text("a")
    before = hash_value(WRAPS[kind](File(str(path))))
    assert hash_value(WRAPS[kind](File(str(path)))) == before
    path.write_text("bbb")
    assert hash_value(WRAPS[kind](File(str(path)))) != before


# -- recording and explain ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_files_inside_results_are_recorded(kind: str, tmp_path: Path) -> None:
    path = str(tmp_path / "out.txt")
    url = f"sqlite:///{tmp_path}/redun.db"
    scheduler = Scheduler(config=Config({"backend": {"db_uri": url}}))
    scheduler.run(make(kind, path))
    scheduler.backend.close()
    reader = StoreReader(scheduler.backend)
    (record,) = reader.files_by_path([path])
    assert record.size == 4 and record.kind == "file"
    containers = reader.containers_of([record.value_hash])
    assert len(containers.get(record.value_hash, [])) == 1, "the file points at its container"


@pytest.mark.parametrize("kind", KINDS)
def test_explain_names_the_changed_file_inside_an_argument(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text("a")
    url = f"sqlite:///{tmp_path}/redun.db"
    scheduler = Scheduler(config=Config({"backend": {"db_uri": url}}))
    ran = Ran(scheduler)
    assert scheduler.run(measure(kind, WRAPS[kind](File(str(path))))) == 1
    path.write_text("abc")
    assert scheduler.run(measure(kind, WRAPS[kind](File(str(path))))) == 3
    assert ran.take() == ["measure", "measure"]
    job = next(j for j in scheduler.jobs() if j.task.name == "measure")
    scheduler.backend.close()
    explanation = explain_job(scheduler.backend, job.id)
    files = [change for change in explanation.changes if change.kind == "file"]
    assert [change.name for change in files] == [str(path)], explanation.changes
    assert "1 -> 3 bytes" in files[0].message
    # A live value (redun run --explain) finds the same file.
    assert list(live_files(WRAPS[kind](File(str(path))))) == [str(path)]


def test_daemon_dependencies_include_files_inside_any_container(tmp_path: Path) -> None:
    deps_module = pytest.importorskip("redund.deps")
    scheduler = Scheduler()
    for kind in KINDS:
        scheduler.run(make(kind, str(tmp_path / f"{kind}.txt")))
        deps = deps_module.dependencies(set(), __file__, scheduler.jobs())
        assert deps["outputs"] == [str(tmp_path / f"{kind}.txt")], kind


# -- the walker itself --------------------------------------------------------------------


def test_kinds() -> None:
    f = File("x")
    assert kind_of(1) == kind_of("s") == kind_of(None) == Kind.LEAF
    assert kind_of([1]) == kind_of((1,)) == kind_of({1}) == kind_of(frozenset()) == Kind.SEQUENCE
    assert kind_of(Pair(1, 2)) == Kind.RECORD
    assert kind_of({}) == kind_of(OrderedDict()) == kind_of(defaultdict(list)) == Kind.MAPPING
    assert kind_of(Result(1)) == Kind.DATACLASS
    assert kind_of(Result) == Kind.LEAF  # the class is not an instance
    assert kind_of(f) == kind_of(Bundle([f])) == Kind.VALUE
    assert kind_of(object()) == Kind.LEAF


def test_walk_finds_values_in_every_kind_once() -> None:
    f, g = File("f"), File("g")
    shared = [f]
    value = {g: [shared, shared], "r": Result(out=Pair(Bundle([f]), 1))}
    found = list(ValueWalk(value))
    assert found.count(f) == 1 and found.count(g) == 1
    assert any(isinstance(item, Bundle) for item in found)
    assert holds_values(value) and not holds_values({"a": [1, (2, 3.0)], "b": Result(out=1)})


def test_budget_is_reported_and_errs_on_the_safe_side() -> None:
    big = [Result(out=None, n=i) for i in range(1000)]
    walk = ValueWalk(big, budget=100)
    assert list(walk) == [] and not walk.complete
    assert holds_values(big, budget=100), "too large to tell: assume it holds values"
    assert not holds_values(big, budget=10_000)
    atoms = list(range(100_000))
    assert not holds_values(atoms, budget=10), "atoms do not count against the budget"


def test_cycles_end_and_deep_nesting_does_not_recurse() -> None:
    loop: list = []
    loop.append(loop)
    assert list(ValueWalk(loop)) == []
    with pytest.raises(ValueError, match="contains itself"):
        list(iter_nested_value(loop))
    shared = [1, 2]
    assert list(iter_nested_value([shared, shared])) == [1, 2, 1, 2], "as redun: no dedup"
    deep: Any = File("leaf")
    for _ in range(100_000):
        deep = [Box(deep)]
    assert [v.path for v in ValueWalk(deep, None)] == ["leaf"]
    assert list(iter_nested_value(deep)) == [File("leaf")]
    mapped = map_nested_value(lambda x: x.path if isinstance(x, File) else x, deep)
    for _ in range(100_000):
        mapped = mapped[0].item
    assert mapped == "leaf"
    with pytest.raises(ValueError, match="contains itself"):
        map_nested_value(str, loop)


def test_validity_is_checked_inside_every_kind(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_text("x")
    for kind in KINDS:
        file = File(str(path))
        file.hash  # noqa: B018 - record the state now
        value = WRAPS[kind](file)
        assert all_valid(value), kind
        path.write_text("changed " + kind)
        assert not all_valid(value), kind


def test_map_rebuilds_every_kind() -> None:
    def double(x: Any) -> Any:
        return x * 2 if isinstance(x, int) else x

    assert map_nested_value(double, [1, (2, {3}), frozenset({4})]) == [2, (4, {6}), frozenset({8})]
    assert map_nested_value(double, {1: 2}) == {2: 4}
    assert map_nested_value(double, Pair(1, 2)) == Pair(2, 4)
    assert map_nested_value(double, Result(out=[1], n=2)) == Result(out=[2], n=4)
    counts = defaultdict(list, {1: [2]})
    doubled = map_nested_value(double, counts)
    assert type(doubled) is defaultdict and doubled.default_factory is list
    assert doubled == {2: [4]}
    assert list(iter_nested_value({"a": [1, Result(out=2)]})) == ["a", 1, 2, 0]


@task
def add_one(x: int) -> int:
    return x + 1


@task
def wrap_lazily(x: int) -> Result:
    # Expressions inside a dataclass or a namedtuple are evaluated, as inside a list.
    return Result(out=Pair(add_one(x), add_one(x + 1)), n=x)


def test_expressions_inside_dataclasses_are_evaluated() -> None:
    result = Scheduler().run(wrap_lazily(1))
    # (Compared item by item: an unevaluated expression == 2 is itself truthy.)
    assert type(result) is Result and type(result.out) is Pair
    assert [type(item) for item in result.out] == [int, int] and tuple(result.out) == (2, 3)


# -- one walker ---------------------------------------------------------------------------

_CONTAINER_NAMES = {"list", "tuple", "set", "frozenset", "dict"}
# Modules that take containers apart for another reason than finding what they hold.
_ALLOWED = {
    "sdk/redun/nested.py": "the walker",
    "sdk/redun/hashing/encoder.py": "encodes every container's bytes (not a search)",
    "sdk/redun/hashing/composite.py": "encodes every container's bytes (not a search)",
    "sdk/redun/utils.py::merge_dicts": "merges configuration dicts key by key",
}


def _container_test(node: ast.AST, type_names: set[str]) -> bool:
    """``isinstance(x, (list, tuple...))``, or ``type(x) in (list, ...)``/``cls is list``
    where ``cls = type(x)`` (comparisons of annotations with types do not count)."""
    names: set[str] = set()
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "isinstance":
        if len(node.args) == 2:
            target = node.args[1]
            elements = target.elts if isinstance(target, ast.Tuple) else [target]
            names = {getattr(e, "id", "") for e in elements}
    elif isinstance(node, ast.Compare) and (
        _is_type_call(node.left) or getattr(node.left, "id", None) in type_names
    ):
        for comparator in node.comparators:
            elements = comparator.elts if isinstance(comparator, ast.Tuple) else [comparator]
            names |= {getattr(e, "id", "") for e in elements}
    return bool(names & _CONTAINER_NAMES)


def _is_type_call(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and getattr(node.func, "id", None) == "type"


def _walks(function: ast.FunctionDef) -> bool:
    """A container test plus descending: a work stack, or a call of itself."""
    type_names = {
        target.id
        for node in ast.walk(function)
        if isinstance(node, ast.Assign) and _is_type_call(node.value)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    tests = any(_container_test(node, type_names) for node in ast.walk(function))
    if not tests:
        return False
    for node in ast.walk(function):
        if isinstance(node, ast.Call):
            callee = node.func
            if isinstance(callee, ast.Name) and callee.id == function.name:
                return True
            if isinstance(callee, ast.Attribute) and callee.attr in ("extend", "append"):
                owner = getattr(callee.value, "id", "")
                if "stack" in owner or owner in ("todo", "queue", "pending"):
                    return True
    return False


def test_no_module_walks_containers_by_hand() -> None:
    offenders = []
    for folder in ("sdk", "daemon", "tui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in _ALLOWED or "/v1/" in relative:
                continue
            tree = ast.parse(path.read_text(), filename=relative)
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _walks(node):
                    if f"{relative}::{node.name}" not in _ALLOWED:
                        offenders.append(f"{relative}:{node.lineno} {node.name}")
    assert not offenders, (
        "these walk containers by hand; use redun.nested (ValueWalk, map_nested_value, "
        f"kind_of/children/rebuild): {offenders}"
    )
