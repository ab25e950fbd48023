"""The ``redun`` command line."""

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    # redun.cli.setup_scheduler, as redun's own run() and users' scripts call it.
    if name in ("setup_scheduler", "get_user_setup_func", "parse_setup_args"):
        from redun.cli import setup

        return getattr(setup, name)
    # (import_module, not "from redun.cli import api": that asks this hook for "api".)
    api = importlib.import_module("redun.cli.api")
    if name in api.__all__ or name == "REDUN_CONFIG_ENV":
        return getattr(api, name)
    raise AttributeError(f"module 'redun.cli' has no attribute {name!r}")
