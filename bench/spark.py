"""Spark: a fan-out of trivial calls through the ``spark`` executor vs the same map in pyspark.

In one process and one SparkSession (``local[2]`` by default):

1. session start-up (JVM and SparkContext), reported on its own;
2. the first Spark job (it starts the Python workers), reported on its own;
3. raw pyspark: ``sc.parallelize(range(N), P).map(inc).collect()``;
4. redun: a task returning ``[inc(i) for i in range(N)]`` with ``inc`` on the
   ``spark`` executor: the N calls become one Spark job of P partitions, and
   each call's result comes back to the scheduler, which records it on its own
   (in-memory store by default, ``--db`` for SQLite).

Both maps use the same P (the session's default parallelism unless
``--partitions``). Each is run ``--repeat`` times, alternating; the best and
the median are printed, and the ratio of the medians (goal: within 1.5x), and
the CPU this process (the Spark driver and redun's scheduler) spent: on a busy
machine wall times say more about the load than about the code.

Usage::

    .venv/bin/python bench/spark.py                  # N = 10,000, local[2]
    .venv/bin/python bench/spark.py --n 2000 --repeat 5 --db
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

FLOW = textwrap.dedent(
    """
    from redun import task

    redun_namespace = "bench_spark"


    @task(executor="spark")
    def inc(x: int) -> int:
        return x + 1


    @task
    def fan(n: int) -> list:
        return [inc(i) for i in range(n)]


    @task
    def local_inc(x: int) -> int:
        return x + 1


    @task
    def local_fan(n: int) -> list:
        return [local_inc(i) for i in range(n)]
    """
)


def inc(x: int) -> int:
    return x + 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--partitions", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", action="store_true", help="record to SQLite, not in memory")
    args = parser.parse_args(argv)

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    work = Path(tempfile.mkdtemp(prefix="redun-bench-spark-"))
    (work / "bench_spark_flow.py").write_text(FLOW)
    sys.path.insert(0, str(work))
    os.chdir(work)
    flow = importlib.import_module("bench_spark_flow")

    from redun import Scheduler
    from redun.config import Config

    started = time.perf_counter()
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master(args.master)
        .appName("redun-bench")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    startup = time.perf_counter() - started
    context = session.sparkContext
    partitions = args.partitions or context.defaultParallelism

    started = time.perf_counter()
    context.parallelize(range(partitions), partitions).map(inc).collect()
    first_job = time.perf_counter() - started

    cpu: dict[str, list[float]] = {"raw": [], "redun": [], "threads": []}

    def raw() -> float:
        begin, begin_cpu = time.perf_counter(), time.process_time()
        result = context.parallelize(range(args.n), partitions).map(inc).collect()
        elapsed = time.perf_counter() - begin
        cpu["raw"].append(time.process_time() - begin_cpu)
        assert result[-1] == args.n
        return elapsed

    from redun.spark.session import local_driver

    def spark_seconds() -> float:
        return local_driver().batch_seconds

    section = {"type": "spark", "master": args.master, "partitions": str(partitions)}
    runs = iter(range(1_000_000))

    def through_redun() -> float:
        config: dict = {"executors.spark": section, "backend": {"db_uri": "memory"}}
        if args.db:
            config["backend"] = {"db_uri": f"sqlite:///{work}/redun-{next(runs)}.db"}
        scheduler = Scheduler(config=Config(config))
        begin, begin_cpu = time.perf_counter(), time.process_time()
        result = scheduler.run(flow.fan(args.n))
        elapsed = time.perf_counter() - begin
        cpu["redun"].append(time.process_time() - begin_cpu)
        assert result[-1] == args.n
        assert scheduler.executors["spark"].submissions == 1
        scheduler.stop()
        return elapsed

    def threads_only() -> float:
        config: dict = {"backend": {"db_uri": "memory"}}
        if args.db:
            config["backend"] = {"db_uri": f"sqlite:///{work}/redun-{next(runs)}.db"}
        scheduler = Scheduler(config=Config(config))
        begin, begin_cpu = time.perf_counter(), time.process_time()
        result = scheduler.run(flow.local_fan(args.n))
        elapsed = time.perf_counter() - begin
        cpu["threads"].append(time.process_time() - begin_cpu)
        assert result[-1] == args.n
        scheduler.stop()
        return elapsed

    raw_times: list[float] = []
    redun_times: list[float] = []
    spark_times: list[float] = []
    thread_times: list[float] = []
    for _ in range(args.repeat):
        raw_times.append(raw())
        before = spark_seconds()
        redun_times.append(through_redun())
        spark_times.append(spark_seconds() - before)
        thread_times.append(threads_only())
    session.stop()

    store = "SQLite" if args.db else "in-memory store"
    print(f"spark bench: {args.n:,} trivial calls, master {args.master}, {partitions} partitions")
    print(f"  session start-up:              {startup:7.2f} s")
    print(f"  first job (Python workers):    {first_job:7.2f} s")
    print(
        f"  raw pyspark map:               best {min(raw_times):6.2f} s   "
        f"median {statistics.median(raw_times):6.2f} s"
    )
    print(
        f"  redun spark executor ({store}): best {min(redun_times):6.2f} s   "
        f"median {statistics.median(redun_times):6.2f} s"
    )
    print(
        f"    of which the Spark job:      best {min(spark_times):6.2f} s   "
        f"median {statistics.median(spark_times):6.2f} s"
    )
    print(
        f"  reference: the same fan-out on redun's thread pool (no Spark): "
        f"median {statistics.median(thread_times):.2f} s"
    )
    print(
        "  CPU of this (the driver's) process, medians: raw pyspark "
        f"{statistics.median(cpu['raw']):.2f} s, redun spark executor "
        f"{statistics.median(cpu['redun']):.2f} s, redun thread pool "
        f"{statistics.median(cpu['threads']):.2f} s"
    )
    ratio = statistics.median(redun_times) / statistics.median(raw_times)
    per_call = (statistics.median(redun_times) - statistics.median(raw_times)) / args.n * 1e6
    print(f"  ratio redun/raw (medians):     {ratio:7.2f}x   (+{per_call:.0f} µs per call)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
