"""Cache policy: which recorded calls can stand in for a job.

A job may reuse a recorded call with the same eval hash (same task hash, same
argument hashes) when the call is still *valid*:

* ``check_valid="shallow"``: the call's own result is still valid (its files
  were not changed or deleted since);
* ``check_valid="full"`` (default): also every call below it in the call tree
  was made by a task whose current hash is the recorded one, and their results
  are still valid. Editing a child task therefore re-runs its parent (which
  only rebuilds expressions); the unchanged children are hits again.

Lookups are batched: one query per scheduler iteration, one more for the call
trees of the hits, one for their values.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from redun.backends.base import CacheHit, CallRecord, value_is_valid

if TYPE_CHECKING:
    from redun.scheduler.job import Job
    from redun.task import TaskRegistry


class CacheChecker:
    """Answers cache lookups for one execution, remembering validity verdicts."""

    def __init__(self, backend: Any, registry: TaskRegistry) -> None:
        self.backend = backend
        self.registry = registry
        self._valid: dict[str, bool] = {}
        self._current_hash: dict[str, str | None] = {}
        self._task_has_calls: dict[str, bool] = {}

    def _may_have_calls(self, task_hash: str) -> bool:
        known = self._task_has_calls.get(task_hash)
        if known is None:
            known = self._task_has_calls[task_hash] = self.backend.has_calls(task_hash)
        return known

    def lookup(self, jobs: list[Job]) -> Iterator[tuple[Job, CacheHit | None]]:
        # A task version never recorded before cannot hit: skip the query (a first run of
        # a workflow, or a chain whose jobs become ready one at a time, asks nothing).
        candidates = [job for job in jobs if self._may_have_calls(job.task.hash)]
        if len(candidates) < len(jobs):
            chosen = {id(job) for job in candidates}
            for job in jobs:
                if id(job) not in chosen:
                    yield job, None
            jobs = candidates
            if not jobs:
                return
        found = self.backend.find_calls([job.eval_hash for job in jobs])
        if not found:
            for job in jobs:
                yield job, None
            return
        full_roots = [
            found[job.eval_hash].call_hash
            for job in jobs
            if job.eval_hash in found and job.task.check_valid == "full"
        ]
        unknown = [h for h in full_roots if h not in self._valid]
        tree = self.backend.get_call_tree(unknown) if unknown else {}
        if tree:
            self._judge_tree(unknown, tree)
        # Shallow checks, and the results of valid calls.
        wanted: list[str] = []
        verdicts: dict[int, CallRecord] = {}
        for index, job in enumerate(jobs):
            record = found.get(job.eval_hash)
            if record is None:
                continue
            if job.task.check_valid == "full":
                if not self._valid.get(record.call_hash, False):
                    continue
            verdicts[index] = record
            wanted.append(record.result_hash)
        values = self.backend.get_values(wanted) if wanted else {}
        shallow_check = self.backend.values_needing_check(wanted) if wanted else set()
        for index, job in enumerate(jobs):
            record = verdicts.get(index)
            if record is None or record.result_hash not in values:
                if job.eval_hash in found and not job.reason:
                    job.reason = "an earlier call exists, but code or files it used changed"
                yield job, None
                continue
            value = values[record.result_hash]
            if record.result_hash in shallow_check and not value_is_valid(value):
                job.reason = "the cached result's files changed or were deleted"
                yield job, None
                continue
            yield job, CacheHit(record.call_hash, record.result_hash, value)

    def _task_hash(self, task_name: str) -> str | None:
        if task_name not in self._current_hash:
            task = self.registry.get(task_name)
            self._current_hash[task_name] = task.hash if task is not None else None
        return self._current_hash[task_name]

    def _judge_tree(self, roots: list[str], tree: dict[str, CallRecord]) -> None:
        """Set ``self._valid`` for every call in ``tree``, children before parents."""
        checks = self.backend.values_needing_check([r.result_hash for r in tree.values()])
        check_values = self.backend.get_values(list(checks)) if checks else {}
        valid = self._valid
        for root in roots:
            stack: list[tuple[str, bool]] = [(root, False)]
            while stack:
                call_hash, expanded = stack.pop()
                if call_hash in valid:
                    continue
                record = tree.get(call_hash)
                if record is None:
                    valid[call_hash] = False
                    continue
                if not expanded:
                    stack.append((call_hash, True))
                    for child in record.child_call_hashes:
                        if child not in valid:
                            stack.append((child, False))
                    continue
                ok = self._task_hash(record.task_name) == record.task_hash
                if ok and record.result_hash in check_values:
                    ok = value_is_valid(check_values[record.result_hash])
                if ok:
                    ok = all(valid.get(child, False) for child in record.child_call_hashes)
                valid[call_hash] = ok
