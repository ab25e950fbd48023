"""Point the editable install at the source folders with plain path entries.

``pip install -e .`` installs an import hook for a project whose packages live
in several folders (sdk/, daemon/, tui/). Loading it at every interpreter
start costs about 12 ms (it imports pathlib, importlib.util and more), which a
``redun run`` pays each time, and a user's regular install never does. Each
folder holds exactly one top-level package, so listing the three folders in
the ``.pth`` file finds the same modules. Run by ``make setup``; running it
again is harmless.
"""

from __future__ import annotations

import glob
import os
import sys
import sysconfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOLDERS = ("sdk", "daemon", "tui")


def main() -> int:
    purelib = sysconfig.get_paths()["purelib"]
    found = glob.glob(os.path.join(purelib, "__editable__.redun-*.pth"))
    if not found:
        print("editable_paths: no editable redun install in", purelib, file=sys.stderr)
        return 1
    for path in found:
        with open(path, "w", encoding="utf-8") as file:
            file.write("".join(os.path.join(ROOT, folder) + "\n" for folder in FOLDERS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
