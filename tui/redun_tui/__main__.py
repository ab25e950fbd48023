"""``redun-tui``: not built yet (see the TUI issue)."""

from __future__ import annotations

import sys


def main() -> int:
    print("redun-tui: the terminal UI is not built yet; use 'redun run' meanwhile", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
