"""Remote execution: the scheduler's own cost per remote job, and how many submissions a fan-out takes.

Runs a fan-out of N trivial calls (default 1,000) through the ``subprocess``
executor (a real scratch, real launchers, one fresh ``redun oneshot`` process
per call) and reports, for the scheduler's process only:

- CPU per remote job: everything the scheduler's process spends (its loop,
  the remote layer's worker thread: writing calls, submitting, polling,
  reading results), divided by N. The jobs run in other processes, so their
  own run is excluded by construction;
- of which the remote layer's worker thread (submission + monitoring + result
  reads), measured with its own thread CPU clock;
- the number of platform submissions (one array for the whole fan-out);
- for reference, the scheduler's CPU per job for the same fan-out on the
  thread pool (the trivial function runs in process there).

Usage::

    .venv/bin/python bench/remote.py                 # N = 1000
    .venv/bin/python bench/remote.py --n 200 --concurrency 4

An in-memory store is used, so recording to a database is not in the figures
(see bench/overhead.py for that).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

FLOW = textwrap.dedent(
    """
    from redun import task

    redun_namespace = "bench_remote"


    @task(executor="remote")
    def remote_inc(x: int) -> int:
        return x + 1


    @task
    def local_inc(x: int) -> int:
        return x + 1


    @task
    def remote_fan(n: int) -> int:
        return sum_all([remote_inc(i) for i in range(n)])


    @task
    def local_fan(n: int) -> int:
        return sum_all([local_inc(i) for i in range(n)])


    @task
    def sum_all(xs: list) -> int:
        return sum(xs)
    """
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/remote.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=int, default=1000, help="calls in the fan-out (default 1000)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=os.cpu_count() or 2,
        help="array elements run at once (default: the number of CPUs)",
    )
    return parser.parse_args(argv)


def _thread_cpu(name: str) -> float:
    for thread in threading.enumerate():
        if thread.name == name and thread.ident is not None:
            try:
                return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
            except (OSError, AttributeError):
                return float("nan")
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from redun import Scheduler
    from redun.config import Config
    from redun.workflow.loader import find_task, import_workflow

    with tempfile.TemporaryDirectory(prefix="redun-bench-remote-") as tmp:
        root = Path(tmp)
        code = root / "code"
        code.mkdir()
        (code / "bench_remote_flow.py").write_text(FLOW)
        module = import_workflow(str(code / "bench_remote_flow.py"))
        config = Config(
            {
                "executors.remote": {
                    "type": "subprocess",
                    "scratch": str(root / "scratch"),
                    "code_root": str(code),
                    "max_concurrency": str(args.concurrency),
                },
                "backend": {"db_uri": "memory"},
            }
        )
        expected = sum(range(1, args.n + 1))

        local = Scheduler(config=config)
        cpu = time.process_time()
        assert local.run(find_task(module, "local_fan", "flow")(args.n)) == expected
        local_cpu = time.process_time() - cpu
        local.stop()

        scheduler = Scheduler(config=config)
        wall, cpu = time.perf_counter(), time.process_time()
        result = scheduler.run(find_task(module, "remote_fan", "flow")(args.n))
        remote_cpu = time.process_time() - cpu
        wall = time.perf_counter() - wall
        worker_cpu = _thread_cpu("redun-remote-remote")
        executor = scheduler.executors["remote"]
        submissions = executor.submissions
        scheduler.stop()
        if result != expected:
            print(f"wrong result: {result!r} (expected {expected})", file=sys.stderr)
            return 1

    n = args.n
    print(
        f"remote fan-out of {n:,} trivial calls, subprocess executor, "
        f"{args.concurrency} at a time (in-memory store)"
    )
    print(f"  platform submissions                       {submissions}")
    print(f"  wall clock (jobs' own runs included)        {wall:8.1f} s")
    print(f"  scheduler process CPU per remote job        {remote_cpu / n * 1e6:8.0f} us")
    print(f"    of which the remote layer's worker thread {worker_cpu / n * 1e6:8.0f} us")
    print(f"  scheduler CPU per job, same fan-out on threads {local_cpu / n * 1e6:5.0f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
