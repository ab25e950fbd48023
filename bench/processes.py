"""The process pool: quick, CPU-bound and waiting fan-outs on ``executor="process"``.

Three workloads, each a task fanning out calls of one ``executor="process"``
task (redun's name for the pool; ours is also ``"processes"``), run in one
interpreter on a fresh scheduler each time (SQLite in memory), ``--repeat``
times:

* ``quick``: ``--quick`` calls returning at once (the pool should stay at one
  worker per CPU and send calls in chunks);
* ``cpu``: ``--cpu`` calls each computing for ``--cpu-seconds`` (more workers
  than CPUs would not help);
* ``wait``: ``--wait`` calls each sleeping ``--wait-seconds`` (as jobs waiting
  on I/O or a subprocess do: they should all run at once, up to
  ``max_workers``, 20 by default as in redun).

Prints the median and best wall time of each, and how many worker processes
its calls ran in (distinct pids). ``--python`` runs the same measurement with
another interpreter, e.g. the reference release's venv
(``bench/.venv-ref/bin/python``, made by ``bench/run.py``), for a side by side.

    .venv/bin/python bench/processes.py
    .venv/bin/python bench/processes.py --python bench/.venv-ref/bin/python
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

FLOW = textwrap.dedent(
    """
    import os
    import time

    from redun import task

    redun_namespace = "bench_processes"


    @task(executor="process")
    def quick(i: int) -> int:
        return os.getpid()


    @task(executor="process")
    def compute(i: int, seconds: float) -> int:
        started = time.process_time()
        while time.process_time() - started < seconds:
            pass
        return os.getpid()


    @task(executor="process")
    def wait(i: int, seconds: float) -> int:
        time.sleep(seconds)
        return os.getpid()


    @task
    def fan(kind: str, n: int, seconds: float, run: int) -> list:
        # `run` keeps each repeat's calls apart, so none is taken from the cache.
        if kind == "quick":
            return [quick(run * n + i) for i in range(n)]
        if kind == "cpu":
            return [compute(run * n + i, seconds) for i in range(n)]
        return [wait(run * n + i, seconds) for i in range(n)]
    """
)


def measure(args: argparse.Namespace) -> None:
    work = tempfile.mkdtemp(prefix="redun-bench-processes-")
    with open(os.path.join(work, "bench_processes_flow.py"), "w") as out:
        out.write(FLOW)
    sys.path.insert(0, work)
    os.chdir(work)
    flow = importlib.import_module("bench_processes_flow")

    import redun
    from redun import Scheduler
    from redun.config import Config

    workloads = [
        ("quick", args.quick, 0.0),
        ("cpu", args.cpu, args.cpu_seconds),
        ("wait", args.wait, args.wait_seconds),
    ]
    print(
        f"process pool bench: redun {getattr(redun, '__version__', '?')} "
        f"({sys.executable}), {os.cpu_count()} CPUs"
    )
    print(f"  {'workload':<36} {'median':>8} {'best':>8} {'processes':>10}")
    run = 0
    for kind, n, seconds in workloads:
        times: list[float] = []
        pids: set[int] = set()
        for _ in range(args.repeat):
            run += 1
            config = Config({"backend": {"db_uri": "sqlite:///:memory:"}})
            scheduler = Scheduler(config=config)
            scheduler.load()  # redun opens its store here; ours on first use (a no-op)
            started = time.perf_counter()
            result = scheduler.run(flow.fan(kind, n, seconds, run))
            times.append(time.perf_counter() - started)
            assert len(result) == n
            pids = set(result)
            stop = getattr(scheduler, "stop", None)
            if stop is not None:
                stop()
        label = f"{kind}: {n:,} calls" + (f" of {seconds:g} s" if seconds else "")
        print(f"  {label:<36} {statistics.median(times):7.2f}s {min(times):7.2f}s {len(pids):>10}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", type=int, default=10_000, help="quick calls")
    parser.add_argument("--cpu", type=int, default=20, help="CPU-bound calls")
    parser.add_argument("--cpu-seconds", type=float, default=0.2)
    parser.add_argument("--wait", type=int, default=40, help="waiting calls")
    parser.add_argument("--wait-seconds", type=float, default=0.5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--python", help="measure with this interpreter instead")
    args = parser.parse_args(argv)
    if args.python:
        command = [args.python, os.path.abspath(__file__)]
        for name in ("quick", "cpu", "cpu_seconds", "wait", "wait_seconds", "repeat"):
            command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        return subprocess.call(command)
    measure(args)
    return 0


if __name__ == "__main__":  # the pool's workers import this module too
    sys.exit(main())
