"""Where the time of one ``redun run`` goes: a per-phase breakdown, cold and cached.

Runs ``redun -c <tmp>/.redun run <workload>.py main --n N`` as a user types it,
with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` is dropped for the
children and the cache is warmed first), on an empty database ("cold") and
again on that database ("cached": it walks the cached call tree and keeps its
verdict) and once more ("again": answered by that verdict), ``--repeat`` times
each, and prints the median milliseconds of each phase of the main thread:

* ``interpreter+site``: from spawning the process to the first line of the
  script (interpreter start, ``site``, .pth files and import hooks);
* ``imports``: every import, wherever it happens (redun's, the standard
  library's, lazily imported modules too);
* ``argument parsing``, ``workflow import`` (the user's module, less its
  imports), ``config``, ``store open/schema check``, ``code hashing``,
  ``cache checks`` (lookups and validity), ``scheduling`` (the rest of ``Scheduler.run``),
  ``recording`` (starting the recorder, waiting for its commits, closing it);
* ``other``: the rest of ``main()`` (printing the result...);
* ``exit``: from ``main()`` returning to the process being gone.

The instrumented process (``bench/harness/phase_child.py``) wraps those
functions, so its total is a little over a plain run's; the plain run's
median and best are printed under the table.

    .venv/bin/python bench/phases.py                      # fanout, n = 1000, 5 repeats
    .venv/bin/python bench/phases.py --n 10000 --repeat 3
    .venv/bin/python bench/phases.py --workload chain --n 10000 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = ROOT / "bench" / "harness" / "phase_child.py"
WORKLOADS = ROOT / "bench" / "workloads"
ORDER = (
    "interpreter+site",
    "imports",
    "argument parsing",
    "workflow import",
    "config",
    "store open/schema check",
    "code hashing",
    "cache checks",
    "scheduling",
    "recording",
    "other",
    "exit",
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTHONDONTWRITEBYTECODE", "REDUN_CONFIG", "REDUN_DB_URI", "REDUN_HOME"):
        env.pop(name, None)
    return env


def _redun_argv(workload: str, n: int) -> list[str]:
    return ["-c", ".redun", "run", "--no-progress", f"{workload}.py", "main", "--n", str(n)]


def _instrumented(python: str, cwd: Path, argv: list[str]) -> dict[str, float]:
    out = cwd / "phases.json"
    spawned = time.time()
    proc = subprocess.run(
        [python, str(CHILD), str(out), *argv],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
    )
    ended = time.time()
    if proc.returncode != 0:
        raise SystemExit(f"phases: redun failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    data = json.loads(out.read_text())
    phases = {name: seconds for name, seconds in data["phases"].items() if seconds > 0}
    phases["interpreter+site"] = data["started"] - spawned
    phases["exit"] = ended - data["main_returned"]
    phases["total"] = ended - spawned
    return phases


def _plain(python: str, cwd: Path, argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [python, "-c", "import sys; from redun.cli.main import main; sys.exit(main())", *argv],
        cwd=cwd,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
    )
    return time.perf_counter() - started


def measure(python: str, workload: str, n: int, repeat: int) -> dict[str, dict]:
    argv = _redun_argv(workload, n)
    modes = ("cold", "cached", "again")
    results: dict[str, dict] = {mode: {"phases": [], "plain": []} for mode in modes}
    with tempfile.TemporaryDirectory(prefix="redun-phases-") as tmp:
        cwd = Path(tmp)
        shutil.copy(WORKLOADS / f"{workload}.py", cwd)
        _plain(python, cwd, argv)  # warm the bytecode caches (redun's and the workflow's)
        for _ in range(repeat):
            shutil.rmtree(cwd / ".redun", ignore_errors=True)
            results["cold"]["phases"].append(_instrumented(python, cwd, argv))
            results["cached"]["phases"].append(_instrumented(python, cwd, argv))
            results["again"]["phases"].append(_instrumented(python, cwd, argv))
            shutil.rmtree(cwd / ".redun", ignore_errors=True)
            results["cold"]["plain"].append(_plain(python, cwd, argv))
            results["cached"]["plain"].append(_plain(python, cwd, argv))
            results["again"]["plain"].append(_plain(python, cwd, argv))
    return results


def _median(runs: list[dict[str, float]], name: str) -> float:
    return statistics.median(run.get(name, 0.0) for run in runs)


def report(results: dict[str, dict], title: str) -> str:
    modes = list(results)
    lines = [title, f"{'phase (ms, median)':<26}" + "".join(f"{m:>10}" for m in modes)]
    names = [n for n in ORDER] + sorted(
        {n for r in results.values() for run in r["phases"] for n in run} - set(ORDER) - {"total"}
    )
    for name in names:
        values = [_median(results[m]["phases"], name) * 1000 for m in modes]
        if any(v >= 0.05 for v in values):
            lines.append(f"{name:<26}" + "".join(f"{v:>10.1f}" for v in values))
    lines.append(
        f"{'total (instrumented)':<26}"
        + "".join(f"{_median(results[m]['phases'], 'total') * 1000:>10.1f}" for m in modes)
    )
    lines.append(
        f"{'plain run, median':<26}"
        + "".join(f"{statistics.median(results[m]['plain']) * 1000:>10.1f}" for m in modes)
    )
    lines.append(
        f"{'plain run, best':<26}"
        + "".join(f"{min(results[m]['plain']) * 1000:>10.1f}" for m in modes)
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="bench/phases.py",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    parser.add_argument("--workload", default="fanout", help="bench/workloads/NAME.py (fanout)")
    parser.add_argument("--n", type=int, default=1000, help="the workload's size (1000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per mode (5)")
    parser.add_argument("--python", default=sys.executable, help="interpreter with redun")
    parser.add_argument("--json", metavar="PATH", help="also write every run's phases here")
    args = parser.parse_args()
    if not (WORKLOADS / f"{args.workload}.py").exists():
        parser.error(f"no workload {args.workload!r} in {WORKLOADS}")
    results = measure(args.python, args.workload, args.n, args.repeat)
    load = os.getloadavg()[0]
    title = (
        f"redun run {args.workload}.py main --n {args.n}: {args.repeat} runs per mode, "
        f"bytecode cached, load average {load:.2f}"
    )
    print(report(results, title))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
