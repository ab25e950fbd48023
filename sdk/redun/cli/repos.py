"""Named repositories: ``[repos.NAME] config_dir = DIR`` sections of redun.ini.

``redun repo add|list|remove`` edit and read them; ``redun push|pull NAME``
open the store of the config directory a name stands for (``default`` is the
current one, as for ``redun --repo NAME``). The file is edited as text, so
its comments and layout stay.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

from redun.errors import BackendError, UsageError

DEFAULT_REPO = "default"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_SECTION = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*$")


def local_config_dir(args: argparse.Namespace) -> str:
    """The config directory the command was started in, before any ``--repo``.

    ``--repo NAME`` replaces ``args.config`` with the repository's directory;
    repository names are still looked up in the local redun.ini, as redun does.
    """
    from redun.config import find_config_dir

    # Set by --repo (redun.cli.global_options) to the -c given, which may be None.
    local = args.local_config if hasattr(args, "local_config") else args.config
    return os.path.abspath(find_config_dir(local))


def read_repos(config_dir: str) -> dict[str, str]:
    """``{name: config_dir}`` of the ``[repos.NAME]`` sections (none given: ``""``).

    Read raw, as ``redun --repo`` reads them: :class:`~redun.config.Config` takes
    ``config_dir`` as the ``${config_dir}`` default, not as an option.

    Raises:
        UsageError: the file does not parse.
    """
    import configparser

    from redun.config import CONFIG_FILENAME

    path = os.path.join(config_dir, CONFIG_FILENAME)
    ini = configparser.ConfigParser(interpolation=None)
    ini.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        ini.read(path, encoding="utf-8")
    except configparser.Error as error:
        raise UsageError(f"cannot read {path}: {error}") from None
    repos = {}
    for section in ini.sections():
        if section.startswith("repos."):
            directory = ini[section].get("config_dir", "")
            repos[section[len("repos.") :]] = directory.replace("${config_dir}", config_dir)
    return repos


def repo_config_dir(local_dir: str, name: str) -> str:
    """The config directory ``name`` stands for (``default``: ``local_dir``).

    Raises:
        UsageError: no such repository, or no config_dir (or no redun.ini there).
    """
    from redun.config import CONFIG_FILENAME

    if name == DEFAULT_REPO:
        return local_dir
    ini = os.path.join(local_dir, CONFIG_FILENAME)
    repos = read_repos(local_dir)
    if name not in repos:
        known = ", ".join(sorted([DEFAULT_REPO, *repos]))
        raise UsageError(
            f"unknown repository {name!r}: no [repos.{name}] section in {ini} (known: {known}); "
            f"add one with: redun repo add {name} CONFIG_DIR"
        )
    directory = repos[name]
    if not directory:
        raise UsageError(f"repository {name!r}: [repos.{name}] in {ini} has no config_dir")
    if "://" in directory:
        raise UsageError(
            f"repository {name!r}: config_dir = {directory} is remote; only local config "
            "directories are supported"
        )
    directory = os.path.abspath(os.path.expanduser(directory))
    if not os.path.exists(os.path.join(directory, CONFIG_FILENAME)):
        raise UsageError(f"repository {name!r}: no {CONFIG_FILENAME} in {directory}")
    return directory


def open_repo_store(local_dir: str, name: str) -> Any:
    """The loaded store of repository ``name``.

    Raises:
        UsageError: an unknown repository (see :func:`repo_config_dir`).
        BackendError: its config directory has no database yet, or it cannot be opened.
    """
    from redun.backends.db import DbBackend
    from redun.config import load_config

    directory = repo_config_dir(local_dir, name)
    section = dict(load_config(directory, create=False).get("backend") or {})
    uri = section.get("db_uri") or f"sqlite:///{os.path.join(directory, 'redun.db')}"
    section["db_uri"] = uri
    backend = DbBackend(uri, section)
    path = backend.sqlite_file()
    if path is not None and not os.path.exists(path):
        raise BackendError(
            f"repository {name!r} ({directory}) has no database at {path}: "
            f"create it with: redun -c {directory} init"
        )
    backend.load()
    return backend


def add_repo(local_dir: str, name: str, config_dir: str) -> tuple[str, list[str]]:
    """Append ``[repos.NAME] config_dir = DIR`` (absolute) to the local redun.ini;
    returns the directory written and the repositories already using it.

    Raises:
        UsageError: a bad or taken name, or no redun.ini in ``config_dir``.
    """
    from redun.config import CONFIG_FILENAME, load_config

    if name == DEFAULT_REPO:
        raise UsageError(f"{DEFAULT_REPO!r} is the current repository; choose another name")
    if not _NAME.match(name):
        raise UsageError(f"repository name {name!r}: use letters, digits, '_', '-' and '.'")
    if "://" in config_dir:
        raise UsageError(f"{config_dir} is remote; only local config directories are supported")
    directory = os.path.abspath(os.path.expanduser(config_dir))
    if not os.path.exists(os.path.join(directory, CONFIG_FILENAME)):
        raise UsageError(
            f"no {CONFIG_FILENAME} in {directory}: create the repository first with: "
            f"redun -c {config_dir} init"
        )
    load_config(local_dir, create=True)  # the local file, if there is none yet
    repos = read_repos(local_dir)
    if name in repos:
        raise UsageError(f"repository {name!r} is already configured (config_dir = {repos[name]})")
    same = [
        other
        for other, path in repos.items()
        if path and os.path.abspath(os.path.expanduser(path)) == directory
    ]
    ini = os.path.join(local_dir, CONFIG_FILENAME)
    with open(ini, encoding="utf-8") as handle:
        text = handle.read()
    prefix = "" if text.endswith("\n\n") or not text else ("\n" if text.endswith("\n") else "\n\n")
    with open(ini, "a", encoding="utf-8") as handle:
        handle.write(f"{prefix}[repos.{name}]\nconfig_dir = {directory}\n")
    return directory, same


def remove_repo(local_dir: str, name: str) -> None:
    """Delete the ``[repos.NAME]`` section from the local redun.ini.

    Raises:
        UsageError: no such section.
    """
    from redun.config import CONFIG_FILENAME

    ini = os.path.join(local_dir, CONFIG_FILENAME)
    if name not in read_repos(local_dir):
        raise UsageError(f"repository {name!r} is not in {ini}")
    with open(ini, encoding="utf-8") as handle:
        lines = handle.readlines()
    kept: list[str] = []
    skipping = False
    for line in lines:
        match = _SECTION.match(line)
        if match is not None:
            skipping = match.group("name").strip() == f"repos.{name}"
        if not skipping:
            kept.append(line)
    while len(kept) >= 2 and not kept[-1].strip() and not kept[-2].strip():
        kept.pop()
    with open(ini, "w", encoding="utf-8") as handle:
        handle.writelines(kept)
