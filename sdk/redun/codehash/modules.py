"""Module classification: user code, standard library, installed package, redun.

A *user* module is one whose file is not in the site-packages directories,
the standard library, or what the interpreter installed under ``sys.prefix``,
``sys.base_prefix`` and ``sys.exec_prefix`` (their ``lib``, ``bin``,
``include``, ``share``... directories), and that is not part of redun;
``__main__`` is a user module. An installed package counts by the versions of
the distributions that provide it.
"""

from __future__ import annotations

import functools
import os
import site
import sys
import sysconfig
import types
from collections.abc import Iterable
from typing import Any

from redun.codehash.cache import _MODULE_KINDS, _PACKAGES

_USER = "user"
_STDLIB = "stdlib"
_PACKAGE = "package"
_ENGINE = "engine"
_UNKNOWN = "unknown"

_ENGINE_PACKAGES = frozenset({"redun", "redund", "redun_tui"})


def _norm_dir(path: str) -> str:
    return os.path.join(os.path.normcase(os.path.realpath(path)), "")


_PREFIX_SUBDIRS = ("lib", "lib64", "Lib", "DLLs", "include", "Include", "bin", "Scripts", "share")


@functools.cache
def _system_dirs() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(site-packages dirs, stdlib dirs, interpreter prefixes), normalized."""
    paths = sysconfig.get_paths()
    sites = [paths.get("purelib"), paths.get("platlib")]
    try:
        sites.extend(site.getsitepackages())
    except AttributeError:  # some virtualenv builds lack it
        pass
    try:
        sites.append(site.getusersitepackages())
    except AttributeError:
        pass
    stdlib = [paths.get("stdlib"), paths.get("platstdlib")]
    # What an interpreter installs under its prefixes. Not the prefix itself:
    # with a system Python (prefix /usr), /usr/src/app is still user code.
    prefixes = [
        os.path.join(prefix, sub)
        for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)
        for sub in _PREFIX_SUBDIRS
    ]

    def norm(items: Iterable[str | None]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(_norm_dir(p) for p in items if p))

    return norm(sites), norm(stdlib), norm(prefixes)


def is_installed_dir(directory: str) -> bool:
    """Whether ``directory`` is (inside) site-packages, the standard library or what the
    interpreter installed under its prefixes: not user code."""
    sites, stdlib, prefixes = _system_dirs()
    return _norm_dir(directory).startswith(sites + stdlib + prefixes)


def _path_kind(file: str) -> str:
    path = os.path.normcase(os.path.realpath(file))
    sites, stdlib, prefixes = _system_dirs()
    if path.startswith(sites):
        return _PACKAGE
    if path.startswith(stdlib):
        return _STDLIB
    if path.startswith(prefixes):
        return _PACKAGE
    return _USER


def _module_file(module: Any) -> str | None:
    file = getattr(module, "__file__", None)
    if isinstance(file, str) and file:
        return file
    path = getattr(module, "__path__", None)  # a namespace package
    if path is not None:
        for entry in path:
            if isinstance(entry, str) and entry:
                return entry
    return None


def _module_kind(name: str | None, module: Any = None) -> str:
    """Classify a module: user code, stdlib, installed package, redun, unknown."""
    if not name:
        return _UNKNOWN
    if module is None:
        module = sys.modules.get(name)
    file = _module_file(module) if module is not None else None
    key = (name, file)
    kind = _MODULE_KINDS.get(key)
    if kind is not None:
        return kind
    top = name.partition(".")[0]
    if top in _ENGINE_PACKAGES:
        kind = _ENGINE
    elif name == "__main__":
        kind = _USER
    elif file is not None and not (file.startswith("<") and file.endswith(">")):
        kind = _path_kind(file)
    elif top in sys.stdlib_module_names or name in sys.builtin_module_names:
        kind = _STDLIB
    else:
        kind = _UNKNOWN
    _MODULE_KINDS[key] = kind
    return kind


def is_user_module(module_or_name: types.ModuleType | str) -> bool:
    """Return True if a module (or module name) holds the user's own code.

    A user module's file is outside the interpreter's prefixes, its
    site-packages and its standard library, and it is not part of redun;
    ``__main__`` always counts as user code.
    """
    if isinstance(module_or_name, str):
        return _module_kind(module_or_name) == _USER
    return _module_kind(getattr(module_or_name, "__name__", None), module_or_name) == _USER


def _function_kind(fn: types.FunctionType) -> str:
    kind = _module_kind(fn.__module__)
    if kind == _UNKNOWN:
        # A function whose module is not importable (exec'd into a fresh
        # namespace): judge by the file its code came from.
        filename = fn.__code__.co_filename
        if filename and not (filename.startswith("<") and filename.endswith(">")):
            kind = _path_kind(filename)
    return kind


# --------------------------------------------------------------------------
# Installed distributions.


@functools.cache
def _packages_distributions() -> dict[str, list[str]]:
    import importlib.metadata

    try:
        return dict(importlib.metadata.packages_distributions())
    except Exception:
        return {}


def _distribution_versions(top: str) -> tuple[tuple[str, str], ...]:
    """Return ``((distribution name, version), ...)`` providing module ``top``."""
    cached = _PACKAGES.get(top)
    if cached is not None:
        return cached
    import importlib.metadata  # slow to import: only when a package is referenced

    found: list[tuple[str, str]] = []
    # Fast path: a distribution named like its module (rich, sqlalchemy, ...),
    # unless its top_level.txt says it provides other modules.
    try:
        dist = importlib.metadata.distribution(top)
    except Exception:
        dist = None
    if dist is not None:
        top_level = dist.read_text("top_level.txt")
        if top_level is None or top in top_level.split():
            metadata = dist.metadata  # parsed on each access: read it once
            found.append((metadata["Name"] or top, metadata["Version"] or "unknown"))
    if not found:
        for name in sorted(set(_packages_distributions().get(top, ()))):
            try:
                found.append((name, importlib.metadata.version(name)))
            except Exception:
                found.append((name, "unknown"))
    if not found:
        module = sys.modules.get(top)
        version = getattr(module, "__version__", None)
        found.append((top, str(version) if version is not None else "unknown"))
    result = tuple(found)
    _PACKAGES[top] = result
    return result
