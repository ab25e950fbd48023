"""Transitive code hashing: what a task's code hash covers.

:func:`hash_function_code` returns a :class:`CodeHash`: one digest plus the
labelled parts it was made of, so ``redun explain`` can say *which* piece of
code changed. The digest is the hash of the sorted ``(label, digest)`` pairs.

What counts
-----------
``source``
    The function itself, as a normalized AST: ``inspect``-style source lookup,
    ``textwrap.dedent``, ``ast.parse``, the function's own decorators dropped
    (the ``@task(...)`` options are hashed by the task), the docstrings of
    every function and class in it dropped, then ``ast.dump`` without line
    numbers. Comments, docstrings, blank lines and formatting do not count;
    any change to the code does. Without source (a lambda typed at a REPL,
    code built with ``exec``) the bytecode counts instead (``co_code``,
    ``co_consts``, ``co_names``, recursively for nested code).
``helper:mod.qualname``
    A function defined in a *user* module that the code references, by its
    normalized source; its own references are followed in turn (helpers of
    helpers, across user modules, through ``import helpers; helpers.f()`` and
    ``from helpers import f`` alike). Mutual recursion terminates.
``class:mod.qualname``
    A class defined in a user module: its whole body (all methods, class
    decorators kept, docstrings dropped). References made by its methods, its
    user base classes and its user metaclass are followed.
``const:mod.NAME``
    A module-level value the code references (numbers, strings, tuples,
    lists, dicts, sets, enums, compiled regexes, dataclasses, instances of
    user classes, ...) by :func:`redun.hashing.hash_value`. Instances of
    standard-library or third-party classes that are not plain data (a
    logger, a lock, a database engine) count by type name only, as does any
    value that cannot be hashed.
``closure:name``
    A value captured in a closure cell of the function (handled like a global:
    functions become helpers, other values count by value).
``package:distname``
    An installed distribution whose module, function or class the code
    references; the value is the distribution's version, not a digest.

Names are found in the code object's ``co_names`` (and those of nested code
objects: comprehensions, inner functions, lambdas), in the names used by the
function's default-argument expressions, and resolved in the function's
``__globals__``; attribute names (``helpers.f``) are resolved on the user
modules the code references.

What does not count
-------------------
* Other tasks (any object whose type has a truthy ``_redun_task``): calls
  between tasks are tracked by the scheduler, not by code hashing.
* The standard library and built-ins.
* redun itself (``redun``, ``redund``, ``redun_tui``).
* Code reached only dynamically (``getattr(mod, name)`` with a computed
  name, ``importlib.import_module``), and values read from files.
* A global reassigned after the function was first hashed: results are cached
  per function object (and normalized source per code object), so a
  10,000-job run hashes each task once.

Because ``co_names`` also holds attribute names, a global that happens to
share a name with an attribute the code uses (``df.count()`` and a module-
level ``count``) is included too. That costs a spurious re-run at worst, never
a stale cache hit.

A *user* module is one whose file is not in the site-packages directories,
the standard library, or what the interpreter installed under ``sys.prefix``,
``sys.base_prefix`` and ``sys.exec_prefix`` (their ``lib``, ``bin``,
``include``, ``share``... directories), and that is not part of redun;
``__main__`` is a user module.
"""

from __future__ import annotations

import ast
import functools
import linecache
import os
import re
import site
import sys
import sysconfig
import textwrap
import threading
import types
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from redun.errors import HashingError
from redun.hashing import hash_parts, hash_text, hash_value, is_plain_data

__all__ = ["CodeHash", "hash_function_code", "is_user_module", "normalized_source"]


@dataclass(frozen=True)
class CodeHash:
    """The code hash of a function and the labelled parts it covers.

    Attributes:
        digest: 40-hex digest covering every part.
        parts: label -> digest (``package:`` labels map to a version). Shared
            by the cache: treat it as read-only.
    """

    digest: str
    parts: dict[str, str] = field(hash=False)

    def diff(self, other: CodeHash) -> dict[str, tuple[str | None, str | None]]:
        """Return ``label -> (other's value, this value)`` for every part that differs."""
        labels = sorted(self.parts.keys() | other.parts.keys())
        return {
            label: (other.parts.get(label), self.parts.get(label))
            for label in labels
            if other.parts.get(label) != self.parts.get(label)
        }


# --------------------------------------------------------------------------
# Identity caches.

K = TypeVar("K")
V = TypeVar("V")


class _IdentityCache(Generic[K, V]):
    """Map objects to values by identity; an entry goes when its key dies.

    Code objects compare by value (two equal-looking functions from two loads
    of a module are "equal"), so a plain dict would serve a stale entry.
    """

    def __init__(self) -> None:
        self._data: dict[int, tuple[Any, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._data.get(id(key))
        if entry is not None and entry[0]() is key:
            return entry[1]
        return None

    def set(self, key: K, value: V) -> None:
        k = id(key)
        data = self._data

        def forget(ref: Any, k: int = k) -> None:
            entry = data.get(k)
            if entry is not None and entry[0] is ref:
                del data[k]

        try:
            ref: Any = weakref.ref(key, forget)
        except TypeError:  # not weak-referenceable: keep it alive
            ref = _StrongRef(key)
        data[k] = (ref, value)

    def clear(self) -> None:
        self._data.clear()


class _StrongRef:
    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __call__(self) -> Any:
        return self.obj


_CODE_HASHES: _IdentityCache[Any, CodeHash] = _IdentityCache()
_SOURCES: _IdentityCache[types.CodeType, tuple[str, str, tuple[str, ...]]] = _IdentityCache()
_CODE_NAMES: _IdentityCache[types.CodeType, tuple[str, ...]] = _IdentityCache()
_CLASS_INFOS: _IdentityCache[type, tuple[str, tuple[str, ...] | None]] = _IdentityCache()
_MODULE_TREES: dict[str, tuple[list[str], dict[str, list[ast.ClassDef]]]] = {}
_LOCK = threading.RLock()


def clear_caches() -> None:
    """Forget every cached hash (for tests and for long-lived processes)."""
    with _LOCK:
        _CODE_HASHES.clear()
        _SOURCES.clear()
        _CODE_NAMES.clear()
        _CLASS_INFOS.clear()
        _MODULE_TREES.clear()
        _MODULE_KINDS.clear()
        _PACKAGES.clear()


# --------------------------------------------------------------------------
# Module classification.

_USER = "user"
_STDLIB = "stdlib"
_PACKAGE = "package"
_ENGINE = "engine"
_UNKNOWN = "unknown"

_ENGINE_PACKAGES = frozenset({"redun", "redund", "redun_tui"})
_MODULE_KINDS: dict[tuple[str, str | None], str] = {}


def _norm_dir(path: str) -> str:
    return os.path.join(os.path.normcase(os.path.realpath(path)), "")


_PREFIX_SUBDIRS = ("lib", "lib64", "Lib", "DLLs", "include", "Include", "bin", "Scripts", "share")


@functools.cache
def _system_dirs() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(site-packages dirs, stdlib dirs, interpreter prefixes), normalized."""
    paths = sysconfig.get_paths()
    sites = [paths.get("purelib"), paths.get("platlib")]
    try:
        sites.extend(site.getsitepackages())
    except AttributeError:  # some virtualenv builds lack it
        pass
    try:
        sites.append(site.getusersitepackages())
    except AttributeError:
        pass
    stdlib = [paths.get("stdlib"), paths.get("platstdlib")]
    # What an interpreter installs under its prefixes. Not the prefix itself:
    # with a system Python (prefix /usr), /usr/src/app is still user code.
    prefixes = [
        os.path.join(prefix, sub)
        for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
        for sub in _PREFIX_SUBDIRS
    ]

    def norm(items: Iterable[str | None]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_norm_dir(p) for p in items if p))

    return norm(sites), norm(stdlib), norm(prefixes)


def _path_kind(file: str) -> str:
    path = os.path.normcase(os.path.realpath(file))
    sites, stdlib, prefixes = _system_dirs()
    if path.startswith(sites):
        return _PACKAGE
    if path.startswith(stdlib):
        return _STDLIB
    if path.startswith(prefixes):
        return _PACKAGE
    return _USER


def _module_file(module: Any) -> str | None:
    file = getattr(module, "__file__", None)
    if isinstance(file, str) and file:
        return file
    path = getattr(module, "__path__", None)  # a namespace package
    if path is not None:
        for entry in path:
            if isinstance(entry, str) and entry:
                return entry
    return None


def _module_kind(name: str | None, module: Any = None) -> str:
    """Classify a module: user code, stdlib, installed package, redun, unknown."""
    if not name:
        return _UNKNOWN
    if module is None:
        module = sys.modules.get(name)
    file = _module_file(module) if module is not None else None
    key = (name, file)
    kind = _MODULE_KINDS.get(key)
    if kind is not None:
        return kind
    top = name.partition(".")[0]
    if top in _ENGINE_PACKAGES:
        kind = _ENGINE
    elif name == "__main__":
        kind = _USER
    elif file is not None and not (file.startswith("<") and file.endswith(">")):
        kind = _path_kind(file)
    elif top in sys.stdlib_module_names or name in sys.builtin_module_names:
        kind = _STDLIB
    else:
        kind = _UNKNOWN
    _MODULE_KINDS[key] = kind
    return kind


def is_user_module(module_or_name: types.ModuleType | str) -> bool:
    """Return True if a module (or module name) holds the user's own code.

    A user module's file is outside the interpreter's prefixes, its
    site-packages and its standard library, and it is not part of redun;
    ``__main__`` always counts as user code.
    """
    if isinstance(module_or_name, str):
        return _module_kind(module_or_name) == _USER
    return _module_kind(getattr(module_or_name, "__name__", None), module_or_name) == _USER


def _function_kind(fn: types.FunctionType) -> str:
    kind = _module_kind(fn.__module__)
    if kind == _UNKNOWN:
        # A function whose module is not importable (exec'd into a fresh
        # namespace): judge by the file its code came from.
        filename = fn.__code__.co_filename
        if filename and not (filename.startswith("<") and filename.endswith(">")):
            kind = _path_kind(filename)
    return kind


# --------------------------------------------------------------------------
# Installed distributions.

_PACKAGES: dict[str, tuple[tuple[str, str], ...]] = {}


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    import importlib.metadata

    try:
        return dict(importlib.metadata.packages_distributions())
    except Exception:
        return {}


def _distribution_versions(top: str) -> tuple[tuple[str, str], ...]:
    """Return ``((distribution name, version), ...)`` providing module ``top``."""
    cached = _PACKAGES.get(top)
    if cached is not None:
        return cached
    import importlib.metadata  # slow to import: only when a package is referenced

    found: list[tuple[str, str]] = []
    # Fast path: a distribution named like its module (rich, sqlalchemy, ...),
    # unless its top_level.txt says it provides other modules.
    try:
        dist = importlib.metadata.distribution(top)
    except Exception:
        dist = None
    if dist is not None:
        top_level = dist.read_text("top_level.txt")
        if top_level is None or top in top_level.split():
            metadata = dist.metadata  # parsed on each access: read it once
            found.append((metadata["Name"] or top, metadata["Version"] or "unknown"))
    if not found:
        for name in sorted(set(_packages_distributions().get(top, ()))):
            try:
                found.append((name, importlib.metadata.version(name)))
            except Exception:
                found.append((name, "unknown"))
    if not found:
        module = sys.modules.get(top)
        version = getattr(module, "__version__", None)
        found.append((top, str(version) if version is not None else "unknown"))
    result = tuple(found)
    _PACKAGES[top] = result
    return result


# --------------------------------------------------------------------------
# Normalized source.

_DEF_LINE = re.compile(r"^(\s*def\s)|(\s*async\s+def\s)|(.*(?<!\w)lambda(:|\s))|^(\s*@)")
_FUNCTION_NODES = (ast.FunctionDef, ast.AsyncFunctionDef)
_DOC_NODES = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _strip_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, _DOC_NODES):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:]


def _function_blocks(code: types.CodeType, module_globals: dict[str, Any]) -> Iterator[str]:
    """Candidate source texts of a function's definition (decorators included).

    First the lines up to the last line its bytecode spans (cheap), then, if
    that does not parse (a body ending in a multi-line string), the block
    ``inspect`` would find by tokenizing.
    """
    filename = code.co_filename
    if not filename:
        return
    linecache.checkcache(filename)
    lines = linecache.getlines(filename, module_globals)
    if not lines:
        return
    lnum = code.co_firstlineno - 1
    if not 0 <= lnum < len(lines):
        return
    while lnum > 0 and not _DEF_LINE.match(lines[lnum]):
        lnum -= 1
    end = _last_line(code)
    if end > lnum:
        yield "".join(lines[lnum:end])
    import inspect  # slow to import, and rarely needed

    try:
        block = inspect.getblock(lines[lnum:])
    except Exception:
        return
    yield "".join(block)


def _last_line(code: types.CodeType) -> int:
    """The last source line any instruction of ``code`` (or nested code) spans.

    Reading it from ``co_positions()`` is much cheaper than tokenizing the
    source to find the end of the block; 0 when positions are unavailable
    (Python 3.10, ``-X no_debug_ranges``).
    """
    if not hasattr(code, "co_positions"):
        return 0
    last = 0
    stack = [code]
    while stack:
        current = stack.pop()
        for _, end_line, _, _ in current.co_positions():
            if end_line is not None and end_line > last:
                last = end_line
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return last


def _parse_block(text: str) -> list[ast.stmt] | None:
    try:
        return ast.parse(textwrap.dedent(text)).body
    except SyntaxError:
        pass
    if text[:1].isspace():
        # An indented definition holding a string literal that reaches column
        # 0 defeats dedent(); an enclosing block parses it as written.
        try:
            block = ast.parse("if 1:\n" + text).body[0]
        except SyntaxError:
            return None
        return block.body if isinstance(block, ast.If) else None
    return None


def _names_in(nodes: Iterable[ast.AST | None]) -> set[str]:
    """Global names and attribute names an expression may use."""
    names: set[str] = set()
    for root in nodes:
        if root is None:
            continue
        for node in ast.walk(root):
            if isinstance(node, ast.Name):
                names.add(node.id)
            elif isinstance(node, ast.Attribute):
                names.add(node.attr)
    return names


def _code_fingerprint(code: types.CodeType) -> str:
    """Digest of a code object's bytecode, constants and names (no source)."""
    consts = []
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            consts.append(_code_fingerprint(const))
        else:
            try:
                consts.append(hash_value(const))
            except Exception:
                consts.append(hash_text(repr(type(const))))
    return hash_parts(
        code.co_name,
        code.co_code.hex(),
        hash_parts(*consts),
        hash_parts(*code.co_names),
        hash_parts(*code.co_varnames),
        hash_parts(*code.co_freevars),
    )


def _source_info(fn: types.FunctionType) -> tuple[str, str, tuple[str, ...]]:
    """(normalized text, its digest, names used by default arguments), cached."""
    code = fn.__code__
    cached = _SOURCES.get(code)
    if cached is not None:
        return cached
    text: str | None = None
    default_names: tuple[str, ...] = ()
    body = None
    for block in _function_blocks(code, fn.__globals__):
        body = _parse_block(block)
        if body:
            break
    if body:
        top = body[0]
        if isinstance(top, _FUNCTION_NODES):
            if top.name == code.co_name:
                top.decorator_list = []
                args = top.args
                default_names = tuple(sorted(_names_in([*args.defaults, *args.kw_defaults])))
                _strip_docstrings(top)
                text = ast.dump(top, include_attributes=False)
            # else: the file no longer matches the loaded code; use bytecode.
        elif code.co_name == "<lambda>":
            tree = ast.Module(body=body, type_ignores=[])
            _strip_docstrings(tree)
            text = ast.dump(tree, include_attributes=False)
    if text is None:
        text = f"<no source: bytecode {_code_fingerprint(code)}>"
    info = (text, hash_text(text), default_names)
    _SOURCES.set(code, info)
    return info


def _as_function(func: Any) -> types.FunctionType | None:
    """The Python function behind ``func`` (unwrapping methods, decorators)."""
    for _ in range(100):
        if isinstance(func, types.FunctionType):
            wrapped = func.__dict__.get("__wrapped__")
            if callable(wrapped):
                func = wrapped
                continue
            return func
        if getattr(type(func), "_redun_task", False):
            func = getattr(func, "func", None)
        elif isinstance(func, types.MethodType):
            func = func.__func__
        elif isinstance(func, (staticmethod, classmethod)):
            func = func.__func__
        elif isinstance(func, functools.partial):
            func = func.func
        else:
            try:
                wrapped = getattr(func, "__wrapped__", None)
            except Exception:
                wrapped = None
            if wrapped is None or wrapped is func:
                return None
            func = wrapped
    return None


def normalized_source(func: Any) -> str:
    """Return the normalized AST dump of a function (what ``source`` hashes).

    Decorators of the function and all docstrings are dropped, so only code
    counts. Without source, a ``<no source: ...>`` line naming a bytecode
    digest is returned.

    Raises:
        HashingError: ``func`` is not (and does not wrap) a Python function.
    """
    fn = _as_function(func)
    if fn is None:
        raise HashingError(f"cannot read the source of {func!r}: not a Python function")
    return _source_info(fn)[0]


# --------------------------------------------------------------------------
# Classes.


def _module_classes(
    filename: str, module_globals: dict[str, Any] | None
) -> dict[str, list[ast.ClassDef]]:
    """Class definitions of a source file by qualified name (docstrings stripped).

    Parsed once per file version (linecache hands out a new line list when
    the file changes on disk).
    """
    linecache.checkcache(filename)
    lines = linecache.getlines(filename, module_globals)
    if not lines:
        return {}
    cached = _MODULE_TREES.get(filename)
    if cached is not None and cached[0] is lines:
        return cached[1]
    index: dict[str, list[ast.ClassDef]] = {}
    try:
        tree = ast.parse("".join(lines))
    except SyntaxError:
        pass
    else:
        _strip_docstrings(tree)  # once: the cached nodes are never stripped again
        stack: list[tuple[ast.AST, str]] = [(tree, "")]
        while stack:
            node, prefix = stack.pop()
            for child in _child_defs(node):
                qualname = prefix + child.name
                if isinstance(child, ast.ClassDef):
                    index.setdefault(qualname, []).append(child)
                    stack.append((child, qualname + "."))
                else:
                    stack.append((child, qualname + ".<locals>."))
    _MODULE_TREES[filename] = (lines, index)
    return index


def _child_defs(node: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef]:
    """Function and class definitions directly in ``node``'s body (through if/try/with)."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield child
        elif isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
            stack.extend(ast.iter_child_nodes(child))


def _class_lines(cls: type, filename: str) -> list[int]:
    """First lines of the class's methods defined in ``filename``."""
    linenos = []
    for attr in vars(cls).values():
        fn = _as_function(attr)
        if fn is not None and fn.__code__.co_filename == filename:
            linenos.append(fn.__code__.co_firstlineno)
    return linenos


def _class_node(cls: type) -> ast.ClassDef | None:
    module = sys.modules.get(cls.__module__)
    filename = getattr(module, "__file__", None) if module is not None else None
    if not filename:
        return None
    index = _module_classes(filename, getattr(module, "__dict__", None))
    classes = sorted(index.get(cls.__qualname__, ()), key=lambda node: node.lineno)
    if len(classes) > 1:
        linenos = _class_lines(cls, filename)
        inside = [
            node
            for node in classes
            if any(node.lineno <= n <= (node.end_lineno or node.lineno) for n in linenos)
        ]
        classes = inside or classes[-1:]
    return classes[0] if classes else None


def _class_info(cls: type) -> tuple[str, tuple[str, ...] | None]:
    """(digest of the class body, names its source uses or None without source)."""
    cached = _CLASS_INFOS.get(cls)
    if cached is not None:
        return cached
    node = _class_node(cls)
    names: tuple[str, ...] | None = None
    if node is not None:
        text = ast.dump(node, include_attributes=False)
        names = tuple(sorted(_names_in([node])))
    else:
        parts = [cls.__qualname__]
        for name in sorted(vars(cls)):
            fn = _as_function(vars(cls)[name])
            if fn is not None:
                parts.extend((name, _code_fingerprint(fn.__code__)))
        text = f"<no source: {hash_parts(*parts)}>"
    info = (hash_text(text), names)
    _CLASS_INFOS.set(cls, info)
    return info


# --------------------------------------------------------------------------
# The walk.


def _type_name(t: type) -> str:
    return f"{t.__module__}.{t.__qualname__}"


def _code_names(code: types.CodeType) -> tuple[str, ...]:
    """Sorted ``co_names`` of a code object and all code nested in it."""
    cached = _CODE_NAMES.get(code)
    if cached is not None:
        return cached
    names: set[str] = set()
    stack = [code]
    while stack:
        current = stack.pop()
        names.update(current.co_names)
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    result = tuple(sorted(names))
    _CODE_NAMES.set(code, result)
    return result


class _Walker:
    """One transitive walk from a root function, collecting labelled parts."""

    def __init__(self, root: types.FunctionType) -> None:
        self.root = root
        self.parts: dict[str, set[str]] = {}
        self.seen: set[int] = {id(root)}
        self.seen_attrs: set[tuple[int, str]] = set()
        self.keep: list[Any] = [root]  # ids in `seen` must stay unique
        # Work left: functions whose names to scan, classes whose body to
        # follow. A stack, not recursion: helper chains can be long.
        self.todo: list[types.FunctionType | type] = []

    def add(self, label: str, digest: str) -> None:
        self.parts.setdefault(label, set()).add(digest)

    def first_visit(self, obj: Any) -> bool:
        key = id(obj)
        if key in self.seen:
            return False
        self.seen.add(key)
        self.keep.append(obj)
        return True

    def run(self) -> dict[str, str]:
        root = self.root
        self.add("source", _source_info(root)[1])
        self.scan(root, is_root=True)
        while self.todo:
            item = self.todo.pop()
            if isinstance(item, type):
                self.follow_class(item)
            else:
                self.scan(item, is_root=False)
        parts = {}
        for label, digests in self.parts.items():
            if len(digests) == 1:
                parts[label] = next(iter(digests))
            else:  # two objects share a label (closures from one factory)
                parts[label] = hash_parts(*sorted(digests))
        return parts

    def scan(self, fn: types.FunctionType, *, is_root: bool) -> None:
        """Resolve the names a function's code uses."""
        code = fn.__code__
        g = fn.__globals__
        home = g.get("__name__") or fn.__module__ or "?"
        names = _code_names(code)
        default_names = _source_info(fn)[2]
        if default_names:
            names = tuple(sorted(set(names).union(default_names)))
        for name in names:
            if name in g:
                self.resolve(g[name], home, name, names, None)
        closure = fn.__closure__
        if closure:
            prefix = "closure:" if is_root else f"closure:{fn.__module__}.{fn.__qualname__}."
            for var, cell in zip(code.co_freevars, closure):
                try:
                    value = cell.cell_contents
                except ValueError:  # an empty cell
                    continue
                self.resolve(value, home, var, names, prefix + var)

    def resolve(
        self, obj: Any, home: str, name: str, names: tuple[str, ...], label: str | None
    ) -> None:
        """Account for one object a name resolved to."""
        t = type(obj)
        if getattr(t, "_redun_task", False):
            return  # task-to-task calls are tracked by the scheduler
        if isinstance(obj, types.ModuleType):
            self.module(obj, names)
        elif isinstance(obj, type):
            self.cls(obj)
        elif isinstance(obj, types.FunctionType):
            self.function(obj)
        elif isinstance(obj, types.MethodType):
            self.resolve(obj.__func__, home, name, names, None)
            self.resolve(obj.__self__, home, name, names, label)
        elif isinstance(obj, (types.BuiltinFunctionType, types.MethodWrapperType)):
            self_ = getattr(obj, "__self__", None)
            if self_ is not None and not isinstance(self_, types.ModuleType):
                self.resolve(self_, home, name, names, label)
            else:
                self.package(getattr(obj, "__module__", None))
        else:
            fn = None if is_plain_data(obj) else _as_function(obj)
            if fn is not None:  # lru_cache and other wrappers of a function
                self.function(fn)
                if _module_kind(t.__module__) == _USER:
                    self.cls(t)  # a user-defined wrapper class
                if not isinstance(obj, functools.partial):
                    return
            self.const(obj, label or f"const:{home}.{name}")

    def module(self, module: types.ModuleType, names: tuple[str, ...]) -> None:
        kind = _module_kind(getattr(module, "__name__", None), module)
        if kind == _USER:
            namespace = vars(module)
            key = id(module)
            for attr in names:
                if attr in namespace and (key, attr) not in self.seen_attrs:
                    self.seen_attrs.add((key, attr))
                    self.resolve(namespace[attr], module.__name__, attr, names, None)
        elif kind == _PACKAGE:
            self.package(module.__name__)

    def function(self, fn: types.FunctionType) -> None:
        unwrapped = _as_function(fn) or fn
        if not self.first_visit(unwrapped):
            return
        kind = _function_kind(unwrapped)
        if kind == _USER:
            label = f"helper:{unwrapped.__module__}.{unwrapped.__qualname__}"
            self.add(label, _source_info(unwrapped)[1])
            self.todo.append(unwrapped)
        elif kind == _PACKAGE:
            self.package(unwrapped.__module__)

    def cls(self, cls: type) -> None:
        if not self.first_visit(cls):
            return
        kind = _module_kind(cls.__module__)
        if kind == _PACKAGE:
            self.package(cls.__module__)
        elif kind == _USER:
            self.add(f"class:{_type_name(cls)}", _class_info(cls)[0])
            self.todo.append(cls)

    def follow_class(self, cls: type) -> None:
        """Follow what a user class's body uses, its bases and metaclass."""
        names = _class_info(cls)[1]
        module = sys.modules.get(cls.__module__)
        if names is not None and module is not None:
            # Every name in the class body (methods, defaults, decorators,
            # class attributes) that is a global of its module.
            namespace = vars(module)
            for name in names:
                if name in namespace:
                    self.resolve(namespace[name], cls.__module__, name, names, None)
        else:
            self.methods(cls)
        for base in cls.__bases__:
            if base is not object:
                self.cls(base)
        meta = type(cls)
        if meta is not type:
            self.cls(meta)

    def methods(self, cls: type) -> None:
        """Scan the names used by a class's methods (for classes without source)."""
        for attr in list(vars(cls).values()):
            if isinstance(attr, property):
                members: list[Any] = [attr.fget, attr.fset, attr.fdel]
            else:
                members = [attr]
            for member in members:
                if isinstance(member, type):
                    self.cls(member)  # a nested class
                    continue
                if member is None or is_plain_data(member):
                    continue
                fn = _as_function(member)
                if fn is not None and self.first_visit(fn):
                    self.todo.append(fn)  # its names count; its source is the class's

    def package(self, module_name: str | None) -> None:
        if not module_name or _module_kind(module_name) != _PACKAGE:
            return
        for dist, version in _distribution_versions(module_name.partition(".")[0]):
            self.parts.setdefault(f"package:{dist}", set()).add(version)

    def const(self, obj: Any, label: str) -> None:
        t = type(obj)
        kind = _module_kind(t.__module__)
        if kind == _ENGINE:
            return  # an instance of a redun class: the engine, not user code
        if kind == _USER:
            self.cls(t)
            digest = _guarded_hash(obj)
        elif is_plain_data(obj) or isinstance(obj, functools.partial):
            digest = _guarded_hash(obj)  # a partial: its function's name and arguments
        else:
            if kind == _PACKAGE:
                self.package(t.__module__)
            digest = hash_text(f"type:{_type_name(t)}")
        self.add(label, digest)


def _guarded_hash(obj: Any) -> str:
    """hash_value(obj), or the type name when the value cannot be hashed."""
    if isinstance(obj, re.Pattern):
        return hash_value((obj.pattern, obj.flags))
    try:
        return hash_value(obj)
    except Exception:  # an unhashable global must not break task hashing
        return hash_text(f"type:{_type_name(type(obj))}")


def _digest_parts(parts: dict[str, str]) -> str:
    flat: list[str] = []
    for label in sorted(parts):
        flat.append(label)
        flat.append(parts[label])
    return hash_parts(*flat)


def hash_function_code(func: Any) -> CodeHash:
    """Return the transitive code hash of a function (see the module docstring).

    Cached per function object: hashing the same function again is a lookup.

    Raises:
        HashingError: ``func`` is not (and does not wrap) a Python function.
    """
    cached = _CODE_HASHES.get(func)
    if cached is not None:
        return cached
    with _LOCK:
        cached = _CODE_HASHES.get(func)
        if cached is not None:
            return cached
        fn = _as_function(func)
        if fn is None:
            if isinstance(func, (types.BuiltinFunctionType, types.MethodDescriptorType)):
                module = getattr(func, "__module__", None) or ""
                name = f"{module}.{getattr(func, '__qualname__', func.__name__)}"
                parts = {"source": hash_text(f"<builtin {name}>")}
                result = CodeHash(_digest_parts(parts), parts)
                _CODE_HASHES.set(func, result)
                return result
            raise HashingError(f"cannot hash the code of {func!r}: not a Python function")
        known = _CODE_HASHES.get(fn)
        if known is None:
            parts = _Walker(fn).run()
            known = CodeHash(_digest_parts(parts), parts)
            _CODE_HASHES.set(fn, known)
        result = known
        if fn is not func:
            _CODE_HASHES.set(func, result)
        return result
