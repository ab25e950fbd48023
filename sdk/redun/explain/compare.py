"""What differs from the earlier call: the task's code parts and version, the arguments,
and the files they name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redun.explain.files import live_files
from redun.explain.model import Change

if TYPE_CHECKING:
    from redun.backends.queries import CallRecordInfo, ValueRecord
    from redun.explain.model import Subject

__all__ = ["argument_changes", "code_changes", "code_message", "file_changes"]


# -- code ----------------------------------------------------------------------
def code_changes(subject: Subject, previous: CallRecordInfo, tasks: dict[str, Any]) -> list[Change]:
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
            changes.append(Change("code", label, before, after, code_message(label, before, after)))
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


def code_message(label: str, before: str | None, after: str | None) -> str:
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


# -- arguments -------------------------------------------------------------------
def argument_changes(
    subject: Subject,
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
            changes.append(Change("argument", name, old_hash, new_hash, f"argument {name} {word}"))
            continue
        old_files = files.get(old_hash, {})
        new_files = dict(files.get(new_hash, {}))
        live = live_files(subject.live_args.get(name)) if subject.live_args else {}
        new_files.update(live)
        if old_files or new_files:
            changed = file_changes(name, old_files, new_files)
            if changed:
                changes.extend(changed)
                continue
        old_text = _preview_of(values.get(old_hash), old_hash)
        if subject.live_args is not None and name in subject.live_args:
            from redun.backends.rows import preview

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


def _preview_of(record: ValueRecord | None, value_hash: str) -> str:
    if record is not None and record.preview is not None:
        return record.preview
    return f"<value {value_hash[:8]}>"


def file_changes(name: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
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
