"""Tests for redun.codehash: transitive code hashing, on real modules written to disk."""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import itertools
import os
import subprocess
import sys
import textwrap
import time
import types
from collections.abc import Iterator

import pytest

import redun
from redun.codehash import CodeHash, hash_function_code, is_user_module, normalized_source
from redun.errors import HashingError
from redun.hashing import hash_parts

_counter = itertools.count()


@pytest.fixture
def load(tmp_path, monkeypatch):
    """Write modules to a fresh directory, import them, and unload them after.

    ``with load({"wf": src, "helpers": src2}) as mods:`` yields the imported
    modules by name. Each call uses its own directory, so editing a "file"
    means loading a new version; sys.modules and sys.path are restored.
    """
    monkeypatch.setattr(sys, "dont_write_bytecode", True)

    @contextlib.contextmanager
    def loader(files: dict[str, str]) -> Iterator[dict[str, types.ModuleType]]:
        directory = tmp_path / f"v{next(_counter)}"
        directory.mkdir()
        for name, source in files.items():
            (directory / f"{name}.py").write_text(textwrap.dedent(source))
        for name in files:
            assert name not in sys.modules, f"module name {name!r} is already taken"
        sys.path.insert(0, str(directory))
        importlib.invalidate_caches()
        try:
            yield {name: importlib.import_module(name) for name in files}
        finally:
            sys.path.remove(str(directory))
            for name in files:
                sys.modules.pop(name, None)

    return loader


def code_hash(load, files: dict[str, str], module: str = "wf", func: str = "task") -> CodeHash:
    with load(files) as mods:
        return hash_function_code(getattr(mods[module], func))


# -- the function's own source ------------------------------------------------

BASE = """
import os

LIMIT = 10
UNUSED = 1


def helper(x):
    return inner(x) + LIMIT


def inner(x):
    return x * 2


def unrelated(x):
    return x - 1


def task(x, y=2):
    \"\"\"The task.\"\"\"
    total = 0
    for i in range(x):
        total += helper(i) * y
    return total
"""


def test_comments_docstrings_and_formatting_do_not_count(load):
    base = code_hash(load, {"wf": BASE})
    cosmetic = BASE.replace(
        '    """The task."""\n',
        '    """A different docstring,\n    over two lines."""\n    # a comment\n\n',
    ).replace("total += helper(i) * y", "total += (\n            helper(i)   *   y\n        )")
    cosmetic = cosmetic.replace("def helper(x):\n", "def helper(x):  # comment\n    'doc'\n")
    assert cosmetic != BASE
    assert code_hash(load, {"wf": cosmetic}) == base


def test_a_code_edit_changes_the_digest(load):
    base = code_hash(load, {"wf": BASE})
    edited = code_hash(load, {"wf": BASE.replace("helper(i) * y", "helper(i) + y")})
    assert edited.digest != base.digest
    assert edited.diff(base).keys() == {"source"}


def test_decorators_of_the_function_do_not_count(load):
    decorated = BASE.replace(
        "def task(x, y=2):", "def wrapme(f):\n    return f\n\n\n@wrapme\ndef task(x, y=2):"
    )
    assert "@wrapme" in decorated
    with load({"wf": decorated}) as mods:
        text = normalized_source(mods["wf"].task)
    with load({"wf": BASE}) as mods:
        assert normalized_source(mods["wf"].task) == text
    assert "wrapme" not in text
    assert "The task" not in text


def test_parts_and_digest(load):
    result = code_hash(load, {"wf": BASE})
    assert set(result.parts) == {"source", "helper:wf.helper", "helper:wf.inner", "const:wf.LIMIT"}
    flat = [item for label in sorted(result.parts) for item in (label, result.parts[label])]
    assert result.digest == hash_parts(*flat)


# -- helpers, transitively ----------------------------------------------------


def test_editing_a_helper_changes_the_task(load):
    base = code_hash(load, {"wf": BASE})
    edited = code_hash(load, {"wf": BASE.replace("inner(x) + LIMIT", "inner(x) - LIMIT")})
    assert edited.digest != base.digest
    assert edited.diff(base).keys() == {"helper:wf.helper"}


def test_editing_a_helpers_helper_changes_the_task(load):
    base = code_hash(load, {"wf": BASE})
    edited = code_hash(load, {"wf": BASE.replace("return x * 2", "return x * 3")})
    assert edited.digest != base.digest
    assert edited.diff(base).keys() == {"helper:wf.inner"}


def test_editing_an_unrelated_function_does_not(load):
    base = code_hash(load, {"wf": BASE})
    edited = code_hash(load, {"wf": BASE.replace("return x - 1", "return x - 100")})
    assert edited == base


def test_mutual_recursion_terminates(load):
    source = """
    def is_even(n):
        return True if n == 0 else is_odd(n - 1)

    def is_odd(n):
        return False if n == 0 else is_even(n - 1)

    def task(n):
        return is_even(n)
    """
    result = code_hash(load, {"wf": source})
    assert {"helper:wf.is_even", "helper:wf.is_odd"} <= result.parts.keys()
    edited = code_hash(load, {"wf": source.replace("False if", "bool(0) if")})
    assert edited.diff(result).keys() == {"helper:wf.is_odd"}


def test_self_recursive_task_terminates(load):
    source = """
    def task(n):
        return 1 if n <= 1 else n * task(n - 1)
    """
    assert set(code_hash(load, {"wf": source}).parts) == {"source"}


def test_helpers_in_nested_code_are_found(load):
    source = """
    def double(x):
        return 2 * x

    def square(x):
        return x * x

    def task(xs):
        def local(v):
            return square(v)
        return [double(x) for x in xs] + list(map(lambda v: local(v), xs))
    """
    result = code_hash(load, {"wf": source})
    assert {"helper:wf.double", "helper:wf.square"} <= result.parts.keys()


# -- constants ------------------------------------------------------------------


def test_editing_a_used_constant_changes_the_task(load):
    base = code_hash(load, {"wf": BASE})
    edited = code_hash(load, {"wf": BASE.replace("LIMIT = 10", "LIMIT = 11")})
    assert edited.diff(base).keys() == {"const:wf.LIMIT"}


def test_editing_an_unused_constant_does_not(load):
    base = code_hash(load, {"wf": BASE})
    assert code_hash(load, {"wf": BASE.replace("UNUSED = 1", "UNUSED = 2")}) == base


def test_constant_kinds(load):
    source = """
    import enum, re, threading, logging

    class Mode(enum.Enum):
        FAST = 1
        SLOW = 2

    PATTERN = re.compile(r"a+b", re.I)
    TABLE = {"a": [1, 2], "b": {3, 4}}
    MODE = Mode.FAST
    LOCK = threading.Lock()
    LOG = logging.getLogger("wf")

    def task(s):
        with LOCK:
            LOG.info("x")
            return PATTERN.match(s), TABLE, MODE
    """
    base = code_hash(load, {"wf": source})
    assert {
        "const:wf.PATTERN",
        "const:wf.TABLE",
        "const:wf.MODE",
        "const:wf.LOCK",
        "const:wf.LOG",
        "class:wf.Mode",
    } <= base.parts.keys()
    for old, new, label in [
        ('r"a+b", re.I', 'r"a+b"', "const:wf.PATTERN"),
        ('"b": {3, 4}', '"b": {3, 5}', "const:wf.TABLE"),
        ("Mode.FAST", "Mode.SLOW", "const:wf.MODE"),
    ]:
        edited = code_hash(load, {"wf": source.replace(old, new)})
        assert label in edited.diff(base), label
    reordered = source.replace('{"a": [1, 2], "b": {3, 4}}', '{"b": {4, 3}, "a": [1, 2]}')
    assert code_hash(load, {"wf": reordered}) == base


def test_default_argument_constants_count(load):
    source = """
    THRESHOLD = 0.5

    def task(x, threshold=THRESHOLD):
        return x > threshold
    """
    base = code_hash(load, {"wf": source})
    assert "const:wf.THRESHOLD" in base.parts
    edited = code_hash(load, {"wf": source.replace("0.5", "0.7")})
    assert edited.diff(base).keys() == {"const:wf.THRESHOLD"}


def test_closure_values_count(load):
    source = """
    def make(n):
        def task(x):
            return x + n
        return task

    task = make(3)
    """
    base = code_hash(load, {"wf": source})
    assert "closure:n" in base.parts
    edited = code_hash(load, {"wf": source.replace("make(3)", "make(4)")})
    assert edited.diff(base).keys() == {"closure:n"}


# -- classes ------------------------------------------------------------------

CLASSY = """
import dataclasses


def fmt(v):
    return f"<{v}>"


@dataclasses.dataclass
class Base:
    scale: int = 2


class Scaler(Base):
    \"\"\"Scales things.\"\"\"

    def apply(self, x):
        return fmt(x * self.scale)


class Unused:
    def apply(self, x):
        return x


def task(x):
    return Scaler().apply(x)
"""


def test_a_class_used_by_the_task_counts(load):
    base = code_hash(load, {"wf": CLASSY})
    assert {"class:wf.Scaler", "class:wf.Base", "helper:wf.fmt"} <= base.parts.keys()
    assert not any("Unused" in label for label in base.parts)

    edited = code_hash(load, {"wf": CLASSY.replace("x * self.scale", "x + self.scale")})
    assert edited.diff(base).keys() == {"class:wf.Scaler"}

    edited = code_hash(load, {"wf": CLASSY.replace("scale: int = 2", "scale: int = 3")})
    assert edited.diff(base).keys() == {"class:wf.Base"}

    edited = code_hash(load, {"wf": CLASSY.replace('f"<{v}>"', 'f"[{v}]"')})
    assert edited.diff(base).keys() == {"helper:wf.fmt"}

    docs = CLASSY.replace('"""Scales things."""', '"""Scales things, documented."""')
    assert code_hash(load, {"wf": docs}) == base

    edited = code_hash(load, {"wf": CLASSY.replace("return x\n", "return -x\n")})
    assert edited == base  # Unused is not used


def test_names_in_a_class_body_count(load):
    source = """
    RATE = 0.1
    LABEL = "x"


    class Account:
        kind = LABEL

        def interest(self, amount, rate=RATE):
            return amount * rate


    def task(amount):
        return Account().interest(amount)
    """
    base = code_hash(load, {"wf": source})
    assert {"class:wf.Account", "const:wf.RATE", "const:wf.LABEL"} <= base.parts.keys()
    edited = code_hash(load, {"wf": source.replace("RATE = 0.1", "RATE = 0.2")})
    assert edited.diff(base).keys() == {"const:wf.RATE"}


def test_wrapped_helpers_are_followed(load):
    source = """
    import functools


    @functools.lru_cache(maxsize=None)
    def cached(x):
        return x + 1


    def plain(x, y):
        return x * y


    double = functools.partial(plain, 2)


    def task(x):
        return cached(x) + double(x)
    """
    base = code_hash(load, {"wf": source})
    assert {"helper:wf.cached", "helper:wf.plain", "const:wf.double"} <= base.parts.keys()
    edited = code_hash(load, {"wf": source.replace("x + 1", "x + 2")})
    assert edited.diff(base).keys() == {"helper:wf.cached"}
    edited = code_hash(load, {"wf": source.replace("partial(plain, 2)", "partial(plain, 3)")})
    assert edited.diff(base).keys() == {"const:wf.double"}


# -- a second user module ------------------------------------------------------

HELPERS = """
FACTOR = 3


def f(x):
    return g(x) * FACTOR


def g(x):
    return x + 1


def h(x):
    return x
"""

USES_MODULE = """
import helpers


def task(x):
    return helpers.f(x)
"""

USES_NAME = """
from helpers import f


def task(x):
    return f(x)
"""


@pytest.mark.parametrize("wf", [USES_MODULE, USES_NAME], ids=["import-module", "from-import"])
def test_helpers_in_another_user_module(load, wf):
    base = code_hash(load, {"wf": wf, "helpers": HELPERS})
    assert {"helper:helpers.f", "helper:helpers.g", "const:helpers.FACTOR"} <= base.parts.keys()

    edited = code_hash(load, {"wf": wf, "helpers": HELPERS.replace("x + 1", "x + 2")})
    assert edited.diff(base).keys() == {"helper:helpers.g"}

    edited = code_hash(load, {"wf": wf, "helpers": HELPERS.replace("FACTOR = 3", "FACTOR = 4")})
    assert edited.diff(base).keys() == {"const:helpers.FACTOR"}

    unrelated = HELPERS.replace("return x\n", "return -x\n")
    assert code_hash(load, {"wf": wf, "helpers": unrelated}) == base


# -- what is skipped -------------------------------------------------------------


def test_task_like_globals_are_skipped(load):
    source = """
    class FakeTask:
        _redun_task = True

        def __call__(self, x):
            return x

    other = FakeTask()

    def task(x):
        return other(x)
    """
    result = code_hash(load, {"wf": source})
    assert set(result.parts) == {"source"}
    edited = code_hash(load, {"wf": source.replace("return x\n", "return -x\n")})
    assert edited == result


def test_real_tasks_are_skipped(load):
    source = """
    from redun import task as redun_task

    @redun_task()
    def step(x):
        return x + 1

    def task(x):
        return step(x)
    """
    try:
        result = code_hash(load, {"wf": source})
    except ImportError:
        pytest.skip("redun.task is not available yet")
    assert set(result.parts) == {"source"}
    with load({"wf": source}) as mods:
        step = mods["wf"].step
        assert hash_function_code(step) == hash_function_code(step.func)


def test_stdlib_does_not_count(load):
    source = """
    import os
    import os.path
    import json
    from collections import OrderedDict

    def task(a, b):
        return os.path.join(a, b), json.dumps(OrderedDict(a=1))
    """
    assert set(code_hash(load, {"wf": source}).parts) == {"source"}


def test_redun_itself_does_not_count(load):
    source = """
    import redun
    from redun.hashing import hash_value

    def task(x):
        return hash_value(x), redun.__version__
    """
    assert set(code_hash(load, {"wf": source}).parts) == {"source"}


def test_installed_packages_count_by_version(load):
    source = """
    import sqlalchemy
    from rich.console import Console

    def task(x):
        Console()
        return sqlalchemy.text(x)
    """
    result = code_hash(load, {"wf": source})
    from_import = code_hash(
        load, {"wf": "from rich.markup import escape\n\ndef task(x):\n    return escape(x)\n"}
    )
    assert from_import.parts["package:rich"] == importlib.metadata.version("rich")
    packages = {label: v for label, v in result.parts.items() if label.startswith("package:")}
    by_name = {label.split(":", 1)[1].lower(): v for label, v in packages.items()}
    assert by_name["rich"] == importlib.metadata.version("rich")
    assert by_name["sqlalchemy"] == importlib.metadata.version("sqlalchemy")
    assert set(result.parts) == {"source", *packages}


def test_unhashable_globals_do_not_break_hashing(load):
    source = """
    import threading

    class Holder:
        def __init__(self):
            self.lock = threading.Lock()

    HOLDER = Holder()
    CYCLE = []
    CYCLE.append(CYCLE)

    def task(x):
        return HOLDER, CYCLE
    """
    result = code_hash(load, {"wf": source})
    assert {"const:wf.HOLDER", "const:wf.CYCLE", "class:wf.Holder"} <= result.parts.keys()


# -- sources that are hard to find --------------------------------------------


def test_function_without_source_uses_bytecode():
    namespace: dict = {"__name__": "nowhere"}
    exec("def task(x):\n    return x + 1\n", namespace)
    first = hash_function_code(namespace["task"])
    assert normalized_source(namespace["task"]).startswith("<no source")
    again: dict = {"__name__": "nowhere"}
    exec("def task(x):\n    return x + 1\n", again)
    assert hash_function_code(again["task"]) == first
    changed: dict = {"__name__": "nowhere"}
    exec("def task(x):\n    return x + 2\n", changed)
    assert hash_function_code(changed["task"]) != first


def test_lambda_and_method_and_indented_sources(load):
    source = '''
    double = lambda x: x * 2

    class Box:
        def task(self, x):
            text = """
    flush-left text inside an indented method
    """
            return text, x
    '''
    with load({"wf": source}) as mods:
        wf = mods["wf"]
        assert "Lambda" in normalized_source(wf.double)
        assert "flush-left" in normalized_source(wf.Box.task)
        assert hash_function_code(wf.Box().task) == hash_function_code(wf.Box.task)


def test_multiline_decorators_and_odd_endings(load):
    source = """
    def deco(**options):
        return lambda f: f


    @deco(
        cache=False,
        retries=2,
    )
    def task(x):
        return max(
            x,
            1,
        )


    def only_doc():
        \"\"\"Line one.

        Line two.
        \"\"\"
    """
    with load({"wf": source}) as mods:
        wf = mods["wf"]
        text = normalized_source(wf.task)
        assert text.startswith("FunctionDef(name='task'") and "retries" not in text
        assert normalized_source(wf.only_doc).startswith("FunctionDef(name='only_doc'")
        assert "Line two" not in normalized_source(wf.only_doc)
    retried = code_hash(load, {"wf": source.replace("retries=2", "retries=3")})
    assert retried == code_hash(load, {"wf": source})


def test_not_a_function_raises():
    with pytest.raises(HashingError, match="not a Python function"):
        hash_function_code(42)


def test_builtins_hash_by_name():
    assert hash_function_code(len) != hash_function_code(sum)
    assert hash_function_code(len) == hash_function_code(len)


# -- user modules ---------------------------------------------------------------


def test_is_user_module(load):
    import json

    import rich

    assert not is_user_module(os)
    assert not is_user_module("os.path")
    assert not is_user_module(json)
    assert not is_user_module(sys)
    assert not is_user_module(rich)
    assert not is_user_module(redun)
    assert not is_user_module("redun.hashing")
    assert is_user_module("__main__")
    with load({"wf": "X = 1\n"}) as mods:
        assert is_user_module(mods["wf"])
        assert is_user_module("wf")


# -- caching and speed ----------------------------------------------------------


def test_results_are_cached_per_function(load):
    with load({"wf": BASE}) as mods:
        task = mods["wf"].task
        first = hash_function_code(task)
        start = time.perf_counter()
        for _ in range(10_000):
            assert hash_function_code(task) is first
        elapsed = time.perf_counter() - start
    assert elapsed < 0.5, f"10,000 cached lookups took {elapsed:.3f}s"


def test_first_hash_of_a_typical_task_is_fast(load):
    # Warm the process-wide parts (stdlib paths, tokenizer) with another module.
    code_hash(load, {"wf": BASE})
    with load({"wf": BASE.replace("LIMIT = 10", "LIMIT = 12")}) as mods:
        start = time.perf_counter()
        hash_function_code(mods["wf"].task)
        elapsed = time.perf_counter() - start
    assert elapsed < 0.02, f"hashing a typical task took {elapsed * 1000:.2f} ms"


def test_code_hash_is_stable_across_processes(tmp_path):
    (tmp_path / "wfmod.py").write_text(textwrap.dedent(BASE))
    script = "import wfmod; from redun.codehash import hash_function_code as h; print(h(wfmod.task).digest)"
    digests = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONDONTWRITEBYTECODE": "1"}
        out = subprocess.run(
            [sys.executable, "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_closure_accumulators_count_by_type(load):
    source = """
    def make(log):
        def task(x):
            log.append(x)
            return x
        return task

    task = make([])
    """
    base = code_hash(load, {"wf": source})
    filled = code_hash(load, {"wf": source.replace("make([])", "make([1, 2])")})
    assert "closure:log" in base.parts
    assert filled.digest == base.digest
