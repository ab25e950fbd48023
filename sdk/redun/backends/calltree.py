"""Reading recorded call trees, once per process.

A call hash covers the task hash, the argument hashes, the result hash and the
child calls' hashes: the tree below a recorded call, and which of its
arguments need a validity check, can never change. So a tree is read with one
query (nodes, edges and the checked arguments together) and kept: the later
questions of the same run about it (the files passed to calls below, the
files a cached job stands for) are answered without walking it in the
database again. Only what was read is kept; a node that was not recorded when
asked is asked for again.

Files live only in values that need a validity check (the recorder writes a
``redun_file`` row only for a value whose walk found files, and marks that
value ``needs_check``); :meth:`CallTrees.files` relies on it to look only at
those values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from redun.backends.base import CallRecord

# Nodes (kind 0), edges (kind 1) and arguments that need a check (kind 2) of the trees
# below :roots, in one statement (the tree is walked once).
TREE_SQL = (
    "WITH RECURSIVE tree(h) AS ("
    " SELECT call_hash FROM redun_call_node WHERE call_hash IN :roots"
    " UNION SELECT e.child_call_hash FROM redun_call_edge e"
    " JOIN tree t ON e.parent_call_hash = t.h) "
    "SELECT 0, c.call_hash, c.task_name, c.task_hash, c.args_hash, c.eval_hash,"
    " c.result_hash, c.result_needs_check, c.expr_hash, c.cacheable, c.context_reads, NULL"
    " FROM tree JOIN redun_call_node c ON c.call_hash = tree.h"
    " UNION ALL SELECT 1, e.parent_call_hash, e.child_call_hash,"
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, e.position"
    " FROM tree JOIN redun_call_edge e ON e.parent_call_hash = tree.h"
    " UNION ALL SELECT 2, a.call_hash, a.value_hash,"
    " NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
    " FROM tree JOIN redun_argument a ON a.call_hash = tree.h"
    " JOIN redun_value v ON v.hash = a.value_hash WHERE v.needs_check"
)

FILES_SQL = "SELECT path, kind FROM redun_file WHERE value_hash IN :hashes"
SUBVALUE_FILES_SQL = (
    "WITH RECURSIVE sub(v) AS ("
    " SELECT child_hash FROM redun_subvalue WHERE parent_hash IN :hashes"
    " UNION SELECT s.child_hash FROM redun_subvalue s JOIN sub ON s.parent_hash = sub.v) "
    "SELECT DISTINCT f.path, f.kind FROM sub JOIN redun_file f ON f.value_hash = sub.v"
)

QueryIn = Callable[[str, str, Sequence[Any]], list[Any]]


def call_record(
    call_hash: str,
    task_name: str,
    task_hash: str,
    args_hash: str,
    eval_hash: str,
    result_hash: str,
    needs_check: Any,
    expr_hash: str | None,
    cacheable: Any,
    context_reads: str | None,
) -> CallRecord:
    """A ``redun_call_node`` row as a record (SQLite gives its flags as 0/1/NULL)."""
    return CallRecord(
        call_hash,
        task_name,
        task_hash,
        args_hash,
        eval_hash,
        result_hash,
        result_needs_check=None if needs_check is None else bool(needs_check),
        expr_hash=expr_hash,
        cacheable=cacheable is None or bool(cacheable),
        context_reads=context_reads,
    )


class CallTrees:
    """The call trees this process read, by call hash (see the module doc).

    Args:
        query_in: runs a statement once per chunk of items bound to a name, rows joined.
    """

    def __init__(self, query_in: QueryIn) -> None:
        self._query_in = query_in
        self.nodes: dict[str, CallRecord] = {}
        self.checked: dict[str, list[str]] = {}  # call hash -> argument values to check

    def clear(self) -> None:
        self.nodes.clear()
        self.checked.clear()

    def tree(self, roots: list[str]) -> dict[str, CallRecord]:
        """The given calls and all their descendants (those recorded), by call hash."""
        nodes = self.nodes
        return {h: nodes[h] for h in self._known(roots)}

    def checked_arguments(self, roots: list[str]) -> dict[str, list[str]]:
        """For each call below ``roots``, its argument values that need a check."""
        checked = self.checked
        return {h: checked[h] for h in self._known(roots) if h in checked}

    def files(self, roots: list[str], values: Sequence[str] = ()) -> set[tuple[str, str]]:
        """``(path, kind)`` pairs of the files in the arguments and results below ``roots``,
        and in ``values`` (the checked values of other trees, known without reading them)."""
        known = self._known(roots) if roots else set()
        nodes, checked = self.nodes, self.checked
        wanted: set[str] = set(values)
        for call_hash in known:
            record = nodes[call_hash]
            if record.result_needs_check is not False:
                wanted.add(record.result_hash)
            wanted.update(checked.get(call_hash, ()))
        if not wanted:
            return set()
        hashes = sorted(wanted)
        rows = self._query_in(FILES_SQL, "hashes", hashes)
        rows += self._query_in(SUBVALUE_FILES_SQL, "hashes", hashes)
        return {(path, kind) for path, kind in rows}

    def _known(self, roots: list[str]) -> set[str]:
        """Every recorded call below ``roots``, read from the database unless all were."""
        known = self._below(roots, complete=True)
        if known is None:
            self._read(roots)
            # A call below that was never recorded is left out: what was, counts.
            known = self._below(roots, complete=False)
        assert known is not None
        return known

    def _below(self, roots: list[str], *, complete: bool) -> set[str] | None:
        """The calls below ``roots`` already read (None if ``complete`` and one was not)."""
        nodes = self.nodes
        seen: set[str] = set()
        stack = list(roots)
        while stack:
            call_hash = stack.pop()
            if call_hash in seen:
                continue
            record = nodes.get(call_hash)
            if record is None:
                if complete:
                    return None
                continue
            seen.add(call_hash)
            stack.extend(record.child_call_hashes)
        return seen

    def _read(self, roots: list[str]) -> None:
        nodes, checked = self.nodes, self.checked
        edges: dict[str, dict[int, str]] = {}
        args: dict[str, set[str]] = {}
        for (
            kind,
            call_hash,
            second,
            task_hash,
            args_hash,
            eval_hash,
            result_hash,
            check,
            expr_hash,
            cacheable,
            context_reads,
            position,
        ) in self._query_in(TREE_SQL, "roots", roots):
            if kind == 0:
                if call_hash not in nodes:
                    nodes[call_hash] = call_record(
                        call_hash,
                        second,
                        task_hash,
                        args_hash,
                        eval_hash,
                        result_hash,
                        check,
                        expr_hash,
                        cacheable,
                        context_reads,
                    )
            elif kind == 1:
                edges.setdefault(call_hash, {})[position] = second
            else:
                args.setdefault(call_hash, set()).add(second)
        for parent, children in edges.items():
            record = nodes.get(parent)
            if record is not None:
                record.child_call_hashes = tuple(children[p] for p in sorted(children))
        for call_hash, values in args.items():
            checked[call_hash] = sorted(values)
