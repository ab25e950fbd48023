"""The ``redun`` command line."""

from typing import Any

_API = frozenset(
    {
        "RedunClient",
        "check_version",
        "find_config_dir",
        "get_config_dir",
        "import_script",
        "parse_func_path",
        "REDUN_CONFIG_ENV",
    }
)


def __getattr__(name: str) -> Any:
    # redun.cli.setup_scheduler, as redun's own run() and users' scripts call it.
    if name in ("setup_scheduler", "get_user_setup_func", "parse_setup_args"):
        from redun.cli import setup

        return getattr(setup, name)
    if name in _API:
        from redun.cli import api

        return getattr(api, name)
    raise AttributeError(f"module 'redun.cli' has no attribute {name!r}")
