"""The closest earlier call of the same task: the most arguments in common (or file
arguments naming the same paths), then the same code, then the newest."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redun.explain.files import FileLookup, live_files

if TYPE_CHECKING:
    from redun.backends.queries import CallRecordInfo, StoreReader
    from redun.explain.model import Subject

__all__ = ["ClosestCall"]


class ClosestCall:
    """Finds the earlier call a job is compared with (calls of a task are read once)."""

    def __init__(self, reader: StoreReader, files: FileLookup) -> None:
        self.reader = reader
        self.files = files
        self._calls_by_task: dict[tuple[str, float | None], list[CallRecordInfo]] = {}

    def _calls_of(self, task_name: str, before: float | None) -> list[CallRecordInfo]:
        key = (task_name, before)
        calls = self._calls_by_task.get(key)
        if calls is None:
            calls = self._calls_by_task[key] = self.reader.calls_of_task(
                task_name, before=before, limit=200
            )
        return calls

    def find(self, subject: Subject) -> CallRecordInfo | None:
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
            candidate_paths = self.files.inside(hashes)
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

    def _subject_paths(self, subject: Subject) -> dict[str, set[str]]:
        """``{argument: file paths}`` for the subject's file arguments."""
        paths: dict[str, set[str]] = {}
        if subject.live_args is not None:
            for name, value in subject.live_args.items():
                found = live_files(value)
                if found:
                    paths[name] = set(found)
            return paths
        files = self.files.inside(sorted(set(subject.arg_hashes.values())))
        for name, value_hash in subject.arg_hashes.items():
            if value_hash in files:
                paths[name] = set(files[value_hash])
        return paths
