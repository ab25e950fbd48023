"""Search: one query over executions, jobs, tasks, values and files, best hits first.

A query is words; a record matches when it holds every word (any case), and a
lone hex word of 4+ digits also matches ids and hashes starting with it. Each
kind is read through :class:`~redun.backends.queries.StoreReader` (up to
:data:`PER_KIND` records), then all hits are ranked together: exact matches,
then prefixes, then the rest; newer before older. Blocking; the servicer runs
it in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from redund.browse import check_text
from redund.store import Store
from redund.views import page_bounds

if TYPE_CHECKING:
    from redun.backends.queries import StoreReader

KINDS = ("task", "file", "execution", "job", "value")  # also the order of equal hits
PER_KIND = 500
DEFAULT_PAGE = 50
SNIPPET_CHARS = 80


@dataclass(slots=True)
class SearchHit:
    """One hit; ``id`` is what the matching Get RPC takes."""

    kind: str
    id: str
    title: str
    snippet: str = ""
    time: float = 0.0
    rank: int = 2


def search(
    store: Store,
    query: str,
    *,
    kinds: list[str] | None = None,
    page_size: int = 0,
    page_token: str = "",
) -> tuple[list[SearchHit], str]:
    """One page of hits for ``query``, of ``kinds`` (all when empty).

    An empty query has no hits (a search box being cleared is not an error).
    Hits past :data:`PER_KIND` of one kind are not reached; narrow the query.

    Raises:
        InvalidRequest: a bad page token or an over-long query.
    """
    limit, offset = page_bounds(page_size, page_token, default=DEFAULT_PAGE)
    check_text("query", query)
    words = query.lower().split()
    reader = store.reader
    if not words or reader is None:
        return [], ""
    wanted = set(kinds or KINDS)
    hits: list[SearchHit] = []
    if "task" in wanted:
        hits += _tasks(reader, words)
    if "file" in wanted:
        hits += _files(reader, words)
    if "execution" in wanted:
        hits += _executions(reader, words)
    if "job" in wanted:
        hits += _jobs(reader, words)
    if "value" in wanted:
        hits += _values(reader, words, skip_files="file" in wanted)
    query_text = " ".join(words)
    for hit in hits:
        hit.rank = min(hit.rank, _rank(query_text, hit))
    order = {kind: index for index, kind in enumerate(KINDS)}
    hits.sort(key=lambda h: (h.rank, order[h.kind], -h.time, h.title, h.id))
    page = hits[offset : offset + limit]
    return page, str(offset + limit) if len(hits) > offset + limit else ""


def _rank(query: str, hit: SearchHit) -> int:
    """0: the id, the title or its last part is the query; 1: one starts with it; 2: else."""
    ident, title = hit.id.lower(), hit.title.lower()
    last = title.replace("/", ".").rsplit(".", 1)[-1]
    if query in (ident, title, last):
        return 0
    if ident.startswith(query) or title.startswith(query) or last.startswith(query):
        return 1
    return 2


def _snippet(text: str, words: list[str]) -> str:
    """``text`` around the first word found in it, cut to :data:`SNIPPET_CHARS`."""
    if len(text) <= SNIPPET_CHARS:
        return text
    at = min((i for i in (text.lower().find(w) for w in words) if i >= 0), default=0)
    start = max(0, at - SNIPPET_CHARS // 3)
    piece = text[start : start + SNIPPET_CHARS]
    return ("…" if start else "") + piece + ("…" if start + SNIPPET_CHARS < len(text) else "")


def _tasks(reader: StoreReader, words: list[str]) -> list[SearchHit]:
    versions: dict[str, list[str]] = {}
    for record in reader.tasks_matching(words, limit=PER_KIND):
        versions.setdefault(record.fullname, []).append(record.hash)
    usage = reader.task_usage(list(versions), include_jobs=False)
    hits = []
    for name, hashes in versions.items():
        seen = [usage[h].first_seen or 0.0 for h in hashes if h in usage]
        by_hash = len(words) == 1 and any(h.startswith(words[0]) for h in hashes)
        snippet = f"version {hashes[0][:8]}" if by_hash else f"{len(hashes)} version(s)"
        hit = SearchHit("task", name, name, snippet, min(seen, default=0.0))
        hit.rank = 1 if by_hash else 2
        hits.append(hit)
    return hits


def _files(reader: StoreReader, words: list[str]) -> list[SearchHit]:
    records = reader.files_matching(words, limit=PER_KIND)
    uses = reader.value_uses([record.value_hash for record in records])
    hits = []
    for record in records:
        use = uses.get(record.value_hash)
        kind = record.kind or "file"
        detail = f"{kind} {(record.file_hash or '')[:8]}".strip()
        hits.append(
            SearchHit(
                "file", record.value_hash, record.path, detail, (use.time or 0.0) if use else 0.0
            )
        )
    return hits


def _executions(reader: StoreReader, words: list[str]) -> list[SearchHit]:
    hits = []
    for record in reader.executions_matching(words, limit=PER_KIND):
        command = " ".join(record.argv) if record.argv else ""
        title = record.expr or command or record.id
        snippet = f"{record.status}: {_snippet(command, words)}" if command else record.status
        hits.append(SearchHit("execution", record.id, title, snippet, record.start_time or 0.0))
    return hits


def _jobs(reader: StoreReader, words: list[str]) -> list[SearchHit]:
    return [
        SearchHit(
            "job",
            record.id,
            record.task_name or record.id,
            f"{record.state} in execution {record.execution_id[:8]}",
            record.start_time or 0.0,
        )
        for record in reader.jobs_matching(words, limit=PER_KIND)
    ]


def _values(reader: StoreReader, words: list[str], *, skip_files: bool) -> list[SearchHit]:
    records = [
        record
        for record in reader.values_matching(words, limit=PER_KIND)
        if not (skip_files and record.file is not None)  # found as files
    ]
    uses = reader.value_uses([record.hash for record in records])
    hits = []
    for record in records:
        use = uses.get(record.hash)
        preview = record.preview or record.hash
        hits.append(
            SearchHit(
                "value",
                record.hash,
                _snippet(preview, words),
                record.type_name or "",
                (use.time or 0.0) if use else 0.0,
            )
        )
    return hits
