"""Why a job ran, or why it hit the cache: ``redun explain`` and ``redun run --explain``.

A job hits the cache when a recorded call has its eval hash (the same task
hash and argument hashes) and that call is still valid. When it runs instead,
the useful answer is a difference: compared with the *closest earlier call*
of the same task (the most arguments in common, then the same code, then the
newest), what changed?

* **code**: the task hash differs; the recorded code parts (see
  :mod:`redun.codehash`) say which part: the task's own source, a helper
  function, a class, a module constant, a package version;
* **arguments**: which argument's hash differs, with both values' previews;
  for files, which file changed (hash and size);
* **validity**: same code and arguments, but the earlier call no longer counts
  (a task below it changed, its result's files changed or vanished, its cache
  entry was cleared) or the cache was not consulted (``--no-cache``,
  ``cache=False``).

The API returns :class:`Explanation` objects; :func:`explain_job` explains a
recorded job, :func:`explain_jobs` explains live jobs of a run (the run's own
calls are ignored, so a job is compared with what existed before the run).

Example::

    from redun.explain import explain_job
    print(explain_job(backend, "3f2a").format())
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from redun.errors import UsageError

if TYPE_CHECKING:
    from redun.backends.queries import CallRecordInfo, StoreReader, ValueRecord
    from redun.scheduler.job import Job

__all__ = [
    "Change",
    "Explanation",
    "PreviousCall",
    "explain_job",
    "explain_jobs",
    "report_run",
]

_CANDIDATE_PREFIX = "an earlier call with the same code and arguments exists, but "
_DEFAULT_REASONS = (
    "no earlier call with this code and these arguments",
    "cached: same code and arguments as an earlier call",
)


@dataclass
class Change:
    """One difference from the earlier call.

    Attributes:
        kind: ``code``, ``argument``, ``file``, ``version`` or ``validity``.
        name: the code part label (``helper:wf.tokenize``), argument name or file path.
        before: the earlier value (a digest, preview, or version), if any.
        after: the current one, if any.
        message: the difference in words.
    """

    kind: str
    name: str
    before: str | None
    after: str | None
    message: str


@dataclass
class PreviousCall:
    """The earlier call a job is compared with."""

    call_hash: str
    task_hash: str
    time: float | None
    job_id: str | None = None
    execution_id: str | None = None


@dataclass
class Explanation:
    """Why a job ran or hit the cache.

    Attributes:
        task_name: the task's full name.
        outcome: ``cached``, ``ran``, ``failed``, ``would run`` (dry run) or the job's state.
        summary: one sentence.
        job_id: the job explained, when it is recorded.
        reason: the reason the scheduler recorded.
        previous: the closest earlier call, if there is one.
        changes: what differs from it.
    """

    task_name: str
    outcome: str
    summary: str
    job_id: str | None = None
    reason: str | None = None
    previous: PreviousCall | None = None
    changes: list[Change] = field(default_factory=list)
    call: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def format(self, indent: str = "") -> str:
        """Several lines of text: the summary, then one line per change."""
        head = f"{self.call or self.task_name}"
        if self.job_id:
            head = f"Job {self.job_id[:8]} {head}"
        lines = [f"{indent}{head}: {self.outcome}", f"{indent}  {self.summary}"]
        if self.previous is not None:
            where = f"call {self.previous.call_hash[:8]}"
            if self.previous.job_id:
                where += f" (job {self.previous.job_id[:8]}"
                if self.previous.execution_id:
                    where += f", execution {self.previous.execution_id[:8]}"
                where += ")"
            if self.previous.time:
                where += f" at {_when(self.previous.time)}"
            lines.append(f"{indent}  compared with {where}")
        for change in self.changes:
            lines.append(f"{indent}  - {change.message}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.format()


@dataclass
class _Subject:
    """What is explained, from a recorded job or a live one."""

    task_name: str
    task_hash: str
    eval_hash: str
    arg_hashes: dict[str, str]
    state: str
    cached: bool
    reason: str
    code_parts: dict[str, str] | None = None  # None: read from the recorded task
    version: str | None = None
    call_hash: str | None = None
    job_id: str | None = None
    before: float | None = None
    live_args: dict[str, Any] | None = None
    call_text: str = ""


# -- entry points ---------------------------------------------------------------


def explain_job(backend: Any, job_id: str) -> Explanation:
    """Explain a recorded job (``job_id`` may be a unique prefix).

    Raises:
        UsageError: no such job, or the prefix is ambiguous.
    """
    from redun.backends.queries import StoreReader

    reader = StoreReader(backend)
    job = reader.job(job_id)
    if job is None:
        matches = [full for kind, full in reader.find_id(job_id) if kind == "job"]
        if not matches:
            raise UsageError(f"no job {job_id!r} in {_describe(backend)}")
        if len(matches) > 1:
            raise UsageError(f"job id {job_id!r} is ambiguous: {', '.join(matches)}")
        job = reader.job(matches[0])
        assert job is not None
    arg_hashes = dict(job.arg_hashes or {})
    if job.call_hash:
        call = reader.call(job.call_hash)
        if call is not None:
            arg_hashes = call.arguments or arg_hashes
    subject = _Subject(
        task_name=job.task_name,
        task_hash=job.task_hash or "",
        eval_hash=job.eval_hash or "",
        arg_hashes=arg_hashes,
        state=job.state,
        cached=job.cached,
        reason=job.reason or "",
        call_hash=job.call_hash,
        job_id=job.id,
        before=job.start_time,
    )
    return _Explainer(reader).explain([subject])[0]


def explain_jobs(backend: Any, jobs: Iterable[Job], *, dryrun: bool = False) -> list[Explanation]:
    """Explain live jobs of a run, comparing each with calls recorded before the run.

    Args:
        backend: the scheduler's backend (a database; other backends explain
            only what the scheduler itself knows).
        jobs: the jobs, e.g. ``scheduler.jobs()`` after a run, or the jobs a
            dry run would run.
        dryrun: the jobs did not run (their outcome is ``would run``).
    """
    from redun.backends.queries import StoreReader
    from redun.expression import format_arguments

    subjects = []
    for job in jobs:
        task = job.task
        try:
            parts = dict(task.code_hash.parts) if task.version is None else {}
        except Exception:
            parts = {}
        try:
            from redun.scheduler.binding import bind_arguments

            live = bind_arguments(task, job.args, job.kwargs)
        except Exception:
            live = {}
        state = "would run" if dryrun else job.state.value
        execution = job.execution
        subjects.append(
            _Subject(
                task_name=task.fullname,
                task_hash=task.hash,
                eval_hash=job.eval_hash,
                arg_hashes=dict(job.arg_hashes),
                state=state,
                cached=job.cached,
                reason=job.reason or "",
                code_parts=parts,
                version=task.version,
                call_hash=job.call_hash,
                job_id=None if dryrun else job.id,
                before=execution.start_time if execution is not None else job.start_time,
                live_args=live,
                call_text=f"{task.fullname}({format_arguments(job.args, job.kwargs, limit=40)})",
            )
        )
    if not hasattr(backend, "query"):
        return [_without_store(subject) for subject in subjects]
    return _Explainer(StoreReader(backend)).explain(subjects)


def report_run(
    backend: Any, jobs: Iterable[Job], *, dryrun: bool = False, per_task: int = 5
) -> str:
    """Text for ``redun run --explain``: why each job ran (a few per task) and what hit.

    Args:
        backend: the scheduler's backend.
        jobs: every job of the run (``scheduler.jobs()``), or those a dry run would run.
        dryrun: the jobs did not run.
        per_task: explanations shown per task; the rest are counted.
    """
    jobs = list(jobs)
    ran = [job for job in jobs if dryrun or (not job.cached and job.state.value != "pending")]
    cached = 0 if dryrun else sum(1 for job in jobs if job.cached)
    shown: list[Job] = []
    counts: dict[str, int] = {}
    for job in ran:
        name = job.task.fullname
        if counts.get(name, 0) < per_task:
            shown.append(job)
        counts[name] = counts.get(name, 0) + 1
    verb = "would run" if dryrun else "ran"
    lines = [f"[redun] explain: {len(ran)} job(s) {verb}, {cached} hit the cache"]
    for explanation in explain_jobs(backend, shown, dryrun=dryrun):
        lines.append(explanation.format(indent="  "))
    hidden = {name: n - per_task for name, n in counts.items() if n > per_task}
    if hidden:
        lines.append(
            "  not shown: " + ", ".join(f"{n} more {name}" for name, n in sorted(hidden.items()))
        )
    return "\n".join(lines)


# -- the work -----------------------------------------------------------------------


class _Explainer:
    def __init__(self, reader: StoreReader) -> None:
        self.reader = reader
        self._calls_by_task: dict[tuple[str, float | None], list[CallRecordInfo]] = {}
        self._files_seen: dict[str, dict[str, Any]] = {}

    def explain(self, subjects: list[_Subject]) -> list[Explanation]:
        results: list[Explanation] = []
        previous_of: list[CallRecordInfo | None] = []
        for subject in subjects:
            previous_of.append(None if subject.cached else self._closest(subject))
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
        files = self._files_cached(sorted(value_hashes)) if value_hashes else {}
        for subject, previous in zip(subjects, previous_of):
            if subject.cached:
                results.append(self._explain_hit(subject))
                continue
            results.append(self._explain_run(subject, previous, tasks, values, files))
        return results

    def _calls_of(self, task_name: str, before: float | None) -> list[CallRecordInfo]:
        key = (task_name, before)
        calls = self._calls_by_task.get(key)
        if calls is None:
            calls = self._calls_by_task[key] = self.reader.calls_of_task(
                task_name, before=before, limit=200
            )
        return calls

    def _closest(self, subject: _Subject) -> CallRecordInfo | None:
        # Only calls recorded before the job started: a re-run can record the very same
        # call node again (same code, arguments and result), which is a fair comparison.
        # Candidates: the newest calls of the task, and any call sharing an argument.
        calls = list(self._calls_of(subject.task_name, subject.before))
        known = {call.call_hash for call in calls}
        for call in self.reader.calls_sharing_arguments(
            subject.task_name,
            subject.arg_hashes,
            eval_hash=subject.eval_hash,
            before=subject.before,
        ):
            if call.call_hash not in known:
                calls.append(call)
        calls.sort(key=lambda call: call.time or 0.0, reverse=True)
        paths = self._subject_paths(subject)
        candidate_paths: dict[str, dict[str, Any]] = {}
        if paths:
            hashes = sorted(
                {call.arguments[name] for call in calls for name in paths if name in call.arguments}
            )
            candidate_paths = self._files_cached(hashes)
        best: CallRecordInfo | None = None
        best_score: tuple[int, int, int, int] | None = None
        for call in calls:
            same_args = sum(
                1 for name, h in subject.arg_hashes.items() if call.arguments.get(name) == h
            )
            # A file argument naming the same path is the same input, in another state.
            same_paths = sum(
                1
                for name, wanted in paths.items()
                if set(candidate_paths.get(call.arguments.get(name, ""), {})) == wanted
            )
            score = (
                int(call.eval_hash == subject.eval_hash),
                same_args,
                same_paths,
                int(call.task_hash == subject.task_hash),
            )
            # Calls come newest first: keep the first of equal scores.
            if best_score is None or score > best_score:
                best, best_score = call, score
        return best

    def _subject_paths(self, subject: _Subject) -> dict[str, set[str]]:
        """``{argument: file paths}`` for the subject's file arguments."""
        paths: dict[str, set[str]] = {}
        if subject.live_args is not None:
            for name, value in subject.live_args.items():
                found = _live_files(value)
                if found:
                    paths[name] = set(found)
            return paths
        files = self._files_cached(sorted(set(subject.arg_hashes.values())))
        for name, value_hash in subject.arg_hashes.items():
            if value_hash in files:
                paths[name] = set(files[value_hash])
        return paths

    def _files_cached(self, value_hashes: list[str]) -> dict[str, dict[str, Any]]:
        missing = [h for h in value_hashes if h not in self._files_seen]
        if missing:
            found = self._files_inside(missing)
            for value_hash in missing:
                self._files_seen[value_hash] = found.get(value_hash, {})
        return {h: self._files_seen[h] for h in value_hashes if self._files_seen.get(h)}

    def _explain_hit(self, subject: _Subject) -> Explanation:
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

    def _explain_run(
        self,
        subject: _Subject,
        previous: CallRecordInfo | None,
        tasks: dict[str, Any],
        values: dict[str, ValueRecord],
        files: dict[str, dict[str, Any]],
    ) -> Explanation:
        outcome = "ran" if subject.state == "done" else subject.state
        reason = subject.reason if subject.reason not in _DEFAULT_REASONS else ""
        no_cache = reason in ("cache disabled", "task has cache=False")
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
            changes.extend(self._code_changes(subject, previous, tasks))
        changes.extend(self._argument_changes(subject, previous, values, files))
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
            kinds = sorted({_KIND_WORDS.get(c.kind, c.kind) for c in changes})
            summary = f"its {' and '.join(kinds)} changed since the closest earlier call"
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

    def _validity_reason(self, subject: _Subject, previous: CallRecordInfo) -> str:
        if subject.reason and subject.reason not in _DEFAULT_REASONS:
            return subject.reason.replace(_CANDIDATE_PREFIX, "")
        # The cache checker names the cause of an invalid candidate; a plain miss on an
        # eval hash that was recorded means the cache entry itself was missing.
        return (
            "the cache had no entry for it when the job started: cleared with "
            "'redun cache clear', or not yet committed by another run"
        )

    # -- code ----------------------------------------------------------------------
    def _code_changes(
        self, subject: _Subject, previous: CallRecordInfo, tasks: dict[str, Any]
    ) -> list[Change]:
        old = tasks.get(previous.task_hash)
        if subject.code_parts is not None:
            new_parts, new_version = subject.code_parts, subject.version
        else:
            new = tasks.get(subject.task_hash)
            new_parts = new.code_parts if new is not None else {}
            new_version = new.version if new is not None else None
        old_parts = old.code_parts if old is not None else {}
        old_version = old.version if old is not None else None
        changes: list[Change] = []
        if old_version != new_version:
            changes.append(
                Change(
                    "version",
                    "version",
                    old_version,
                    new_version,
                    f"the task's version changed: {old_version!r} -> {new_version!r}",
                )
            )
        for label in sorted(set(old_parts) | set(new_parts)):
            before, after = old_parts.get(label), new_parts.get(label)
            if before != after:
                changes.append(
                    Change("code", label, before, after, _code_message(label, before, after))
                )
        if not changes:
            changes.append(
                Change(
                    "code",
                    "task",
                    previous.task_hash,
                    subject.task_hash,
                    "the task hash changed (its name, options that count toward the hash, "
                    "or code recorded without parts)",
                )
            )
        return changes

    # -- arguments -------------------------------------------------------------------
    def _files_inside(self, value_hashes: list[str]) -> dict[str, dict[str, Any]]:
        """For each value: ``{path: FileRecord}`` of the files it is or holds."""
        reader = self.reader
        direct = reader.files_by_hash(value_hashes)
        children: dict[str, list[str]] = {}
        for parent, child in reader.query_in(
            "SELECT parent_hash, child_hash FROM redun_subvalue WHERE parent_hash IN :hashes",
            "hashes",
            value_hashes,
        ):
            children.setdefault(parent, []).append(child)
        nested = reader.files_by_hash(sorted({c for cs in children.values() for c in cs}))
        found: dict[str, dict[str, Any]] = {}
        for value_hash in value_hashes:
            records = {}
            if value_hash in direct:
                records[direct[value_hash].path] = direct[value_hash]
            for child in children.get(value_hash, []):
                if child in nested:
                    records[nested[child].path] = nested[child]
            if records:
                found[value_hash] = records
        return found

    def _argument_changes(
        self,
        subject: _Subject,
        previous: CallRecordInfo,
        values: dict[str, ValueRecord],
        files: dict[str, dict[str, Any]],
    ) -> list[Change]:
        changes: list[Change] = []
        names = list(subject.arg_hashes) + [
            n for n in previous.arguments if n not in subject.arg_hashes
        ]
        for name in names:
            new_hash = subject.arg_hashes.get(name)
            old_hash = previous.arguments.get(name)
            if new_hash == old_hash:
                continue
            if old_hash is None or new_hash is None:
                word = "is new" if old_hash is None else "is gone"
                changes.append(
                    Change("argument", name, old_hash, new_hash, f"argument {name} {word}")
                )
                continue
            old_files = files.get(old_hash, {})
            new_files = dict(files.get(new_hash, {}))
            live_files = _live_files(subject.live_args.get(name)) if subject.live_args else {}
            new_files.update(live_files)
            if old_files or new_files:
                file_changes = _file_changes(name, old_files, new_files)
                if file_changes:
                    changes.extend(file_changes)
                    continue
            old_text = _preview_of(values.get(old_hash), old_hash)
            if subject.live_args is not None and name in subject.live_args:
                from redun.backends.recorder import preview

                new_text = preview(subject.live_args[name], limit=80)
            else:
                new_text = _preview_of(values.get(new_hash), new_hash)
            changes.append(
                Change(
                    "argument",
                    name,
                    old_text,
                    new_text,
                    f"argument {name} changed: {old_text} -> {new_text}",
                )
            )
        return changes


_KIND_WORDS = {"code": "code", "version": "code", "argument": "arguments", "file": "files"}


def _code_message(label: str, before: str | None, after: str | None) -> str:
    kind, _, name = label.partition(":")
    if kind == "package":
        if before is None:
            return f"package {name} is now used (version {after})"
        if after is None:
            return f"package {name} is no longer used (was version {before})"
        return f"package {name} changed version: {before} -> {after}"
    what = {
        "source": "the task's own source",
        "helper": f"helper function {name}",
        "class": f"class {name}",
        "const": f"module constant {name}",
        "closure": f"closure variable {name}",
    }.get(kind, label)
    if before is None:
        return f"{what} is now used by the task"
    if after is None:
        return f"{what} is no longer used by the task"
    noun = "value" if kind in ("const", "closure") else "source"
    return f"{what} changed ({noun} {before[:8]} -> {after[:8]})"


def _preview_of(record: ValueRecord | None, value_hash: str) -> str:
    if record is not None and record.preview is not None:
        return record.preview
    return f"<value {value_hash[:8]}>"


def _live_files(value: Any) -> dict[str, Any]:
    """``{path: (file hash, size)}`` for File objects in a live value."""
    from redun.backends.queries import FileRecord

    found: dict[str, Any] = {}
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif hasattr(item, "path") and hasattr(item, "hash") and hasattr(item, "is_valid"):
            kind = "dir" if "Dir" in type(item).__name__ else "file"
            size = None
            if kind == "file":
                try:
                    size = item.size()
                except Exception:
                    size = None
            found[item.path] = FileRecord("", item.path, item.hash, size, kind)
    return found


def _file_changes(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    changes = []
    for path in sorted(set(old) | set(new)):
        before, after = old.get(path), new.get(path)
        either = after if after is not None else before
        noun = "directory" if either is not None and either.kind == "dir" else "file"
        if before is None:
            assert after is not None
            changes.append(
                Change(
                    "file", path, None, after.file_hash, f"{noun} {path} is new (argument {name})"
                )
            )
        elif after is None:
            changes.append(
                Change(
                    "file",
                    path,
                    before.file_hash,
                    None,
                    f"{noun} {path} is no longer given (argument {name})",
                )
            )
        elif before.file_hash != after.file_hash:
            detail = ""
            if before.size is not None and after.size is not None and before.size != after.size:
                detail = f", size {before.size} -> {after.size} bytes"
            changes.append(
                Change(
                    "file",
                    path,
                    before.file_hash,
                    after.file_hash,
                    f"{noun} {path} changed (argument {name}: hash "
                    f"{(before.file_hash or '?')[:8]} -> {(after.file_hash or '?')[:8]}{detail})",
                )
            )
    return changes


def _without_store(subject: _Subject) -> Explanation:
    if subject.cached:
        return Explanation(subject.task_name, "cached", "hit the in-memory cache", subject.job_id)
    return Explanation(
        subject.task_name,
        "ran" if subject.state == "done" else subject.state,
        subject.reason or "no earlier call with this code and these arguments",
        subject.job_id,
        call=subject.call_text,
    )


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def _describe(backend: Any) -> str:
    from redun.backends.engine import mask_uri

    return mask_uri(getattr(backend, "db_uri", "the database"))
