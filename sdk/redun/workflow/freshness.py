"""Import a workflow's own modules from what is on disk now, never from stale bytecode.

Python reuses a module's cached bytecode (``__pycache__/*.pyc``) when the source's
modification time, in whole seconds, and its size are the ones recorded in it.
A workflow saved twice within one second at the same length (``SPECIAL = 1``
becomes ``SPECIAL = 2``: the daemon re-runs it 40 ms after the first save) would
run the first save's code: a wrong result, and a cache entry under the wrong code.

For the workflow file and for the modules found under the directories it is
loaded from (not installed packages there: a project's ``.venv``),
:class:`FreshSourceLoader` stamps bytecode with a digest of the
source's full ``stat`` (size, modification and change times in nanoseconds,
inode) instead, and does not use the cache at all for a source modified in the
last :data:`RACY_SECONDS` (file times tick in coarse steps: two writes in one
tick can leave every field of ``stat`` the same). Bytecode stays cached for
files that have not changed lately, so a re-run of an unchanged workflow still
skips compiling it.

A bytecode file stamped by Python's own loader (``python flow.py``, pytest) does
not match a stamp of this loader's, and the other way round: the module is
compiled again, and its cache rewritten, when the loader that reads it changes.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from importlib.machinery import (
    BYTECODE_SUFFIXES,
    EXTENSION_SUFFIXES,
    SOURCE_SUFFIXES,
    ExtensionFileLoader,
    FileFinder,
    SourceFileLoader,
    SourcelessFileLoader,
)
from typing import Any

from redun.codehash.modules import is_installed_dir

__all__ = ["RACY_SECONDS", "FreshSourceLoader", "watch_directory"]

RACY_SECONDS = 2.0  # a source modified this recently is compiled from its text
_roots: list[str] = []  # directories (and everything below) imported freshly
_hook_installed = False
_deciding = threading.local()


class FreshSourceLoader(SourceFileLoader):
    """A source loader whose cached bytecode is used only for the very same file."""

    def path_stats(self, path: str) -> dict[str, Any]:
        st = os.stat(path)
        # The stamp is stored as 32 bits where Python stores whole seconds.
        stamp = hash((st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_size)) & 0xFFFFFFFF
        return {"mtime": stamp, "size": st.st_size}

    def get_code(self, fullname: str) -> Any:
        try:
            modified = os.stat(self.path).st_mtime
        except OSError:
            modified = 0.0
        if time.time() - modified < RACY_SECONDS:
            # Saved moments ago: its stat may not tell it from an earlier save in the same
            # tick, so neither read nor write the cache (compiling one file takes ~1 ms).
            return self.source_to_code(self.get_data(self.path), self.path)
        return super().get_code(fullname)


def _inside(path: str) -> bool:
    return any(path == root or path.startswith(root + os.sep) for root in _roots)


def _installed(path: str) -> bool:
    """A directory of the interpreter's or of installed packages (a project's own
    ``.venv`` inside the workflow's directory, say): their bytecode is left to
    Python, else a package would be compiled again whenever the loader changes."""
    parts = path.split(os.sep)
    # Any site-packages: a project's .venv need not be the interpreter running the workflow.
    return "site-packages" in parts or "dist-packages" in parts or is_installed_dir(path)


def _path_hook(path: str) -> FileFinder:
    """``sys.path_hooks`` entry: fresh imports under the watched roots, else decline."""
    if getattr(_deciding, "active", False):
        # An import made while deciding (sysconfig's data module, say) comes back here.
        raise ImportError("deciding on another directory")
    _deciding.active = True
    try:
        full = os.path.realpath(path or os.getcwd())
        if not _roots or not _inside(full) or _installed(full) or not os.path.isdir(full):
            raise ImportError("not a workflow directory")
    finally:
        _deciding.active = False
    return FileFinder(
        path,
        (ExtensionFileLoader, EXTENSION_SUFFIXES),
        (FreshSourceLoader, SOURCE_SUFFIXES),
        (SourcelessFileLoader, BYTECODE_SUFFIXES),
    )


def watch_directory(directory: str) -> None:
    """Import modules found in ``directory`` (and below it) freshly from now on."""
    global _hook_installed
    root = os.path.realpath(directory)
    if root in _roots:
        return
    _roots.append(root)
    if not _hook_installed:
        sys.path_hooks.insert(0, _path_hook)
        _hook_installed = True
    # Finders already made for these directories were made by the default hook.
    for entry in list(sys.path_importer_cache):
        if _inside(_resolved(entry)):
            del sys.path_importer_cache[entry]


_real: dict[str, str] = {}  # sys.path entry -> its real path, as first resolved


def _resolved(entry: str) -> str:
    """``entry``'s real path. Remembered: a process (a daemon's runner, forked from a
    factory that resolved the interpreter's own entries, see :func:`prime`) would
    otherwise resolve every entry of the importer cache, component by component,
    for each workflow it loads (~50 entries, ~100 lstat calls per run). The working
    directory (an empty entry) is resolved each time: it changes."""
    if not entry:
        return os.path.realpath(os.getcwd())
    real = _real.get(entry)
    if real is None:
        real = _real[entry] = os.path.realpath(entry)
    return real


def prime() -> None:
    """Resolve the entries of the importer cache now (a runner factory, before forking)."""
    for entry in list(sys.path_importer_cache):
        if entry:
            _resolved(entry)
