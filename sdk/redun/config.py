"""Configuration: ``redun.ini`` in the config directory (``.redun/`` by default).

Sections used by the SDK::

    [backend]
    db_uri = sqlite:///${config_dir}/redun.db

    [scheduler]
    context = {"key": "value"}       # JSON, read by redun.get_context()

    [executors.default]
    type = threads
    max_workers = 20

    [limits]
    gpu = 1

    [file]
    # How local files are hashed: stat (size and mtime; the default) or content.
    hash = content
"""

from __future__ import annotations

import configparser
import os
from collections.abc import Iterable
from typing import Any

DEFAULT_CONFIG_DIR = ".redun"
CONFIG_FILENAME = "redun.ini"

DEFAULT_INI = """\
# redun configuration. ${config_dir} is the directory holding this file.
[backend]
db_uri = sqlite:///${config_dir}/redun.db

[executors.default]
type = threads
max_workers = 20
"""


class Config:
    """A two-level mapping of sections to options, readable from ini text or dicts."""

    def __init__(self, config_dict: dict | None = None, configdir: str | None = None) -> None:
        self._configdir = configdir
        self._sections: dict[str, dict[str, str]] = {}
        if config_dict:
            self.read_dict(config_dict)

    @property
    def configdir(self) -> str:
        return self._configdir or os.path.abspath(DEFAULT_CONFIG_DIR)

    def read_string(self, text: str) -> None:
        parser = configparser.ConfigParser(
            interpolation=configparser.ExtendedInterpolation(),
            defaults={"config_dir": self.configdir},
        )
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(text)
        for section in parser.sections():
            options = self._sections.setdefault(section, {})
            for key in parser.options(section):
                if key == "config_dir":
                    continue
                options[key] = parser.get(section, key)

    def read_path(self, filename: str) -> None:
        with open(filename, encoding="utf-8") as handle:
            self.read_string(handle.read())

    def read_dict(self, config_dict: dict) -> None:
        for section, options in config_dict.items():
            target = self._sections.setdefault(section, {})
            for key, value in options.items():
                target[key] = (
                    value.replace("${config_dir}", self.configdir)
                    if isinstance(value, str)
                    else value
                )

    def get(self, key: str, default: Any = None) -> Any:
        return self._sections.get(key, default)

    def __getitem__(self, section: str) -> dict[str, str]:
        return self._sections[section]

    def __setitem__(self, section: str, options: dict[str, str]) -> None:
        self._sections[section] = dict(options)

    def __contains__(self, section: object) -> bool:
        return section in self._sections

    def keys(self) -> Iterable[str]:
        return self._sections.keys()

    def items(self) -> Iterable[tuple[str, dict[str, str]]]:
        return self._sections.items()

    def get_config_dict(self) -> dict[str, dict[str, str]]:
        return {name: dict(options) for name, options in self._sections.items()}


def load_config(config_dir: str | None = None, *, create: bool = True) -> Config:
    """Read ``<config_dir>/redun.ini``, writing the default file first if ``create``.

    Also applies the process-wide settings it holds (``[file] hash``).
    """
    config_dir = os.path.abspath(config_dir or os.environ.get("REDUN_CONFIG") or DEFAULT_CONFIG_DIR)
    path = os.path.join(config_dir, CONFIG_FILENAME)
    if create and not os.path.exists(path):
        os.makedirs(config_dir, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(DEFAULT_INI)
    config = Config(configdir=config_dir)
    if os.path.exists(path):
        config.read_path(path)
    else:
        config.read_string(DEFAULT_INI)
    # Process-wide settings a workflow's config chooses: [file] hash = stat|content.
    from redun.file.hash_mode import configure_hash_mode

    configure_hash_mode(config)
    return config


def find_config_dir(explicit: str | None) -> str:
    """``-c`` DIR, else $REDUN_CONFIG, else the nearest ``.redun`` up from here, else ./.redun."""
    if explicit:
        return explicit
    env = os.environ.get("REDUN_CONFIG")
    if env:
        return env
    base = os.getcwd()
    while True:
        candidate = os.path.join(base, DEFAULT_CONFIG_DIR)
        if os.path.isdir(candidate):
            return candidate
        parent = os.path.dirname(base)
        if parent == base:
            return DEFAULT_CONFIG_DIR
        base = parent
