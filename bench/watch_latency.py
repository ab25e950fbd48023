"""Latency of reactive watches: from saving a file to the affected job, and to the result.

A daemon in a fresh temporary home watches a workflow; the benchmark saves an
edit of one constant used by one task, over and over (a new value each time,
so the task really runs), and times from the write to:

* ``triggered``: the daemon's ``watch_triggered`` event (file watcher + debounce);
* ``root job``: the root job's first event past pending: running, or, since its own
  call is cached, the event that says so (it re-evaluates its expression);
* ``first job``: the first ``job_state`` event (``running``, or ``done`` when the
  stream coalesced it) of the task that uses the constant: the budget is 200 ms;
* ``finished``: the re-run's ``execution_finished``: the budget for a one-task
  change inside a 1,000-task workflow is 500 ms.

Two workflows: ``small`` (five tasks) and ``fanout`` (``--n`` tasks, default
1,000: n - 2 cached ``work(i)`` calls, the edited ``special``, and ``total``).
Times are taken when this client receives each event (the daemon's own event
timestamps are reported too, as ``...@daemon``).

    .venv/bin/python bench/watch_latency.py                  # 15 saves each
    .venv/bin/python bench/watch_latency.py --repeat 30 --n 1000 --json out.json

Prints the median, and the 90th percentile, of each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

SMALL = """
from redun import task

redun_namespace = "bench_watch_small"

SPECIAL = 0


@task
def special(x: int) -> int:
    return x + SPECIAL


@task
def double(x: int) -> int:
    return 2 * x


@task
def square(x: int) -> int:
    return x * x


@task
def combine(a: int, b: int, c: int) -> int:
    return a + b + c


@task
def main(x: int = 3) -> int:
    return combine(special(x), double(x), square(x))
"""

FANOUT = """
from redun import task

redun_namespace = "bench_watch_fanout"

SPECIAL = 0


@task
def work(i: int) -> int:
    return 2 * i


@task
def special(i: int) -> int:
    return i + SPECIAL


@task
def total(values: list) -> int:
    return sum(values)


@task
def main(n: int = 1000) -> int:
    return total([work(i) for i in range(n - 2)] + [special(0)])
"""

BUDGETS = {"first job": 0.200, "finished (fanout)": 0.500}


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("REDUN_CONFIG", "REDUN_DB_URI", "REDUN_DAEMON_TOKEN"):
        env.pop(name, None)
    env["REDUN_HOME"] = str(home)
    return env


class Collector:
    """A watch's events, stamped with the time this process received them."""

    def __init__(self, client: Any, watch_id: str) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []
        self.cond = threading.Condition()
        self.ready = threading.Event()
        self.client = client
        threading.Thread(target=self._run, args=(watch_id,), daemon=True).start()
        self.ready.wait(30)

    def _run(self, watch_id: str) -> None:
        from redun.client.convert import event_to_dict

        try:
            for batch in self.client.event_batches(watch_id=watch_id):
                now = time.time()
                with self.cond:
                    self.events += [(now, event_to_dict(e)) for e in batch.events]
                    self.cond.notify_all()
                self.ready.set()
        except Exception:
            pass
        finally:
            self.ready.set()

    def wait(self, start: int, predicate: Any, timeout: float = 60) -> tuple[float, dict]:
        deadline = time.monotonic() + timeout
        with self.cond:
            index = start
            while True:
                while index < len(self.events):
                    if predicate(self.events[index][1]):
                        return self.events[index]
                    index += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SystemExit(f"timed out; events: {[e for _, e in self.events[start:]]}")
                self.cond.wait(left)

    def mark(self) -> int:
        with self.cond:
            return len(self.events)


def _affected(event: dict) -> bool:
    return (
        event["type"] == "job_state"
        and event["task"].endswith("special")
        and event["state"] in ("running", "done", "failed")
    )


def measure(client: Any, project: Path, name: str, text: str, repeat: int, args: dict) -> dict:
    """Watch ``text`` as ``name`` in ``project``; save ``repeat`` edits; the latencies."""
    flow = project / f"{name}.py"
    flow.write_text(text)
    info = client.watch(str(flow), "main", args=args, working_dir=str(project))
    client.result(info.last_execution_id, timeout=600)
    collector = Collector(client, info.id)
    time.sleep(0.3)  # let the watch learn its paths
    figures: dict[str, list[float]] = {}
    for value in range(1, repeat + 1):
        mark = collector.mark()
        source = text.replace("SPECIAL = 0", f"SPECIAL = {value}")
        wrote = time.time()
        flow.write_text(source)
        got, trigger = collector.wait(mark, lambda e: e["type"] == "watch_triggered")
        figures.setdefault("triggered", []).append(got - wrote)
        figures.setdefault("triggered@daemon", []).append(trigger["time"] - wrote)
        got, started = collector.wait(mark, lambda e: e["type"] == "execution_started")
        figures.setdefault("run started", []).append(got - wrote)
        got, root = collector.wait(
            mark,
            lambda e: (
                e["type"] == "job_state"
                and e["task"].endswith("main")
                # The root's own call is usually cached now: it re-evaluates the expression
                # it returned (pending, cached) instead of running.
                and (e["state"] in ("running", "done", "cached") or e.get("cached"))
            ),
        )
        figures.setdefault("root job", []).append(got - wrote)
        got, job = collector.wait(mark, _affected)
        figures.setdefault("first job", []).append(got - wrote)
        figures.setdefault("first job@daemon", []).append(job["time"] - wrote)
        execution_id = job["execution_id"]
        got, finished = collector.wait(
            mark,
            lambda e, wanted=execution_id: (
                e["type"] == "execution_finished" and e["execution_id"] == wanted
            ),
        )
        if finished["status"] != "done":
            raise SystemExit(f"the re-run {finished['status']}: {finished.get('error')}")
        figures.setdefault("finished", []).append(got - wrote)
        ran = sum(
            1
            for _, e in collector.events[mark:]
            if e["type"] == "job_state"
            and e["execution_id"] == execution_id
            and e["state"] == "done"
        )
        figures.setdefault("jobs re-run", []).append(float(ran))
        time.sleep(0.25)  # the next save is a new edit, not part of this burst
    client.unwatch(info.id)
    return figures


def summarize(figures: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    out = {}
    for key, values in figures.items():
        ordered = sorted(values)
        out[key] = {
            "median": statistics.median(ordered),
            "p90": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
            "min": ordered[0],
            "max": ordered[-1],
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="saves per workflow")
    parser.add_argument("--n", type=int, default=1000, help="tasks of the fan-out workflow")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)

    from redun.client import Client

    results: dict[str, Any] = {"repeat": args.repeat, "n": args.n, "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as temp:
        project = Path(temp)
        home = project / ".redun"
        env = _env(home)
        started = subprocess.run(
            [sys.executable, "-m", "redund", "start", "--home", str(home)],
            env=env,
            capture_output=True,
            text=True,
        )
        if started.returncode != 0:
            raise SystemExit(started.stderr)
        try:
            with Client(home=str(home)) as client:
                small = measure(client, project, "small", SMALL, args.repeat, {})
                fanout = measure(client, project, "fanout", FANOUT, args.repeat, {"n": str(args.n)})
        finally:
            subprocess.run(
                [sys.executable, "-m", "redund", "stop", "--home", str(home)],
                env=env,
                capture_output=True,
            )
    results["small"] = summarize(small)
    results["fanout"] = summarize(fanout)
    print(f"watch latency: median (p90) over {args.repeat} saves, {os.cpu_count()} CPUs")
    for name in ("small", "fanout"):
        label = "5-task workflow" if name == "small" else f"{args.n}-task workflow"
        print(f"  {label}:")
        for key, stats in results[name].items():
            if key == "jobs re-run":
                print(f"    {key:<18} {stats['median']:.0f}")
                continue
            budget = BUDGETS.get(key) or BUDGETS.get(f"{key} ({name})")
            mark = f"  (budget {budget * 1000:.0f} ms)" if budget else ""
            print(
                f"    write -> {key:<18} {stats['median'] * 1000:6.0f} ms"
                f"  ({stats['p90'] * 1000:.0f}){mark}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
