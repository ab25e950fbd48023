"""Class bodies: what the ``class:`` parts of a code hash cover.

A user class counts by its whole body (all methods, class decorators kept,
docstrings dropped), found by parsing its module's source file once per file
version; without source, by the bytecode of its methods.
"""

from __future__ import annotations

import ast
import linecache
import sys
from collections.abc import Iterator
from typing import Any

from redun.codehash.cache import _CLASS_INFOS, _MODULE_TREES
from redun.codehash.source import _as_function, _code_fingerprint, _names_in, _strip_docstrings
from redun.hashing import hash_parts, hash_text


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
