"""Normalized source: what the ``source`` and ``helper:`` parts of a code hash cover.

A function counts as a normalized AST: ``inspect``-style source lookup,
``textwrap.dedent``, ``ast.parse``, the function's own decorators dropped
(the ``@task(...)`` options are hashed by the task), the docstrings of every
function and class in it dropped, then ``ast.dump`` without line numbers.
Without source (a lambda typed at a REPL, code built with ``exec``) the
bytecode counts instead (``co_code``, ``co_consts``, ``co_names``,
recursively for nested code).
"""

from __future__ import annotations

import ast
import functools
import linecache
import re
import textwrap
import types
from collections.abc import Iterable, Iterator
from typing import Any

from redun.codehash.cache import _SOURCES
from redun.errors import HashingError
from redun.hashing import hash_parts, hash_text, hash_value

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


def _source_info(fn: types.FunctionType) -> tuple[str | None, str, tuple[str, ...]]:
    """(normalized text, its digest, names used by default arguments), cached.

    Cached per code object, and on disk per source file (:mod:`.disk`): from
    there the text is not known (None); :func:`normalized_source` recomputes it.
    """
    code = fn.__code__
    cached = _SOURCES.get(code)
    if cached is not None:
        return cached
    from redun.codehash import disk

    stored, token = disk.lookup(code)
    if stored is not None:
        info: tuple[str | None, str, tuple[str, ...]] = (None, stored[0], stored[1])
    else:
        computed = _compute_source_info(fn)
        if not computed[0].startswith(_NO_SOURCE):
            disk.store(code, token, computed[1], computed[2])
        info = computed
    _SOURCES.set(code, info)
    return info


_NO_SOURCE = "<no source: "


def _compute_source_info(fn: types.FunctionType) -> tuple[str, str, tuple[str, ...]]:
    code = fn.__code__
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
        text = f"{_NO_SOURCE}bytecode {_code_fingerprint(code)}>"
    return text, hash_text(text), default_names


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
    text = _source_info(fn)[0]
    return text if text is not None else _compute_source_info(fn)[0]
