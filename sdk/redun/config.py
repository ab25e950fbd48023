"""Configuration: ``redun.ini`` in the config directory (``.redun/`` by default).

As in the original, the user's file is read over the defaults (so a file without
``[backend]`` keeps the SQLite cache in the config directory), and a relative
``db_uri = sqlite:///redun.db`` is relative to the config directory.

Sections used by the SDK::

    [backend]
    db_uri = sqlite:///${config_dir}/redun.db

    [scheduler]
    context = {"key": "value"}       # JSON, read by redun.get_context()

    [executors.default]
    type = threads                   # or local (mode = thread|process), processes, ...
    max_workers = 20

    [limits]
    gpu = 1

    [file]
    # How local files are hashed: stat (size and mtime; the default) or content.
    hash = content
"""

from __future__ import annotations

import collections
import configparser
import os
import re
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


class _EnvironmentInterpolation(configparser.ExtendedInterpolation):
    """``${name}`` is an option of the section (or ``[DEFAULT]``), else the environment
    variable ``name``, as in redun: ``role = ${BATCH_ROLE}``. ``${section:option}``
    reads another section."""

    def before_get(self, parser: Any, section: str, option: str, value: str, defaults: Any) -> str:
        merged = collections.ChainMap(defaults, dict(os.environ))
        return super().before_get(parser, section, option, value, merged)  # type: ignore[arg-type]


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

    def read_string(self, text: str, source: str = "<string>") -> None:
        """Read ini ``text``.

        Raises:
            ConfigError: it does not parse (names ``source`` and the line).
        """
        parser = configparser.ConfigParser(
            interpolation=_EnvironmentInterpolation(),
            defaults={"config_dir": self.configdir},
        )
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            parser.read_string(text, source=source)
            read = {
                section: {
                    key: parser.get(section, key)
                    for key in parser.options(section)
                    if key != "config_dir"
                }
                for section in parser.sections()
            }
        except configparser.Error as error:
            raise _config_error(source, error) from None
        for section, options in read.items():
            self._sections.setdefault(section, {}).update(options)

    def read_path(self, filename: str) -> None:
        with open(filename, encoding="utf-8") as handle:
            self.read_string(handle.read(), source=filename)

    def read_dict(self, config_dict: dict) -> None:
        for section, options in config_dict.items():
            target = self._sections.setdefault(section, {})
            for key, value in options.items():
                target[key] = (
                    value.replace("${config_dir}", self.configdir)
                    if isinstance(value, str)
                    else value
                )

    def _nested(self, prefix: str) -> dict[str, dict[str, str]] | None:
        """``{"batch": {...}}`` for ``prefix="executors"`` from ``[executors.batch]``."""
        start = prefix + "."
        found = {
            name[len(start) :]: options
            for name, options in self._sections.items()
            if name.startswith(start)
        }
        return found or None

    def get(self, key: str, default: Any = None) -> Any:
        """A section's options; as in redun, ``get("executors")`` gives the
        ``[executors.NAME]`` sections by NAME when there is no ``[executors]``."""
        found: dict[str, Any] | None = self._sections.get(key)
        if found is None:
            found = self._nested(key)
        return default if found is None else found

    def __getitem__(self, section: str) -> dict[str, Any]:
        found: dict[str, Any] | None = self._sections.get(section)
        if found is None:
            found = self._nested(section)
            if found is None:
                raise KeyError(section)
        return found

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


def load_config(
    config_dir: str | None = None, *, create: bool = True, check_types: bool = False
) -> Config:
    """Read ``<config_dir>/redun.ini``, writing the default file first if ``create``.

    Also applies the process-wide settings it holds (``[file] hash``).
    ``check_types`` also checks executor types (once the workflow, which may
    register its own, is imported).

    Raises:
        ConfigError: the file does not parse or holds a bad value.
    """
    config_dir = os.path.abspath(config_dir or os.environ.get("REDUN_CONFIG") or DEFAULT_CONFIG_DIR)
    path = os.path.join(config_dir, CONFIG_FILENAME)
    if create and not os.path.exists(path):
        # The home holds values and provenance: its owner's alone.
        os.makedirs(config_dir, mode=0o700, exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(DEFAULT_INI)
    config = Config(configdir=config_dir)
    # The user's file is read over the defaults, as the original does: a redun.ini
    # without [backend] still keeps its cache in the config directory.
    config.read_string(DEFAULT_INI)
    if os.path.exists(path):
        config.read_path(path)
        check_config(config, path, check_types=check_types)
    backend = config.get("backend")
    if backend and backend.get("db_uri"):
        backend["db_uri"] = absolute_db_uri(backend["db_uri"], config_dir)
    # Process-wide settings a workflow's config chooses: [file] hash = stat|content.
    from redun.file.hash_mode import configure_hash_mode

    configure_hash_mode(config)
    return config


def _config_error(source: str, error: configparser.Error) -> Exception:
    """A one-line ConfigError for a configparser error."""
    from redun.errors import ConfigError

    lineno = getattr(error, "lineno", None)
    if isinstance(error, configparser.MissingSectionHeaderError):
        what = f"line {lineno}: expected a [section] header, got {error.line.strip()!r}"
    elif isinstance(error, configparser.ParsingError):
        where = ", ".join(f"line {number}: {line.strip()!r}" for number, line in error.errors[:3])
        what = f"cannot parse {where} (expected [section] or key = value)"
    elif isinstance(error, configparser.DuplicateSectionError):
        what = f"line {lineno}: section [{error.section}] appears twice"
    elif isinstance(error, configparser.DuplicateOptionError):
        what = f"line {lineno}: option {error.option!r} appears twice in [{error.section}]"
    elif isinstance(error, configparser.InterpolationMissingOptionError):
        what = (
            f"[{error.section}] {error.option}: ${{{error.reference}}} is neither an option "
            f"of [{error.section}] or [DEFAULT] nor a set environment variable"
        )
    elif isinstance(error, configparser.InterpolationError):
        what = f"[{error.section}] {error.option}: {error.message.splitlines()[0]}"
    else:
        what = str(error).splitlines()[0]
    return ConfigError(f"{source}: {what}")


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def parse_flag(value: Any, default: bool, what: str) -> bool:
    """A config option's true/false value (``default`` if unset).

    Raises:
        UsageError: not one of 1/0, true/false, yes/no, on/off; ``what`` names the option.
    """
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    from redun.errors import UsageError

    raise UsageError(f"{what} = {value!r} is not true or false")


def check_config(config: Config, source: str, *, check_types: bool = True) -> None:
    """Check the values redun reads from ``config``, so a bad one fails now, not mid-run.

    ``check_types=False`` leaves executor types alone (a workflow may register
    its own when it is imported: check them after that).

    Raises:
        ConfigError: a bad value, naming ``source``, the section, option and value.
    """
    from redun.errors import ConfigError

    def bad(section: str, key: str, value: Any, expected: str) -> ConfigError:
        return ConfigError(f"{source}: [{section}] {key} = {value!r}: expected {expected}")

    def whole(section: str, key: str, value: Any, least: int) -> None:
        try:
            if int(str(value).strip()) >= least:
                return
        except ValueError:
            pass
        raise bad(section, key, value, f"an integer >= {least}")

    for section, options in config.items():
        if section.startswith("executors."):
            kind = options.get("type")
            # With `class = module.Class` the type is only a label: the class is
            # imported when the executor is first made (as redun does).
            if kind is not None and check_types and not options.get("class"):
                from redun.errors import UsageError
                from redun.executors.base import executor_types, get_executor_class

                types = executor_types()
                if "." in kind:  # a class of the user's own: it must import
                    try:
                        get_executor_class(kind)
                    except UsageError as error:
                        raise ConfigError(f"{source}: [{section}] type: {error}") from None
                elif kind not in types:
                    raise bad(section, "type", kind, f"one of {', '.join(types)}")
            for key in ("max_workers",):
                if key in options:
                    whole(section, key, options[key], 1)
            if str(options.get("inline", "true")).strip().lower() not in (*_TRUE, *_FALSE, ""):
                raise bad(section, "inline", options["inline"], "true or false")
        elif section == "limits":
            for key, value in options.items():
                whole(section, key, value, 0)
    context = (config.get("scheduler") or {}).get("context")
    if context:
        import json

        try:
            parsed = json.loads(context)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise bad("scheduler", "context", context, "a JSON object")


# The original's default before it made db_uri relative to the config directory.
_OLD_DEFAULT_URI = "sqlite:///.redun/redun.db"
_RELATIVE_SQLITE = re.compile(r"^(?P<scheme>sqlite(\+\w+)?):///(?P<path>[^/].*)$")


def absolute_db_uri(uri: str, config_dir: str) -> str:
    """A SQLite URL with a relative path, made absolute against ``config_dir``.

    ``sqlite:///redun.db`` in ``.redun/redun.ini`` is ``.redun/redun.db``, wherever
    the command runs; other URLs (absolute paths, in-memory, servers) are unchanged.
    """
    if uri.strip() == _OLD_DEFAULT_URI:
        uri = "sqlite:///redun.db"
    match = _RELATIVE_SQLITE.match(uri.strip())
    if match is None:
        return uri
    path = match.group("path")
    if path.startswith((":memory:", "file:", "~")):
        return uri
    absolute = os.path.join(os.path.abspath(config_dir), path)
    return f"{match.group('scheme')}:///{absolute}"


def find_config_dir(explicit: str | None) -> str:
    """``-c`` DIR, else $REDUN_CONFIG, else the nearest ``.redun`` up from here, else ./.redun."""
    if explicit:
        return explicit
    env = os.environ.get("REDUN_CONFIG")
    if env:
        return env
    return nearest_config_dir(os.getcwd()) or DEFAULT_CONFIG_DIR


def nearest_config_dir(start: str) -> str | None:
    """The nearest ``.redun`` directory in ``start`` or above it, or None."""
    base = os.path.abspath(start)
    while True:
        candidate = os.path.join(base, DEFAULT_CONFIG_DIR)
        if os.path.isdir(candidate):
            return candidate
        parent = os.path.dirname(base)
        if parent == base:
            return None
        base = parent
