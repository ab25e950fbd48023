"""The ``redun`` command line."""

from typing import Any


def __getattr__(name: str) -> Any:
    # redun.cli.setup_scheduler, as redun's own run() and users' scripts call it.
    if name in ("setup_scheduler", "get_user_setup_func", "parse_setup_args"):
        from redun.cli import setup

        return getattr(setup, name)
    raise AttributeError(f"module 'redun.cli' has no attribute {name!r}")
