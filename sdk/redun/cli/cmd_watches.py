"""``redun watches [--paths] [--json]``: list the daemon's watches (see :mod:`cmd_watch`)."""

from __future__ import annotations

from redun.cli.cmd_watch import register_watches as register

__all__ = ["register"]
