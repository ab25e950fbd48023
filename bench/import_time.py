"""How long `import redun` takes in a fresh interpreter (budget: well under 0.5 s).

Runs `python -c "import redun"` --repeat times with bytecode caching on (as
on a user's machine: PYTHONDONTWRITEBYTECODE is removed from the child's
environment, and a first run writes the .pyc files) and prints the best and
the median of the time spent in the import itself, and of the whole process.

  .venv/bin/python bench/import_time.py
  .venv/bin/python bench/import_time.py --module redun.client --repeat 20
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

BUDGET = 0.5  # seconds


def once(module: str, env: dict[str, str]) -> tuple[float, float]:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    return float(out.strip().splitlines()[-1]), time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/import_time.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--module", default="redun")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args(argv)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    once(args.module, env)  # writes the bytecode
    runs = [once(args.module, env) for _ in range(args.repeat)]
    imports = [r[0] for r in runs]
    processes = [r[1] for r in runs]
    print(f"import {args.module} ({args.repeat} runs, bytecode cached):")
    print(f"  import:  best {min(imports):.3f} s  median {statistics.median(imports):.3f} s")
    print(f"  process: best {min(processes):.3f} s  median {statistics.median(processes):.3f} s")
    within = statistics.median(imports) < BUDGET
    print(f"  budget {BUDGET} s: {'within' if within else 'OVER'}")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
