"""Errors of the terminal UI.

::

    RedunError
    └── TuiError              something the UI cannot do
        └── ReadOnlySource    an action that needs the daemon, while browsing the database

Errors of the daemon's client (``redun.client.ClientError``) and of the
database (``redun.errors.BackendError``) reach the screens as they are: they
already name the problem and what to do.
"""

from __future__ import annotations

from redun.errors import RedunError


class TuiError(RedunError):
    """Something the terminal UI cannot do."""


class ReadOnlySource(TuiError):
    """An action that needs the daemon (submit, cancel, watch) while browsing the database."""
