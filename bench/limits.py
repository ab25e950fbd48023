"""Resource limits at scale: n trivial jobs with and without a limited resource.

Each size runs a fan-out of n trivial tasks in one interpreter (in-memory
store, thread executor): once plain ("unlimited"), once with every job taking
one slot of a resource whose capacity is --capacity ("limited"), so nearly
all of them wait in its queue. Prints seconds per run (best of --repeat) and
limited / unlimited. With per-resource wait queues the ratio stays flat as n
grows; a scheduler that re-offers every waiting job on each release grows
quadratically.

  .venv/bin/python bench/limits.py                     # 1000, 2000, 4000, 10000
  .venv/bin/python bench/limits.py --sizes 500,1000 --capacity 8
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

from redun import Scheduler, task
from redun.config import Config

redun_namespace = "bench_limits"


@task(cache=False)
def work(i: int) -> int:
    return i


@task(cache=False, limits=["slot"])
def limited_work(i: int) -> int:
    return i


def fanout(n: int, limited: bool) -> list:
    step = limited_work if limited else work
    return [step(i) for i in range(n)]


def measure(n: int, limited: bool, capacity: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        scheduler = Scheduler(
            config=Config({"limits": {"slot": str(capacity)}, "backend": {"db_uri": "memory"}})
        )
        expr = fanout(n, limited)
        gc.collect()
        start = time.perf_counter()
        result = scheduler.run(expr)
        elapsed = time.perf_counter() - start
        scheduler.stop()
        assert result == list(range(n)), "wrong result"
        best = min(best, elapsed)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/limits.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sizes", default="1000,2000,4000,10000", metavar="N,N")
    parser.add_argument("--capacity", type=int, default=4, help="slots of the resource")
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure (best is kept)")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size]
    print(f"{'n':>6}  {'unlimited':>10}  {'limited':>10}  {'limited/unlimited':>17}")
    for n in sizes:
        plain = measure(n, False, args.capacity, args.repeat)
        limited = measure(n, True, args.capacity, args.repeat)
        print(f"{n:>6}  {plain:>9.3f}s  {limited:>9.3f}s  {limited / plain:>16.2f}x")
        sys.stdout.flush()
    print(f"(capacity {args.capacity}; best of {args.repeat}; python {sys.version.split()[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
