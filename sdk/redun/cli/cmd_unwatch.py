"""``redun unwatch ID``: remove a watch (see :mod:`cmd_watch`)."""

from __future__ import annotations

from redun.cli.cmd_watch import register_unwatch as register

__all__ = ["register"]
