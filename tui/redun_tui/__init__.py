"""redun-tui: the terminal UI of redun (``redun-tui``, or ``python -m redun_tui``).

``RedunApp`` is loaded on first use, so importing this package does not load Textual.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RedunApp"]


def __getattr__(name: str) -> Any:
    if name == "RedunApp":
        from redun_tui.app import RedunApp

        return RedunApp
    raise AttributeError(f"module 'redun_tui' has no attribute {name!r}")
