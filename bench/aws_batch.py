"""AWS Batch: how many API calls a fan-out costs, and the scheduler's own cost per job.

Runs a fan-out of N trivial calls (default 1,000) through the ``aws_batch``
executor: real boto3 clients against moto's server on loopback (Batch,
CloudWatch Logs, IAM, S3 for the scratch), started in a child process with
the test suite's job runner (tests/moto_batch.py: each job is a local
``redun oneshot`` process, ``--slots`` at a time). Because moto and the jobs
live in that other process, this process's CPU is the scheduler's own:

- API calls by method, as the executor's client counted them (the calls
  made before the first job is running: queue check, re-attach listing,
  job definition, the submit; then the polls and log reads);
- CPU per job of this process (scheduler loop + the remote layer's worker:
  writing the call list, submitting, describing, tailing logs, reading
  results), and of the worker thread alone.

Usage::

    .venv/bin/python bench/aws_batch.py                         # N = 1000, poll_interval 5 s
    .venv/bin/python bench/aws_batch.py --n 200 --slots 8 --poll-interval 1

Needs the dev dependencies (boto3, moto[server,batch,logs,iam]). Nothing
leaves this machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FLOW = textwrap.dedent(
    """
    from redun import task

    redun_namespace = "bench_aws"


    @task(executor="batch", vcpus=1, memory=1)
    def inc(x: int) -> int:
        return x + 1


    @task
    def fan(n: int) -> int:
        return sum([inc(i) for i in range(n)])
    """
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/aws_batch.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=int, default=1000, help="calls in the fan-out (default 1000)")
    parser.add_argument(
        "--poll-interval", type=float, default=5.0, help="the executor's poll_interval (5 s)"
    )
    parser.add_argument("--slots", type=int, default=4, help="jobs moto runs at once (4)")
    parser.add_argument("--serve", type=int, default=0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def serve(port: int) -> int:
    """The child: moto's server on 127.0.0.1:port with the harness's job runner."""
    import logging

    from moto.server import ThreadedMotoServer

    from tests.moto_batch import BatchHarness

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    harness = BatchHarness(f"http://127.0.0.1:{port}", slots=int(os.environ["BENCH_SLOTS"]))
    harness.install()
    harness.reset()
    print("ready", flush=True)
    sys.stdin.read()  # until the parent closes it
    harness.kill_all()
    server.stop()
    return 0


def _thread_cpu(name: str) -> float:
    for thread in threading.enumerate():
        if thread.name == name and thread.ident is not None:
            return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        return serve(args.serve)
    from tests.cloud import apply_env, aws_env, free_port

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="redun-bench-aws-") as tmp:
        root = Path(tmp)
        apply_env(os.environ, aws_env(root, url))
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, "BENCH_SLOTS": str(args.slots)},
            cwd=ROOT,
        )
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
            return _bench(args, root)
        finally:
            assert server.stdin is not None
            server.stdin.close()
            server.wait(timeout=60)


def _bench(args: argparse.Namespace, root: Path) -> int:
    import boto3

    from redun import Scheduler
    from redun.config import Config
    from redun.workflow.loader import find_task, import_workflow
    from tests.moto_batch import QUEUE

    boto3.client("s3").create_bucket(Bucket="bench")
    code = root / "code"
    code.mkdir()
    (code / "bench_aws_flow.py").write_text(FLOW)
    module = import_workflow(str(code / "bench_aws_flow.py"))
    section = {
        "type": "aws_batch",
        "queue": QUEUE,
        "image": "bench-image",
        "s3_scratch": "s3://bench/scratch",
        "code_root": str(code),
        "poll_interval": str(args.poll_interval),
        "echo": "false",
    }
    scheduler = Scheduler(config=Config({"executors.batch": section}))
    wall, cpu = time.perf_counter(), time.process_time()
    result = scheduler.run(find_task(module, "fan", "bench_aws")(args.n))
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    worker = _thread_cpu("redun-remote-batch")
    executor = scheduler.executors["batch"]
    calls = dict(executor.backend.calls)
    log_reads = executor.backend._tail.calls if executor.backend._tail else 0
    scheduler.stop()
    expected = sum(range(1, args.n + 1))
    if result != expected:
        print(f"wrong result: {result!r} (expected {expected})", file=sys.stderr)
        return 1
    n = args.n
    submit = ("describe_job_queues", "list_jobs", "describe_job_definitions")
    submit += ("register_job_definition", "submit_job")
    print(
        f"AWS Batch fan-out of {n:,} calls: poll_interval {args.poll_interval:g} s, "
        f"{args.slots} jobs at a time (moto on loopback)"
    )
    print(f"  to submit: {sum(calls.get(m, 0) for m in submit)} API calls")
    for method in sorted(calls):
        print(f"  {method:<26} {calls[method]:6d}")
    print(f"  {'logs get_log_events':<26} {log_reads:6d}")
    print(f"  wall clock (jobs' own runs included)   {wall:8.1f} s")
    print(f"  scheduler process CPU per job          {cpu / n * 1e6:8.0f} us")
    print(f"    of which the remote layer's worker   {worker / n * 1e6:8.0f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
