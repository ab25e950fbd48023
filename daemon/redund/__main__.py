"""``redund``: not built yet (see the daemon issue)."""

from __future__ import annotations

import sys


def main() -> int:
    print("redund: the daemon is not built yet; use 'redun run' meanwhile", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
