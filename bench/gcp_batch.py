"""GCP Batch: how many API calls a fan-out costs, against the fake BatchService on loopback.

Runs a fan-out of N trivial calls (default 200) through the ``gcp_batch``
executor: the real google-cloud-batch client over an insecure channel to the
test suite's fake ``BatchService`` (tests/fake_batch.py, which runs each task
as a local ``redun oneshot`` process, ``--slots`` at a time) and the real
google-cloud-storage client against gcp-storage-emulator for the scratch.
It prints the API calls by method as the service counted them (each page of
a listing is a call), the number of polls, and the wall clock.

Usage::

    .venv/bin/python bench/gcp_batch.py                          # N = 200, poll_interval 10 s
    .venv/bin/python bench/gcp_batch.py --n 50 --poll-interval 1 --slots 4

Needs the dev dependencies (google-cloud-batch, google-cloud-logging,
gcp-storage-emulator). Nothing leaves this machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FLOW = textwrap.dedent(
    """
    from redun import task

    redun_namespace = "bench_gcp"


    @task(executor="gcp", vcpus=1, memory=1)
    def inc(x: int) -> int:
        return x + 1


    @task
    def fan(n: int) -> int:
        return sum([inc(i) for i in range(n)])
    """
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/gcp_batch.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=int, default=200, help="calls in the fan-out (default 200)")
    parser.add_argument(
        "--poll-interval", type=float, default=10.0, help="the executor's poll_interval (10 s)"
    )
    parser.add_argument("--slots", type=int, default=4, help="tasks the fake runs at once (4)")
    parser.add_argument("--page-cap", type=int, default=1000, help="the fake's page size cap")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from google.cloud import storage

    from redun import Scheduler
    from redun.config import Config
    from redun.workflow.loader import find_task, import_workflow
    from tests.cloud import GcsEmulator, apply_env, gcs_env
    from tests.fake_batch import FakeBatch

    emulator = GcsEmulator()
    emulator.start()
    fake = FakeBatch(slots=args.slots, page_cap=args.page_cap).start()
    try:
        apply_env(os.environ, gcs_env(emulator.url))
        storage.Client().create_bucket("bench")
        with tempfile.TemporaryDirectory(prefix="redun-bench-gcp-") as tmp:
            code = Path(tmp) / "code"
            code.mkdir()
            (code / "bench_gcp_flow.py").write_text(FLOW)
            module = import_workflow(str(code / "bench_gcp_flow.py"))
            section = {
                "type": "gcp_batch",
                "project": "bench",
                "region": "us-central1",
                "image": "bench-image",
                "gcs_scratch": "gs://bench/scratch",
                "endpoint": fake.endpoint,
                "code_root": str(code),
                "poll_interval": str(args.poll_interval),
            }
            scheduler = Scheduler(config=Config({"executors.gcp": section}))
            wall = time.perf_counter()
            result = scheduler.run(find_task(module, "fan", "bench_gcp")(args.n))
            wall = time.perf_counter() - wall
            client_calls = dict(scheduler.executors["gcp"].backend.calls)
            scheduler.stop()
        expected = sum(range(1, args.n + 1))
        if result != expected:
            print(f"wrong result: {result!r} (expected {expected})", file=sys.stderr)
            return 1
        calls = dict(fake.calls)
    finally:
        fake.stop()
        emulator.stop()
    print(
        f"GCP Batch fan-out of {args.n} calls: poll_interval {args.poll_interval:g} s, "
        f"{args.slots} tasks at a time, pages of at most {args.page_cap}"
    )
    for method in sorted(calls):
        print(f"  {method:<12} {calls[method]:6d}")
    print(f"  {'total':<12} {sum(calls.values()):6d}   (the client counted {client_calls})")
    print(f"  wall clock   {wall:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
