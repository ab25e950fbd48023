"""Explaining jobs: a cache hit, or a run compared with the closest earlier call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redun.explain.closest import ClosestCall
from redun.explain.compare import argument_changes, code_changes
from redun.explain.files import FileLookup
from redun.explain.model import Change, Explanation, PreviousCall
from redun.scheduler.replay import REPLAY_REASON_PREFIX

if TYPE_CHECKING:
    from redun.backends.queries import CallRecordInfo, StoreReader, ValueRecord
    from redun.explain.model import Subject

__all__ = ["Explainer"]

_CANDIDATE_PREFIX = "an earlier call with the same code and arguments exists, but "
_DEFAULT_REASONS = (
    "no earlier call with this code and these arguments",
    "cached: same code and arguments as an earlier call",
)
_KIND_WORDS = {"code": "code", "version": "code", "argument": "arguments", "file": "files"}


def _summary(task_name: str, kinds: set[str]) -> str:
    """A run's headline, in insitro/redun's words where they fit ("New task 'f()' with
    previous arguments"), then what changed since the closest earlier call."""
    new_code = "code" in kinds
    new_args = bool(kinds & {"arguments", "files"})
    if new_code and new_args:
        phrase = f"New task '{task_name}()' is called with new arguments"
    elif new_code:
        phrase = f"New task '{task_name}()' with previous arguments"
    else:
        phrase = f"Existing task '{task_name}()' is called with new arguments"
    return f"{phrase}: its {' and '.join(sorted(kinds))} changed since the closest earlier call"


class Explainer:
    """Explains subjects in a few batched queries, comparing each run with its closest call."""

    def __init__(self, reader: StoreReader) -> None:
        self.reader = reader
        self.files = FileLookup(reader)
        self.closest = ClosestCall(reader, self.files)

    def explain(self, subjects: list[Subject]) -> list[Explanation]:
        results: list[Explanation] = []
        previous_of: list[CallRecordInfo | None] = []
        for subject in subjects:
            previous_of.append(None if subject.cached else self.closest.find(subject))
        # Everything the comparisons need, in a few batched queries.
        task_hashes = {s.task_hash for s in subjects if s.code_parts is None}
        task_hashes |= {p.task_hash for p in previous_of if p is not None}
        tasks = self.reader.tasks(sorted(h for h in task_hashes if h))
        value_hashes: set[str] = set()
        for subject, previous in zip(subjects, previous_of):
            if previous is None:
                continue
            for name in set(subject.arg_hashes) | set(previous.arguments):
                if subject.arg_hashes.get(name) != previous.arguments.get(name):
                    value_hashes.update(
                        h for h in (subject.arg_hashes.get(name), previous.arguments.get(name)) if h
                    )
        values = self.reader.values(sorted(value_hashes)) if value_hashes else {}
        files = self.files.inside(sorted(value_hashes)) if value_hashes else {}
        for subject, previous in zip(subjects, previous_of):
            if subject.cached:
                results.append(self._explain_hit(subject))
                continue
            results.append(self._explain_run(subject, previous, tasks, values, files))
        return results

    def _explain_hit(self, subject: Subject) -> Explanation:
        if subject.reason and subject.reason.startswith(REPLAY_REASON_PREFIX):
            return self._explain_replay(subject)
        previous = None
        summary = "hit the cache: the same task code and arguments were recorded before"
        if subject.call_hash:
            job = self.reader.producing_job(subject.call_hash)
            call = self.reader.call(subject.call_hash)
            previous = PreviousCall(
                subject.call_hash,
                call.task_hash if call is not None else subject.task_hash,
                call.time if call is not None else None,
                job.id if job is not None and job.id != subject.job_id else None,
                job.execution_id if job is not None and job.id != subject.job_id else None,
            )
            summary += ", and that call is still valid (its result and the calls below it)"
        return Explanation(
            task_name=subject.task_name,
            outcome="cached",
            summary=summary,
            job_id=subject.job_id,
            reason=subject.reason or None,
            previous=previous,
            call=subject.call_text,
        )

    def _explain_replay(self, subject: Subject) -> Explanation:
        why = subject.reason[len(REPLAY_REASON_PREFIX) :]
        summary = (
            "its call came from the cache (same task code and arguments), but something "
            "below it changed: the expression it returned was evaluated again, and only "
            "the calls that changed ran"
        )
        return Explanation(
            task_name=subject.task_name,
            outcome="cached",
            summary=summary,
            job_id=subject.job_id,
            reason=subject.reason,
            changes=[Change("validity", "cache", None, None, why)],
            call=subject.call_text,
        )

    def _explain_run(
        self,
        subject: Subject,
        previous: CallRecordInfo | None,
        tasks: dict[str, Any],
        values: dict[str, ValueRecord],
        files: dict[str, dict[str, Any]],
    ) -> Explanation:
        outcome = "ran" if subject.state == "done" else subject.state
        reason = subject.reason if subject.reason not in _DEFAULT_REASONS else ""
        no_cache = reason == "cache disabled" or reason.startswith("task has cache")
        if previous is None:
            summary = f"no earlier call of {subject.task_name} was recorded: its first run"
            if no_cache:
                summary = f"{reason} (and no earlier call of {subject.task_name} was recorded)"
            return Explanation(
                subject.task_name, outcome, summary, subject.job_id, reason or None,
                call=subject.call_text,
            )  # fmt: skip
        prior = self._previous_call(previous)
        changes: list[Change] = []
        if previous.task_hash != subject.task_hash:
            changes.extend(code_changes(subject, previous, tasks))
        changes.extend(argument_changes(subject, previous, values, files))
        if no_cache:
            summary = f"{reason}: the cache was not consulted"
            if changes:
                summary += "; besides, since the closest earlier call:"
        elif previous.eval_hash == subject.eval_hash:
            summary = "an earlier call had the same code and arguments but did not count"
            changes.append(
                Change("validity", "cache", None, None, self._validity_reason(subject, previous))
            )
        elif changes:
            kinds = {_KIND_WORDS.get(c.kind, c.kind) for c in changes}
            summary = _summary(subject.task_name, kinds)
        else:
            summary = "no recorded call had this task hash and these arguments"
        return Explanation(
            task_name=subject.task_name,
            outcome=outcome,
            summary=summary,
            job_id=subject.job_id,
            reason=reason or None,
            previous=prior,
            changes=changes,
            call=subject.call_text,
        )

    def _previous_call(self, call: CallRecordInfo) -> PreviousCall:
        job = self.reader.producing_job(call.call_hash)
        return PreviousCall(
            call.call_hash,
            call.task_hash,
            call.time,
            job.id if job is not None else None,
            job.execution_id if job is not None else None,
        )

    def _validity_reason(self, subject: Subject, previous: CallRecordInfo) -> str:
        if subject.reason and subject.reason not in _DEFAULT_REASONS:
            return subject.reason.replace(_CANDIDATE_PREFIX, "")
        # The cache checker names the cause of an invalid candidate; a plain miss on an
        # eval hash that was recorded means the cache entry itself was missing.
        return (
            "the cache had no entry for it when the job started: cleared with "
            "'redun cache clear', or not yet committed by another run"
        )
