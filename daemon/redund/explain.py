"""The Explain RPC: why a job ran or hit the cache, from :mod:`redun.explain`.

Recorded jobs are explained by the SDK against the database; a job the
database does not hold yet (still running) gets the reason its runner reported.
"""

from __future__ import annotations

import re
from typing import Any

from redund.errors import NotFoundError, NotImplementedYet
from redund.model import JobRecord
from redund.store import Store

_KINDS = {  # redun.explain Change.kind -> CacheReasonKind
    "code": 3,
    "version": 4,
    "package": 5,
    "argument": 6,
    "file": 7,
    "validity": 8,
}
_HASH = re.compile(r"^[0-9a-f]{8,64}$")


def explain(store: Store, job_id: str, live: JobRecord | None) -> Any:
    """A ``redun.v1.Explanation`` for ``job_id``.

    Raises:
        NotFoundError: neither recorded nor live.
        NotImplementedYet: this SDK has no ``redun.explain``.
    """
    from redun.v1 import runs_pb2

    found = None
    if store.enabled:
        try:
            from redun.explain import explain_job
        except ImportError as error:
            raise NotImplementedYet("this redun has no redun.explain") from error
        from redun.errors import UsageError

        try:
            found = explain_job(store.backend, job_id)
        except UsageError:
            found = None
    if found is None:
        if live is None:
            raise NotFoundError(f"no job {job_id!r}")
        return runs_pb2.Explanation(
            job_id=live.id, cached=live.cached, summary=live.reason or live.state
        )
    reasons = []
    for change in found.changes:
        before, after = change.before or "", change.after or ""
        reasons.append(
            runs_pb2.CacheReason(
                kind=_KINDS.get(change.kind, 0),
                subject=change.name,
                old_hash=before if _HASH.match(before) else "",
                new_hash=after if _HASH.match(after) else "",
                detail=change.message,
            )
        )
    cached = found.outcome == "cached"
    if not reasons:
        kind = 1 if cached else (2 if found.previous is None else 0)
        reasons.append(runs_pb2.CacheReason(kind=kind, detail=found.summary))
    previous = found.previous
    return runs_pb2.Explanation(
        job_id=found.job_id or job_id,
        cached=cached,
        summary=found.summary,
        reasons=reasons,
        previous_job_id=(previous.job_id or "") if previous is not None else "",
        previous_call_hash=previous.call_hash if previous is not None else "",
    )
