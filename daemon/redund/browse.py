"""Browsing the record: tasks with their versions, values, and files.

Plain blocking functions over a :class:`~redund.store.Store` (the servicer runs
them in a worker thread, never on the event loop). They read through the
SDK's :class:`~redun.backends.queries.StoreReader`, validate their arguments
(:class:`InvalidRequest`), raise :class:`NotFoundError` for an unknown task or
value, and return the records below, which :mod:`redund.convert` turns into
messages. Search lives in :mod:`redund.search`.
"""

from __future__ import annotations

import difflib
import functools
import os
import pickle
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redund.errors import InvalidRequest, NotFoundError
from redund.model import ValuePreview
from redund.store import Store
from redund.views import next_token, page_bounds

if TYPE_CHECKING:
    from redun.backends.queries import FileRecord, StoreReader, ValueRecord

DEFAULT_REPR_CHARS = 4000
MAX_REPR_CHARS = 1 << 20
# Larger values keep their recorded preview: unpickling them to print them costs too much.
MAX_REPR_PICKLE = 32 << 20
# A local file whose stat hash differs is content-hashed only up to this size.
MAX_CONTENT_CHECK = 64 << 20
MIN_HASH_PREFIX = 4
MAX_TEXT = 256
MAX_PATH = 4096

_HEX = re.compile(r"^[0-9a-f]{1,64}$")
_NAMESPACE = re.compile(r"^[A-Za-z_][\w.]*$")


@dataclass(slots=True)
class TaskVersion:
    """One recorded version of a task's code, and how it was used."""

    hash: str
    version: str = ""
    source: str = ""
    first_seen: float = 0.0
    last_used: float = 0.0
    call_count: int = 0


@dataclass(slots=True)
class Task:
    """A task by full name, with its versions newest first."""

    full_name: str
    namespace: str
    name: str
    versions: list[TaskVersion] = field(default_factory=list)


@dataclass(slots=True)
class FileEntry:
    """A recorded File or Dir value, and whether the path still holds that state."""

    path: str
    value_hash: str
    file_hash: str
    size: int
    is_dir: bool
    current: bool


@dataclass(slots=True)
class ValueEntry:
    """One value: its preview, a longer repr, its pickle if asked for, its file record."""

    preview: ValuePreview
    repr: str
    repr_truncated: bool
    pickled: bytes = b""
    file: FileEntry | None = None


# -- tasks ---------------------------------------------------------------------------------
def list_tasks(
    store: Store,
    *,
    query: str = "",
    namespace: str = "",
    include_source: bool = False,
    page_size: int = 0,
    page_token: str = "",
) -> tuple[list[Task], str]:
    """Tasks whose full name contains ``query`` (any case), by full name, one page.

    Raises:
        InvalidRequest: a bad page token, an over-long query, a malformed namespace.
    """
    limit, offset = page_bounds(page_size, page_token)
    check_text("query", query)
    if namespace and not _NAMESPACE.match(namespace):
        raise InvalidRequest(
            f"namespace {namespace!r} is not a namespace: letters, digits, '_' and '.', "
            "e.g. 'e2e' for the task 'e2e.main'"
        )
    reader = store.reader
    if reader is None:
        return [], ""
    names = reader.task_names(text=query, namespace=namespace, limit=limit, offset=offset)
    tasks = _tasks(reader, names, include_source=include_source)
    return tasks, next_token(offset, limit, len(names))


def get_task(store: Store, *, full_name: str = "", task_hash: str = "") -> Task:
    """One task with every version and its source, by full name or by a version's hash.

    Raises:
        InvalidRequest: neither given, or a malformed or ambiguous hash.
        NotFoundError: no such task recorded.
    """
    if not full_name and not task_hash:
        raise InvalidRequest("GetTaskRequest needs a full_name or a hash")
    reader = _reader(store, f"task {full_name or task_hash!r}")
    if task_hash:
        resolved = resolve_hash(reader, "task", task_hash)
        full_name = reader.tasks([resolved])[resolved].fullname
    found = _tasks(reader, [full_name], include_source=True)
    if not found:
        raise NotFoundError(f"no task {full_name!r} recorded{_did_you_mean(reader, full_name)}")
    return found[0]


def _tasks(reader: StoreReader, names: list[str], *, include_source: bool) -> list[Task]:
    versions = reader.task_versions(names, include_source=include_source)
    usage = reader.task_usage([name for name in names if name in versions])
    tasks = []
    for name in names:
        records = versions.get(name)
        if not records:
            continue
        task = Task(name, records[0].namespace or "", records[0].name or name)
        for record in records:
            used = usage.get(record.hash)
            task.versions.append(
                TaskVersion(
                    hash=record.hash,
                    version=record.version or "",
                    source=record.source or "",
                    first_seen=(used.first_seen or 0.0) if used else 0.0,
                    last_used=(used.last_used or 0.0) if used else 0.0,
                    call_count=used.call_count if used else 0,
                )
            )
        task.versions.sort(key=lambda v: (v.last_used or v.first_seen, v.hash), reverse=True)
        tasks.append(task)
    return tasks


def _did_you_mean(reader: StoreReader, name: str) -> str:
    short = name.rsplit(".", 1)[-1]
    close = reader.task_names_like(short)
    if not close:
        # Compare short names: a shared namespace would make every task look close.
        by_short: dict[str, list[str]] = {}
        for full in reader.task_names(limit=10_000):
            by_short.setdefault(full.rsplit(".", 1)[-1], []).append(full)
        close = [
            full
            for match in difflib.get_close_matches(short, list(by_short), n=3)
            for full in by_short[match]
        ]
    return f"; did you mean {' or '.join(repr(c) for c in close[:3])}?" if close else ""


# -- values ----------------------------------------------------------------------------------
def list_values(
    store: Store, *, type_name: str = "", page_size: int = 0, page_token: str = ""
) -> tuple[list[ValuePreview], str]:
    """Values most recently made or taken by a call first, of ``type_name`` if given.

    Raises:
        InvalidRequest: a bad page token or type name.
    """
    limit, offset = page_bounds(page_size, page_token)
    check_text("type_name", type_name)
    if any(char.isspace() for char in type_name):
        raise InvalidRequest(
            f"type_name {type_name!r} has spaces: give a recorded type name, e.g. 'int' "
            "or 'redun.File'"
        )
    reader = store.reader
    if reader is None:
        return [], ""
    records = reader.recent_values(type_name=type_name, limit=limit, offset=offset)
    return [preview_of(record) for record in records], next_token(offset, limit, len(records))


def get_value(
    store: Store, value_hash: str, *, max_repr_chars: int = 0, include_pickle: bool = False
) -> ValueEntry:
    """One value by hash (or a unique prefix of 4+ hex digits), with a repr of up to
    ``max_repr_chars`` characters.

    The repr is the value's own when it unpickles from plain Python types (and
    redun files) alone; anything else keeps its recorded preview: the daemon
    never imports a workflow's modules to print a value.

    Raises:
        InvalidRequest: an empty, malformed or ambiguous hash.
        NotFoundError: no such value recorded.
    """
    if not value_hash:
        raise InvalidRequest("GetValueRequest.hash is empty")
    reader = _reader(store, f"value {value_hash!r}")
    resolved = resolve_hash(reader, "value", value_hash)
    record = reader.values([resolved]).get(resolved)
    if record is None:
        raise NotFoundError(f"no value {value_hash!r} recorded")
    limit = min(max_repr_chars or DEFAULT_REPR_CHARS, MAX_REPR_CHARS)
    fits = (record.size or 0) <= MAX_REPR_PICKLE
    pickled = store.value_pickle(resolved) if include_pickle or fits else b""
    text = safe_repr(pickled) if pickled and fits else None
    if text is None:
        # The recorded preview is reprlib's: a cut shows as '...'.
        text = record.preview or ""
        truncated = "..." in text or len(text) > limit
    else:
        truncated = len(text) > limit
    file = file_entries(reader, [record.file])[0] if record.file is not None else None
    return ValueEntry(
        preview=preview_of(record),
        repr=text[:limit],
        repr_truncated=truncated,
        pickled=pickled if include_pickle else b"",
        file=file,
    )


def preview_of(record: ValueRecord) -> ValuePreview:
    return ValuePreview(
        type_name=record.type_name or "",
        hash=record.hash,
        repr=record.preview or "",
        size=int(record.size or 0),
        file_path=record.file.path if record.file is not None else "",
    )


# -- files -------------------------------------------------------------------------------------
def list_files(
    store: Store, *, path_prefix: str = "", page_size: int = 0, page_token: str = ""
) -> tuple[list[FileEntry], str]:
    """Recorded files whose path starts with ``path_prefix``, by path, newest version first.

    A page holds ``page_size`` paths, each with all of its versions.

    Raises:
        InvalidRequest: a bad page token or prefix.
    """
    limit, offset = page_bounds(page_size, page_token)
    if len(path_prefix) > MAX_PATH:
        raise InvalidRequest(
            f"path_prefix is {len(path_prefix)} characters long; at most {MAX_PATH}"
        )
    if "\x00" in path_prefix:
        raise InvalidRequest("path_prefix holds a NUL character: no recorded path does")
    reader = store.reader
    if reader is None:
        return [], ""
    paths = reader.file_paths(prefix=path_prefix, limit=limit, offset=offset)
    return file_entries(reader, reader.files_by_path(paths)), next_token(offset, limit, len(paths))


def file_entries(reader: StoreReader, records: list[FileRecord]) -> list[FileEntry]:
    """File records by path, each path's newest version first (by the jobs that used it)."""
    uses = reader.value_uses([record.value_hash for record in records])
    keyed = []
    for record in records:
        use = uses.get(record.value_hash)
        is_dir = record.kind == "dir"
        entry = FileEntry(
            path=record.path,
            value_hash=record.value_hash,
            file_hash=record.file_hash or "",
            size=int(record.size or 0),
            is_dir=is_dir,
            current=not is_dir
            and is_current(record.path, record.file_hash or "", use.cwd if use else None),
        )
        time = (use.time or 0.0) if use else 0.0
        keyed.append(((record.path, -time, record.value_hash), entry))
    return [entry for _, entry in sorted(keyed, key=lambda pair: pair[0])]


def is_current(path: str, recorded: str, cwd: str | None) -> bool:
    """Whether a local file still has the recorded hash (stat, else content), read now.

    A relative path is read from the working directory of the run that last
    used it. Remote paths and directories are not checked (walking a tree per
    listing would cost too much): False.
    """
    from redun.file.filesystem import FileError, get_proto

    if not recorded or get_proto(path) != "local":
        return False
    if not os.path.isabs(_os_path(path)) and not cwd:
        return False
    files = _rooted_filesystem()(cwd or "/")
    try:
        size = files.stat(path).size
        if files.get_hash(path) == recorded:
            return True
        return size <= MAX_CONTENT_CHECK and files.get_hash(path, content=True) == recorded
    except (FileError, OSError):
        return False


@functools.cache
def _rooted_filesystem() -> type:
    from redun.file.local import LocalFileSystem

    class RootedFileSystem(LocalFileSystem):
        """Local files read from ``root``, hashed by the path as recorded (as the run hashed it)."""

        def __init__(self, root: str) -> None:
            self.root = root

        def stat(self, path: str) -> Any:
            return super().stat(os.path.join(self.root, _os_path(path)))

        def checksum(self, path: str) -> str:
            return super().checksum(os.path.join(self.root, _os_path(path)))

    return RootedFileSystem


def _os_path(path: str) -> str:
    if path.startswith("file://"):
        return path[len("file://") :] or "/"
    return path


# -- shared --------------------------------------------------------------------------------------
def check_text(name: str, text: str) -> None:
    """Raise InvalidRequest for an over-long filter."""
    if len(text) > MAX_TEXT:
        raise InvalidRequest(f"{name} is {len(text)} characters long; at most {MAX_TEXT}")


def resolve_hash(reader: StoreReader, kind: str, text: str) -> str:
    """The one recorded ``kind`` hash that ``text`` is, or starts.

    Raises:
        InvalidRequest: not hex, too short, or more than one match.
        NotFoundError: none.
    """
    wanted = text.strip().lower()
    if not _HEX.match(wanted):
        raise InvalidRequest(f"{text!r} is not a {kind} hash: give its hex digits")
    if len(wanted) < MIN_HASH_PREFIX:
        raise InvalidRequest(
            f"{kind} hash prefix {text!r} is too short: give at least {MIN_HASH_PREFIX} hex digits"
        )
    found = reader.ids_with_prefix(kind, wanted, limit=4)
    if not found:
        raise NotFoundError(f"no {kind} {text!r} recorded")
    if len(found) > 1:
        shown = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
        raise InvalidRequest(
            f"{kind} hash prefix {text!r} is ambiguous ({shown}): give more digits"
        )
    return found[0]


def _reader(store: Store, what: str) -> StoreReader:
    reader = store.reader
    if reader is None:
        raise NotFoundError(f"no {what}: this daemon's home keeps no database")
    return reader


# -- printing values without running user code --------------------------------------------------------
_SAFE_GLOBALS = {
    "builtins": {
        "bool", "bytearray", "bytes", "complex", "dict", "float", "frozenset", "int", "list",
        "object", "range", "set", "slice", "str", "tuple",
    },
    "collections": {"Counter", "OrderedDict", "defaultdict", "deque"},
    "datetime": {"date", "datetime", "time", "timedelta", "timezone"},
    "decimal": {"Decimal"},
    "fractions": {"Fraction"},
    "uuid": {"UUID"},
    "pathlib": {"Path", "PosixPath", "PurePath", "PurePosixPath"},
    "copyreg": {"_reconstructor"},
    "_codecs": {"encode"},
}  # fmt: skip


class _SafeUnpickler(pickle.Unpickler):
    """Builds plain Python values and redun files; refuses every other global."""

    def find_class(self, module: str, name: str) -> Any:
        if name in _SAFE_GLOBALS.get(module, ()):
            return super().find_class(module, name)
        if module.startswith("redun.file."):
            from redun.file import File, FileSet

            found = super().find_class(module, name)
            if isinstance(found, type) and issubclass(found, (File, FileSet)):
                return found
        raise pickle.UnpicklingError(f"{module}.{name} is not printed by the daemon")


def safe_repr(pickled: bytes) -> str | None:
    """``repr`` of a pickled value made of safe types only, else None."""
    import io

    try:
        return repr(_SafeUnpickler(io.BytesIO(pickled)).load())
    except Exception:  # noqa: BLE001 - anything odd keeps the recorded preview
        return None
