"""Lineage: walk the recorded call graph from a value or a file, up and/or down.

Upstream from a value: the calls that returned it, then their arguments, and
so on; downstream: the calls that took it as an argument, then their results.
Reads the database only (through :class:`~redund.store.Store`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from redun.backends import schema
from redund.errors import NotFoundError
from redund.model import ValuePreview
from redund.store import Store

DEFAULT_DEPTH = 3
MAX_NODES = 2000
UPSTREAM, DOWNSTREAM, BOTH = "upstream", "downstream", "both"


@dataclass(slots=True)
class LineageNode:
    id: str
    kind: str  # "value" | "file" | "call"
    label: str
    value: ValuePreview | None = None
    task: str = ""
    job_id: str = ""
    truncated: bool = False


@dataclass(slots=True)
class LineageEdge:
    source_id: str
    target_id: str
    kind: str  # "argument" | "result" | "child_call"
    name: str = ""


@dataclass(slots=True)
class LineageGraph:
    root_id: str
    nodes: list[LineageNode] = field(default_factory=list)
    edges: list[LineageEdge] = field(default_factory=list)


def direction_from_pb(value: int) -> str:
    return {1: UPSTREAM, 2: DOWNSTREAM}.get(value, BOTH)


def _is_file(preview: ValuePreview | None) -> bool:
    return preview is not None and preview.type_name.rsplit(".", 1)[-1] in ("File", "Dir")


def walk(store: Store, start: tuple[str, str], *, direction: str, depth: int) -> LineageGraph:
    """The lineage graph around ``start`` (("value", hash) or ("file", path)).

    Raises:
        NotFoundError: the value or file was never recorded.
    """
    kind, key = start
    root = _file_value(store, key) if kind == "file" else key
    preview = store.value_preview(root) if root else None
    if preview is None:
        what = f"file {key!r}" if kind == "file" else f"value {key!r}"
        raise NotFoundError(f"no recorded {what}")
    graph = LineageGraph(root_id=root)
    nodes: dict[str, LineageNode] = {}
    edges: set[tuple[str, str, str, str]] = set()
    _add_value(nodes, root, preview)
    call_node, argument = schema.call_node, schema.argument
    frontier = [(root, 0)]
    seen_values = {root}
    while frontier:
        value_hash, level = frontier.pop(0)
        if level >= depth or len(nodes) >= MAX_NODES:
            nodes[value_hash].truncated = True
            continue
        calls: list[tuple[str, str, str]] = []  # (call hash, task, way)
        if direction in (UPSTREAM, BOTH):
            for call_hash, task in store._rows(
                sa.select(call_node.c.call_hash, call_node.c.task_name).where(
                    call_node.c.result_hash == value_hash
                )
            ):
                edges.add((call_hash, value_hash, "result", ""))
                calls.append((call_hash, task, UPSTREAM))
        if direction in (DOWNSTREAM, BOTH):
            for call_hash, name, task in store._rows(
                sa.select(argument.c.call_hash, argument.c.name, call_node.c.task_name)
                .select_from(
                    argument.join(call_node, call_node.c.call_hash == argument.c.call_hash)
                )
                .where(argument.c.value_hash == value_hash)
            ):
                edges.add((value_hash, call_hash, "argument", name))
                calls.append((call_hash, task, DOWNSTREAM))
        for call_hash, task, way in calls:
            if call_hash not in nodes:
                nodes[call_hash] = LineageNode(call_hash, "call", task, task=task)
            if way == UPSTREAM:
                rows = store._rows(
                    sa.select(argument.c.value_hash, argument.c.name).where(
                        argument.c.call_hash == call_hash
                    )
                )
                for arg_hash, name in rows:
                    edges.add((arg_hash, call_hash, "argument", name))
                    if arg_hash not in seen_values:
                        seen_values.add(arg_hash)
                        _add_value(nodes, arg_hash, store.value_preview(arg_hash))
                        frontier.append((arg_hash, level + 1))
            else:
                rows = store._rows(
                    sa.select(call_node.c.result_hash).where(call_node.c.call_hash == call_hash)
                )
                for (result_hash,) in rows:
                    edges.add((call_hash, result_hash, "result", ""))
                    if result_hash not in seen_values:
                        seen_values.add(result_hash)
                        _add_value(nodes, result_hash, store.value_preview(result_hash))
                        frontier.append((result_hash, level + 1))
    _attach_jobs(store, nodes)
    graph.nodes = list(nodes.values())
    graph.edges = [
        LineageEdge(*edge) for edge in sorted(edges) if edge[0] in nodes and edge[1] in nodes
    ]
    return graph


def _add_value(
    nodes: dict[str, LineageNode], value_hash: str, preview: ValuePreview | None
) -> None:
    label = preview.repr if preview is not None else value_hash[:12]
    kind = "file" if _is_file(preview) else "value"
    nodes[value_hash] = LineageNode(value_hash, kind, label[:80], value=preview)


def _attach_jobs(store: Store, nodes: dict[str, LineageNode]) -> None:
    calls = [node.id for node in nodes.values() if node.kind == "call"]
    if not calls:
        return
    job = schema.job
    for job_id, call_hash in store._rows(
        sa.select(job.c.id, job.c.call_hash)
        .where(job.c.call_hash.in_(calls))
        .order_by(job.c.end_time)
    ):
        nodes[call_hash].job_id = job_id


def _same_file(recorded: str, wanted: str) -> bool:
    """Whether a recorded path (absolute, or relative to its run's directory) names ``wanted``."""
    if recorded.startswith("/"):
        return recorded == wanted
    return wanted == recorded or wanted.endswith("/" + recorded.removeprefix("./"))


def _file_value(store: Store, path: str) -> str:
    """The hash of the newest recorded File/Dir value for ``path`` ("" if none)."""
    import os
    import re

    wanted = os.path.abspath(path)
    base = os.path.basename(wanted.rstrip("/")) or wanted
    hashes: list[str] = []
    files = getattr(schema, "file", None)  # the file table, where the schema has one
    if files is not None:
        for value_hash, recorded in store._rows(
            sa.select(files.c.value_hash, files.c.path).where(files.c.path.like(f"%{base}"))
        ):
            if _same_file(recorded, wanted):
                hashes.append(value_hash)
    if not hashes:
        value = schema.value
        pattern = re.compile(r"\((?:path|pattern)=(.*?)(?:/\*\*)?, hash=")
        for value_hash, preview in store._rows(
            sa.select(value.c.hash, value.c.preview).where(value.c.preview.like(f"%{base}%"))
        ):
            match = pattern.search(preview or "")
            if match and _same_file(match.group(1), wanted):
                hashes.append(value_hash)
    if not hashes:
        return ""
    call_node, argument = schema.call_node, schema.argument
    rows = store._rows(
        sa.select(call_node.c.result_hash, sa.func.max(call_node.c.time))
        .where(call_node.c.result_hash.in_(hashes))
        .group_by(call_node.c.result_hash)
        .order_by(sa.func.max(call_node.c.time).desc())
    )
    if rows:
        return rows[0][0]
    rows = store._rows(
        sa.select(argument.c.value_hash, sa.func.max(call_node.c.time))
        .select_from(argument.join(call_node, call_node.c.call_hash == argument.c.call_hash))
        .where(argument.c.value_hash.in_(hashes))
        .group_by(argument.c.value_hash)
        .order_by(sa.func.max(call_node.c.time).desc())
    )
    return rows[0][0] if rows else hashes[0]
