"""Normalized-source digests kept on disk, per source file, so a new process does not re-parse.

Each ``redun run`` is a new interpreter: without this, every task and helper
would be located, parsed and dumped again although its file did not change.
Per source file, one JSON file under the cache directory holds the file's
identity and, per function (first line and qualified name), the digest of its
normalized source and the names its default arguments use: exactly what
:func:`redun.codehash.source._source_info` computes from that file's text.

When is a stored digest used? Only when the file is known to hold the same
bytes as when the digest was computed:

* its ``stat`` (size, mtime, ctime, inode) is the recorded one, and was
  already at least :data:`RACY_SECONDS` old when recorded (a write in the same
  clock tick as the recording could leave every field unchanged; ctime cannot
  be set back by a tool restoring mtime); or else
* a BLAKE2 digest of its bytes equals the recorded one (then the new ``stat``
  is recorded).

Otherwise the file's entry starts over. The digest also names the Python
version and this module's format, since ``ast.dump`` differs between versions.

Location: ``$REDUN_CODE_CACHE`` (a directory, or ``off``), else
``$XDG_CACHE_HOME/redun/codehash``, else ``~/.cache/redun/codehash``. A cache
that cannot be read or written is skipped silently: it only saves time.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

__all__ = ["RACY_SECONDS", "cache_dir", "clear_memory", "lookup", "save", "store"]

FORMAT = 1
RACY_SECONDS = 2.0  # timestamps this close to the recording prove nothing
_TAG = f"py{sys.version_info[0]}.{sys.version_info[1]}-f{FORMAT}"
_lock = threading.Lock()
_files: dict[str, _FileEntry] = {}
_dirty: set[str] = set()
_save_at_exit: list[bool] = []


def cache_dir() -> str | None:
    """The cache directory, or None when it is turned off."""
    configured = os.environ.get("REDUN_CODE_CACHE")
    if configured is not None:
        if configured.strip().lower() in ("", "0", "off", "no", "false"):
            return None
        return os.path.abspath(os.path.expanduser(configured))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "redun", "codehash")


class _FileEntry:
    __slots__ = ("path", "stat", "recorded", "digest", "functions", "verified_stat")

    def __init__(self, path: str) -> None:
        self.path = path
        self.stat: list[int] | None = None
        self.recorded = 0.0
        self.digest: str | None = None
        self.functions: dict[str, list[Any]] = {}
        # The stat this process last confirmed the entry for (None: not yet).
        self.verified_stat: list[int] | None = None


def _stat_key(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not (st.st_mode & 0o170000) == 0o100000:  # not a regular file
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def _content_digest(path: str) -> str | None:
    from redun.hashing.digest import _blake2b

    try:
        with open(path, "rb") as file:
            return str(_blake2b(file.read(), digest_size=20).hexdigest())
    except OSError:
        return None


def _entry_file(directory: str, path: str) -> str:
    from redun.hashing.digest import hash_text

    return os.path.join(directory, hash_text(f"{_TAG}\0{path}") + ".json")


def _load(directory: str, path: str) -> _FileEntry:
    entry = _FileEntry(path)
    try:
        with open(_entry_file(directory, path), encoding="utf-8") as file:
            data = json.load(file)
        if data.get("tag") == _TAG and data.get("path") == path:
            entry.stat = list(data["stat"])
            entry.recorded = float(data["recorded"])
            entry.digest = str(data["digest"])
            entry.functions = dict(data["functions"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return entry


def _current(directory: str, path: str) -> _FileEntry | None:
    """The entry of ``path``, confirmed to describe the file's present bytes (None: no file)."""
    stat = _stat_key(path)
    if stat is None:
        return None
    entry = _files.get(path)
    if entry is None:
        entry = _files[path] = _load(directory, path)
    if entry.verified_stat == stat:
        return entry
    trusted = entry.stat == stat and entry.recorded - max(stat[1], stat[2]) / 1e9 >= RACY_SECONDS
    if not trusted:
        digest = _content_digest(path)
        if digest is None:
            return None
        if digest != entry.digest:
            entry.functions = {}
            entry.digest = digest
        entry.stat = stat
        entry.recorded = time.time()
        if entry.functions:
            _mark_dirty(path)  # the new stat is worth keeping only with entries
    entry.verified_stat = stat
    return entry


def _mark_dirty(path: str) -> None:
    _dirty.add(path)
    if not _save_at_exit:
        # Written once, as the process ends (or when a caller calls save()).
        import atexit

        atexit.register(save)
        _save_at_exit.append(True)


def _key(code: Any) -> str:
    # Everything besides the file's bytes that the normalized source depends on.
    from redun.codehash.source import _last_line

    qualname = getattr(code, "co_qualname", code.co_name)
    return f"{code.co_firstlineno}:{_last_line(code)}:{code.co_name}:{qualname}"


def lookup(code: Any) -> tuple[tuple[str, tuple[str, ...]] | None, Any]:
    """``(normalized source digest, default-argument names)`` of ``code`` if stored, and a
    token for :func:`store` (what the file looked like before the caller reads it)."""
    directory = cache_dir()
    path = code.co_filename
    if directory is None or not path or not os.path.isabs(path):
        return None, None
    with _lock:
        entry = _current(directory, path)
        if entry is None:
            return None, None
        found = entry.functions.get(_key(code))
        token = list(entry.stat or ())
    if found is None:
        return None, token
    return (str(found[0]), tuple(found[1])), token


def store(code: Any, token: Any, digest: str, default_names: tuple[str, ...]) -> None:
    """Remember what ``code``'s normalized source digests to (written by :func:`save`).

    ``token`` comes from the :func:`lookup` made before the caller read the file.
    Stored only if the file's ``stat`` is still that one and its timestamps were
    :data:`RACY_SECONDS` older than the moment its bytes were confirmed: then no
    write can have happened in between without changing the ``stat`` (ctime), so
    the text the caller read is the confirmed one. A file saved moments ago is
    parsed again next time, until it has aged.
    """
    directory = cache_dir()
    path = code.co_filename
    if directory is None or not token or not path or not os.path.isabs(path):
        return
    with _lock:
        entry = _files.get(path)
        stat = _stat_key(path)
        if entry is None or stat is None or stat != token or entry.stat != stat:
            return
        if entry.recorded - max(stat[1], stat[2]) / 1e9 < RACY_SECONDS:
            return
        entry.functions[_key(code)] = [digest, list(default_names)]
        _mark_dirty(path)


def save() -> None:
    """Write the entries that changed (atomically; errors are ignored)."""
    directory = cache_dir()
    if directory is None:
        return
    with _lock:
        if not _dirty:
            return
        paths = list(_dirty)
        _dirty.clear()
        entries = [_files[path] for path in paths if path in _files]
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError:
        return
    for entry in entries:
        target = _entry_file(directory, entry.path)
        data = {
            "tag": _TAG,
            "path": entry.path,
            "stat": entry.stat,
            "recorded": entry.recorded,
            "digest": entry.digest,
            "functions": entry.functions,
        }
        temp = f"{target}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            with open(temp, "w", encoding="utf-8") as file:
                json.dump(data, file, separators=(",", ":"))
            os.replace(temp, target)
        except OSError:
            try:
                os.unlink(temp)
            except OSError:
                pass


def clear_memory() -> None:
    """Forget what this process read or confirmed (the files on disk stay)."""
    with _lock:
        _files.clear()
        _dirty.clear()
