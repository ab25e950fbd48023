"""The commit and origin URL of a git checkout, read from ``.git`` without running git.

Every ``redun run`` tags its execution with ``git_commit`` and
``git_origin_url``. Starting ``git`` twice for that cost more than the rest of
a cached run, so the common layouts are read directly: ``.git`` a directory or
a ``gitdir:`` file (worktrees, submodules), ``HEAD`` detached or naming a
branch, the branch a loose ref or in ``packed-refs``, ``commondir`` for a
worktree's shared refs and config. Anything else (a reftable repository, a ref
that points at another ref, a file that does not parse) is answered by ``git``
itself, as before.
"""

from __future__ import annotations

import os
import re

__all__ = ["git_commit", "git_origin_url"]

_SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


class _Unsure(Exception):
    """The checkout's layout is not one read here: ask git."""


def _find_git_dir(start: str) -> str | None:
    """The git directory of the checkout holding ``start`` (None: not in one)."""
    path = os.path.abspath(start)
    while True:
        dot_git = os.path.join(path, ".git")
        if os.path.isdir(dot_git):
            return dot_git
        if os.path.isfile(dot_git):
            with open(dot_git, encoding="utf-8") as file:
                text = file.read().strip()
            if not text.startswith("gitdir:"):
                raise _Unsure(dot_git)
            target = text[len("gitdir:") :].strip()
            return os.path.normpath(os.path.join(path, target))
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def _common_dir(git_dir: str) -> str:
    try:
        with open(os.path.join(git_dir, "commondir"), encoding="utf-8") as file:
            return os.path.normpath(os.path.join(git_dir, file.read().strip()))
    except FileNotFoundError:
        return git_dir


def _read_ref(git_dir: str, common: str, ref: str) -> str | None:
    for base in (git_dir, common):
        try:
            with open(os.path.join(base, ref), encoding="utf-8") as file:
                value = file.read().strip()
        except (FileNotFoundError, NotADirectoryError):
            continue
        if _SHA.match(value):
            return value
        raise _Unsure(ref)  # a symbolic ref, or something else
    try:
        with open(os.path.join(common, "packed-refs"), encoding="utf-8") as file:
            for line in file:
                sha, _, name = line.rstrip("\n").partition(" ")
                if name == ref and _SHA.match(sha):
                    return sha
    except FileNotFoundError:
        pass
    return None  # an unborn branch: no commit yet


def _checked_git_dir(start: str) -> str | None:
    if any(
        name.startswith(("GIT_DIR", "GIT_WORK_TREE", "GIT_CONFIG", "GIT_COMMON_DIR"))
        for name in os.environ
    ):
        raise _Unsure("git environment")
    git_dir = _find_git_dir(start)
    if git_dir is not None and os.stat(git_dir).st_uid != os.getuid():
        raise _Unsure("owner")  # git's safe.directory rules decide
    return git_dir


def _read_commit(start: str) -> str | None:
    git_dir = _checked_git_dir(start)
    if git_dir is None:
        return None
    common = _common_dir(git_dir)
    if os.path.isdir(os.path.join(common, "reftable")):
        raise _Unsure("reftable")
    with open(os.path.join(git_dir, "HEAD"), encoding="utf-8") as file:
        head = file.read().strip()
    if _SHA.match(head):
        return head
    if not head.startswith("ref: refs/"):
        raise _Unsure(head)
    return _read_ref(git_dir, common, head[len("ref: ") :].strip())


def _global_rewrites() -> bool:
    """True if a user or system git config may rewrite URLs (``insteadOf``) or include others."""
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    for path in (
        os.path.join(home, ".gitconfig"),
        os.path.join(xdg, "git", "config"),
        "/etc/gitconfig",
    ):
        try:
            with open(path, encoding="utf-8") as file:
                text = file.read().lower()
        except (FileNotFoundError, NotADirectoryError):
            continue
        if "insteadof" in text or "[include" in text:
            return True
    return False


def _read_origin(start: str) -> str | None:
    git_dir = _checked_git_dir(start)
    if git_dir is None:
        return None
    if _global_rewrites():
        raise _Unsure("global config")
    with open(os.path.join(_common_dir(git_dir), "config"), encoding="utf-8") as file:
        text = file.read()
    lowered = text.lower()
    if "insteadof" in lowered or "[include" in lowered:
        raise _Unsure("config rewrites or includes")
    in_origin = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("["):
            in_origin = re.fullmatch(r'\[remote\s+"origin"\]', line, re.IGNORECASE) is not None
            continue
        if in_origin:
            key, sep, value = line.partition("=")
            if sep and key.strip().lower() == "url":
                value = value.strip()
                if not value or any(c in value for c in "\"'\\#;"):
                    raise _Unsure(value)
                return value
    return None


def _git(args: list[str], cwd: str) -> str | None:
    import subprocess

    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def git_commit(cwd: str) -> str | None:
    """The commit checked out in the git checkout holding ``cwd`` (None: none)."""
    try:
        return _read_commit(cwd)
    except (_Unsure, OSError, UnicodeDecodeError):
        return _git(["rev-parse", "--verify", "HEAD"], cwd)


def git_origin_url(cwd: str) -> str | None:
    """The URL of the ``origin`` remote of the checkout holding ``cwd`` (None: none)."""
    try:
        return _read_origin(cwd)
    except (_Unsure, OSError, UnicodeDecodeError):
        return _git(["remote", "get-url", "origin"], cwd)
