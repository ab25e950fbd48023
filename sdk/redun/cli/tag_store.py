"""Tags in the store: find entities by tag, add and remove tags (``redun tag``, ``redun log --tag``)."""

from __future__ import annotations

import json
from typing import Any

from redun.errors import UsageError
from redun.tags import ANY_VALUE

ENTITY_KINDS = ("execution", "job", "value", "task")


def _value_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def find_tagged(
    backend: Any, tags: list[tuple[str, Any]], kind: str | None = None
) -> list[tuple[str, str]]:
    """``(entity kind, entity id)`` carrying every one of ``tags`` (``ANY_VALUE`` matches any)."""
    found: set[tuple[str, str]] | None = None
    for key, value in tags:
        sql = "SELECT entity_type, entity_id FROM redun_tag WHERE key = :key"
        params: dict[str, Any] = {"key": key}
        if value is not ANY_VALUE:
            sql += " AND value = :value"
            params["value"] = _value_text(value)
        if kind is not None:
            sql += " AND entity_type = :kind"
            params["kind"] = kind
        rows = {(str(row[0]), str(row[1])) for row in backend.query(sql, **params)}
        found = rows if found is None else found & rows
    return sorted(found or ())


def tag_counts(
    backend: Any, tags: list[tuple[str, Any]], kind: str | None = None, by_value: bool = False
) -> list[tuple[str, list[tuple[str, int]]]]:
    """``(key, or key=value with by_value, [(entity kind, how many), ...])``, sorted; only
    the keys in ``tags`` when given (a value there narrows to that pair)."""
    from redun.tags import format_tag_key_value

    group = "key, value, entity_type" if by_value else "key, entity_type"
    shown = group if by_value else "key, '', entity_type"
    sql = f"SELECT {shown}, COUNT(*) FROM redun_tag WHERE key != ''"
    params: dict[str, Any] = {}
    if kind is not None:
        sql += " AND entity_type = :kind"
        params["kind"] = kind
    if tags:
        alternatives = []
        for index, (key, value) in enumerate(tags):
            params[f"k{index}"] = key
            if value is ANY_VALUE:
                alternatives.append(f"key = :k{index}")
            else:
                alternatives.append(f"(key = :k{index} AND value = :v{index})")
                params[f"v{index}"] = _value_text(value)
        sql += " AND (" + " OR ".join(alternatives) + ")"
    sql += f" GROUP BY {group}"
    grouped: dict[str, list[tuple[str, int]]] = {}
    for key, text, entity_type, count in backend.query(sql, **params):
        label = str(key)
        if by_value:
            try:
                label = format_tag_key_value(str(key), json.loads(text))
            except ValueError:
                label = f"{key}={text}"
        grouped.setdefault(label, []).append((str(entity_type), int(count)))
    return [(label, sorted(per_kind)) for label, per_kind in sorted(grouped.items())]


def tags_of(
    backend: Any, entities: list[tuple[str, str]]
) -> dict[tuple[str, str], list[tuple[str, Any]]]:
    """The tags of each ``(kind, id)``, sorted by key."""
    result: dict[tuple[str, str], list[tuple[str, Any]]] = {entity: [] for entity in entities}
    ids = sorted({entity_id for _, entity_id in entities})
    if not ids:
        return result
    rows = backend.query_in(
        "SELECT entity_type, entity_id, key, value FROM redun_tag WHERE entity_id IN :ids",
        "ids",
        ids,
    )
    for kind, entity_id, key, text in rows:
        entry = result.get((kind, entity_id))
        if entry is None:
            continue
        try:
            entry.append((key, json.loads(text)))
        except ValueError:
            entry.append((key, text))
    for entry in result.values():
        entry.sort(key=lambda item: (item[0], str(item[1])))
    return result


def resolve_entity(backend: Any, prefix: str) -> tuple[str, str]:
    """The one execution, job, value or task whose id starts with ``prefix``."""
    from redun.backends.queries import StoreReader

    matches = [
        (kind, full) for kind, full in StoreReader(backend).find_id(prefix) if kind in ENTITY_KINDS
    ]
    if not matches:
        raise UsageError(f"no execution, job, value or task with id {prefix!r}")
    if len(matches) > 1:
        listing = ", ".join(f"{kind} {full[:12]}" for kind, full in matches)
        raise UsageError(f"{prefix!r} is ambiguous: {listing}; give more characters")
    return matches[0]


def add_tags(backend: Any, kind: str, entity_id: str, tags: list[tuple[str, Any]]) -> None:
    backend.record_tags(kind, entity_id, tags)


def remove_tags(backend: Any, kind: str, entity_id: str, tags: list[tuple[str, Any]]) -> int:
    """Delete the given tags (a key alone deletes every value); returns how many went."""
    from sqlalchemy import text

    removed = 0
    with backend.engine.begin() as conn:
        for key, value in tags:
            sql = (
                "DELETE FROM redun_tag WHERE entity_type = :kind AND entity_id = :id AND key = :key"
            )
            params: dict[str, Any] = {"kind": kind, "id": entity_id, "key": key}
            if value is not ANY_VALUE:
                sql += " AND value = :value"
                params["value"] = _value_text(value)
            removed += conn.execute(text(sql), params).rowcount or 0
    return removed
