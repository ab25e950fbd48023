"""Configuration helpers under redun's names: where the config lives, absolute db URIs.

The engine reads configuration through :mod:`redun.config`; these are the
functions and constants redun users' code and scripts import.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlparse, urlunparse

from redun.config import CONFIG_FILENAME, DEFAULT_CONFIG_DIR, DEFAULT_INI, Config

REDUN_CONFIG_ENV = "REDUN_CONFIG"
REDUN_USER_ENV = "REDUN_USER"
REDUN_CONFIG_DIR = DEFAULT_CONFIG_DIR
REDUN_INI_FILE = CONFIG_FILENAME
DEFAULT_REPO_NAME = "default"
DEFAULT_DB_URI = "sqlite:///redun.db"
DEFAULT_POSTGRESQL_PORT = 5432
DEFAULT_REDUN_INI = DEFAULT_INI


def get_abs_url(uri: str, base: str) -> str:
    """``uri`` with a relative file path made absolute under ``base``.

    ``sqlite:///redun.db`` under ``/p/.redun`` is ``sqlite:////p/.redun/redun.db``;
    URIs with a host (``postgresql://host/db``) and absolute ones are kept.
    """
    if re.match(r"^[^:]+:////", uri):
        return uri
    parts = urlparse(uri)
    if parts.netloc:
        return uri
    path = os.path.join(base, parts.path[1:])
    absolute = urlunparse(parts._replace(path=path, netloc=""))
    return re.sub(r"^([^:]+):", r"\1:///", absolute)


def get_abs_config_dir(config_dir: str, cwd: str | None = None) -> str:
    """``config_dir`` as an absolute path (relative to ``cwd``, default the current one)."""
    return os.path.normpath(os.path.join(cwd or os.getcwd(), config_dir))


def get_abs_db_uri(db_uri: str, config_dir: str, cwd: str | None = None) -> str:
    """``db_uri`` with a relative path taken as relative to ``config_dir``."""
    return get_abs_url(db_uri, get_abs_config_dir(config_dir, cwd))


def postprocess_config(config: Config, config_dir: str) -> Config:
    """Fill in what a config read from ``config_dir`` leaves implicit (in place).

    A missing ``[backend] db_uri`` becomes ``redun.db`` in the config directory,
    a relative one is made absolute there, ``config_dir`` is recorded in
    ``[backend]``, and a relative ``[scheduler] context_file`` is made absolute.
    """
    backend = dict(config.get("backend") or {})
    db_uri = backend.get("db_uri") or DEFAULT_DB_URI
    if db_uri == "sqlite:///.redun/redun.db":  # an old default, relative to the project
        db_uri = DEFAULT_DB_URI
    backend["db_uri"] = get_abs_db_uri(db_uri, config_dir)
    backend["config_dir"] = config_dir
    config["backend"] = backend
    scheduler = dict(config.get("scheduler") or {})
    context_file = scheduler.get("context_file")
    if context_file and not os.path.isabs(context_file):
        scheduler["context_file"] = os.path.join(get_abs_config_dir(config_dir), context_file)
    config["scheduler"] = scheduler
    repos = dict(config.get("repos") or {})
    repos[DEFAULT_REPO_NAME] = {"config_dir": config_dir}  # type: ignore[assignment]
    config["repos"] = repos  # type: ignore[assignment]
    return config
