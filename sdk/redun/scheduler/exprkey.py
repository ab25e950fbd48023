"""The key under which a scheduler expression is evaluated once per parent job.

An expression's hash covers the hashes of the expressions in its arguments,
computed by recursion (``get_hash`` of one asks ``get_hash`` of the next), so a
chain thousands of expressions deep raises ``RecursionError``. Hashes are
cached on the expressions, though: hashing the sub-expressions deepest first,
with an explicit stack, leaves each ``get_hash`` one level to go.
"""

from __future__ import annotations

from typing import Any

from redun.expression import ApplyExpression, Expression, ValueExpression
from redun.nested import ATOMS, Kind, children, kind_of


def expression_key(expr: Expression) -> str | int:
    """``expr``'s hash; its identity when it holds something that cannot be hashed."""
    try:
        return expr.get_hash()
    except RecursionError:
        pass
    except Exception:
        return id(expr)
    try:
        for sub in _deepest_first(expr):
            sub.get_hash()
        return expr.get_hash()
    except Exception:
        # Still too deep (an expression inside an object hashed by its state), or not
        # hashable: this very object is still evaluated once.
        return id(expr)


def _deepest_first(expr: Expression) -> list[Expression]:
    """The expressions inside ``expr`` (and itself), each after those inside it."""
    order: list[Expression] = []
    seen: set[int] = set()
    stack: list[tuple[Expression, bool]] = [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen or node._hash is not None:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for sub in _direct_subexpressions(node):
            if id(sub) not in seen and sub._hash is None:
                stack.append((sub, False))
    return order


def _direct_subexpressions(expr: Expression) -> list[Expression]:
    """The expressions in ``expr``'s arguments (or value), not looking inside them."""
    if isinstance(expr, ApplyExpression):
        pending: list[Any] = [expr.args, expr.kwargs]
    elif isinstance(expr, ValueExpression):
        pending = [expr.value]
    else:
        return []
    found: list[Expression] = []
    visited: set[int] = set()
    while pending:
        value = pending.pop()
        if type(value) in ATOMS:
            continue
        if isinstance(value, Expression):
            found.append(value)
            continue
        if id(value) in visited:
            continue
        visited.add(id(value))
        kind = kind_of(value)
        if kind != Kind.LEAF:
            pending.extend(children(value, kind))
    return found
