"""The daemon's overhead: the fan-out through `redun submit --wait` against `redun run`.

For each repeat, in fresh temporary directories (empty databases):

* ``redun run``:   ``redun -c <tmp>/.redun run --no-progress fanout.py main --n N``
* ``daemon``:      ``redund start --home <tmp2>/.redun`` (timed as start-up), then
                   ``redun submit --home <tmp2>/.redun --wait fanout.py main --n N``

Both times are wall clocks of the whole client process (interpreter start-up
included), first on an empty cache and then again on that cache. Also timed
in-process with :class:`redun.client.Client`: submit -> the first ``running``
job event (the runner fork, workflow import and first cache check), and
submit -> result of a fully cached n=1000 fan-out (median of 9, warm daemon).

    .venv/bin/python bench/daemon.py                 # n = 10000, 3 repeats
    .venv/bin/python bench/daemon.py --n 2000 --repeat 5 --json out.json

Prints medians and the ratio daemon / redun run (target: <= 1.3).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "bench" / "workloads" / "fanout.py"
BIN = Path(sys.executable).parent


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("REDUN_HOME", "REDUN_CONFIG", "REDUN_DB_URI", "REDUN_DAEMON_TOKEN"):
        env.pop(name, None)
    return env


def timed(command: list[str], cwd: Path, expected: str | None = None) -> float:
    began = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=_env())
    elapsed = time.perf_counter() - began
    last = result.stdout.strip().splitlines()[-1:] or [""]
    if result.returncode != 0 or (expected is not None and last[0] != expected):
        raise SystemExit(
            f"failed: {' '.join(command)} (exit {result.returncode})\n{result.stdout}\n{result.stderr}"
        )
    return elapsed


def first_job_latency(home: Path, workdir: Path, n: int) -> float:
    """Seconds from calling submit() to receiving the first `running` job event."""
    from redun.client import Client

    os.chdir(workdir)
    with Client(home=str(home)) as client:
        began = time.perf_counter()
        run = client.submit(str(WORKFLOW), "main", args={"n": str(n)}, no_cache=True)
        latency = float("nan")
        for batch in client.event_batches(run.id, replay=True):
            if any(
                e.WhichOneof("payload") == "job_state" and e.job_state.state == 2
                for e in batch.events
            ):
                latency = time.perf_counter() - began
                break
        run.result(timeout=600)
    return latency


def cached_submit_to_result(home: Path, workdir: Path, n: int, repeat: int = 9) -> float:
    """Median seconds from calling submit() to holding the result, all cached (warm daemon)."""
    from redun.client import Client

    os.chdir(workdir)
    times = []
    with Client(home=str(home)) as client:
        client.submit(str(WORKFLOW), "main", args={"n": str(n)}).result(timeout=600)
        for _ in range(repeat):
            began = time.perf_counter()
            run = client.submit(str(WORKFLOW), "main", args={"n": str(n)})
            run.result(timeout=600)
            times.append(time.perf_counter() - began)
    return statistics.median(times)


def one_round(n: int) -> dict[str, float]:
    expected = str(n * (n + 1) // 2)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as plain, tempfile.TemporaryDirectory() as served:
        plain_dir, served_dir = Path(plain), Path(served)
        run = [str(BIN / "redun"), "-c", str(plain_dir / ".redun"), "run", "--no-progress"]
        figures["run_first"] = timed(
            [*run, str(WORKFLOW), "main", "--n", str(n)], plain_dir, expected
        )
        figures["run_cached"] = timed(
            [*run, str(WORKFLOW), "main", "--n", str(n)], plain_dir, expected
        )
        home = served_dir / ".redun"
        figures["daemon_start"] = timed(
            [str(BIN / "redund"), "start", "--home", str(home)], served_dir
        )
        try:
            submit = [str(BIN / "redun"), "submit", "--home", str(home), "--wait"]
            args = [str(WORKFLOW), "main", "--n", str(n)]
            figures["daemon_first"] = timed([*submit, *args], served_dir, expected)
            figures["daemon_cached"] = timed([*submit, *args], served_dir, expected)
            figures["submit_to_first_running"] = first_job_latency(home, served_dir, 10)
            figures["cached_submit_to_result"] = cached_submit_to_result(home, served_dir, 1000)
        finally:
            subprocess.run([str(BIN / "redund"), "stop", "--home", str(home)], capture_output=True)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/daemon.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--n", type=int, default=10_000, help="fan-out width (default: %(default)s)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    rounds = []
    for index in range(args.repeat):
        figures = one_round(args.n)
        rounds.append(figures)
        print(
            f"round {index + 1}: " + ", ".join(f"{k} {v:.3f}s" for k, v in figures.items()),
            file=sys.stderr,
        )
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    ratio = median["daemon_first"] / median["run_first"]
    ratio_cached = median["daemon_cached"] / median["run_cached"]
    print(f"fan-out n={args.n}, median of {args.repeat} round(s), wall clock of the client process")
    print(f"  {'':32} {'redun run':>10} {'daemon':>10} {'ratio':>7}")
    print(
        f"  {'first run (empty cache)':32} {median['run_first']:>9.3f}s {median['daemon_first']:>9.3f}s {ratio:>7.2f}"
    )
    print(
        f"  {'second run (all cached)':32} {median['run_cached']:>9.3f}s {median['daemon_cached']:>9.3f}s {ratio_cached:>7.2f}"
    )
    print(f"  redund start (until it answers):  {median['daemon_start']:.3f}s")
    print(f"  submit -> first running job:      {median['submit_to_first_running'] * 1000:.0f} ms")
    print(
        "  submit -> result, n=1000 cached:  "
        f"{median['cached_submit_to_result'] * 1000:.0f} ms (in process, warm daemon; target <= 20)"
    )
    print(f"  target: ratio <= 1.3 -> {'met' if ratio <= 1.3 else 'NOT met'}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "n": args.n,
                    "rounds": rounds,
                    "median": median,
                    "ratio": ratio,
                    "ratio_cached": ratio_cached,
                },
                indent=2,
            )
        )
    return 0 if ratio <= 1.3 else 1


if __name__ == "__main__":
    sys.exit(main())
