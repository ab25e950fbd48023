"""``query('prefix')``: a record of the store by the start of its id or hash.

As redun's ``infer_id``, for ``redun repl`` and Python scripts::

    from redun.backends.orm_lookup import find_record
    find_record(scheduler.backend.session, "3f2a").task.source
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from redun.backends.orm import Base, CallNode, Execution, Job, Task, Value
from redun.errors import UsageError

# What query('prefix') looks through, in this order.
_KINDS: tuple[tuple[type[Base], Any, str], ...] = (
    (Execution, Execution.id, "Execution"),
    (Job, Job.id, "Job"),
    (CallNode, CallNode.call_hash, "CallNode"),
    (Task, Task.hash, "Task"),
    (Value, Value.value_hash, "Value"),
)


def find_record(session: Session, prefix: str) -> Any:
    """The Execution, Job, CallNode, Task or Value whose id or hash starts with ``prefix``.

    ``-`` is the latest execution, ``~2`` the one before it (as in redun).

    Raises:
        UsageError: nothing starts with ``prefix``, or more than one record does
            (the message lists them; give more characters).
    """
    text = prefix.strip().lower()
    if not text:
        raise UsageError("give an id or hash prefix, e.g. query('3f2a')")
    recent = re.fullmatch(r"~(\d+)", text)
    if text == "-" or recent:
        index = int(recent.group(1)) if recent else 1
        latest = select(Execution).order_by(Execution.start_time.desc())
        found = session.scalars(latest.offset(max(index - 1, 0)).limit(1)).first()
        if found is None or index < 1:
            raise UsageError(f"no execution {text!r}: the store holds fewer runs")
        return found
    matches: list[tuple[str, str, Any]] = []
    for model, column, kind in _KINDS:
        query = select(model).where(column.startswith(text, autoescape=True)).limit(2)
        matches.extend((kind, _key(record), record) for record in session.scalars(query))
    exact = [record for _, key, record in matches if key == text]
    if len(exact) == 1:
        return exact[0]
    if len(matches) == 1:
        return matches[0][2]
    if not matches:
        raise UsageError(
            f"no execution, job, call node, task or value has an id or hash starting "
            f"with {prefix!r}"
        )
    listing = ", ".join(f"{kind} {key[:12]}" for kind, key, _ in matches[:6])
    more = ", ..." if len(matches) > 6 else ""
    raise UsageError(f"{prefix!r} is ambiguous: it starts {listing}{more}; give more characters")


def _key(record: Any) -> str:
    for name in ("id", "call_hash", "hash", "value_hash"):
        key = getattr(record, name, None)
        if isinstance(key, str):
            return key
    return ""
