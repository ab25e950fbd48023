"""In-process micro-benchmark: scheduler overhead per task, without start-up.

Times `Scheduler(config=...).run(main(n))` inside one interpreter, with a
fresh SQLite file per measurement, for the workflows in bench/workloads/.
"first" runs on the empty database, "cached" is a new Scheduler re-running the
same expression on that database. Prints microseconds per job.

Run it with the interpreter whose redun you want to measure:

  .venv/bin/python bench/overhead.py              # ours
  bench/.venv-ref/bin/python bench/overhead.py    # the reference
  .venv/bin/python bench/overhead.py --both       # both, side by side

Only the public API of insitro/redun is used (redun.Scheduler,
redun.config.Config), so the numbers are comparable.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import venvs
from harness.workloads import WORKLOADS

DEFAULT_SIZES = (1000, 10000)
RESULT_PREFIX = "OVERHEAD-JSON "


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/overhead.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        metavar="N,N",
        help="comma-separated values of n (default: %(default)s)",
    )
    parser.add_argument(
        "--workloads",
        "-w",
        default="fanout",
        metavar="LIST",
        help=f"comma-separated workloads from: {', '.join(WORKLOADS)} (default: %(default)s)",
    )
    parser.add_argument(
        "--both",
        action="store_true",
        help="run this script under the project venv and the reference venv "
        "(creating bench/.venv-ref if needed) and compare",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="leave redun's own logging on (it costs time)"
    )
    parser.add_argument("--emit-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s]
    except ValueError:
        parser.error(f"--sizes {args.sizes!r}: expected integers separated by commas")
    args.workloads = [w for w in args.workloads.split(",") if w]
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(unknown)}")
    return args


def load_workflow(name: str):
    """Import bench/workloads/<name>.py under a private module name."""
    path = WORKLOADS[name].path
    spec = importlib.util.spec_from_file_location(f"bench_workload_{name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def new_scheduler(db_path: Path):
    from redun import Scheduler
    from redun.config import Config

    scheduler = Scheduler(config=Config({"backend": {"db_uri": f"sqlite:///{db_path}"}}))
    load = getattr(scheduler, "load", None)
    if callable(load):
        load()  # create the schema outside the timed region
    return scheduler


def measure(name: str, n: int, workdir: Path) -> dict:
    """Time the first and the cached run of workload `name` at size `n`."""
    workflow = load_workflow(name)
    jobs = WORKLOADS[name].jobs(n)
    row: dict = {"workload": name, "n": n, "jobs": jobs}
    db_path = workdir / f"{name}-{n}.db"
    for phase in ("first", "cached"):
        scheduler = new_scheduler(db_path)
        start = time.perf_counter()
        try:
            value = scheduler.run(workflow.main(n))
        except RecursionError:
            row[phase] = {"status": "RecursionError"}
            break
        except Exception as error:  # report, do not crash the other sizes
            row[phase] = {"status": f"{type(error).__name__}: {error}"[:200]}
            break
        seconds = time.perf_counter() - start
        expected = WORKLOADS[name].expected(n)
        status = "ok" if value == expected else f"wrong result {value!r} != {expected!r}"
        row[phase] = {"status": status, "seconds": seconds, "us_per_job": seconds / jobs * 1e6}
    return row


def measure_all(args: argparse.Namespace) -> dict:
    import redun

    if not args.verbose:  # after the import: redun sets its logger's level on import
        logging.getLogger("redun").setLevel(logging.WARNING)

    rows = []
    with tempfile.TemporaryDirectory(prefix="redun-overhead-") as tmp:
        for name in args.workloads:
            for n in args.sizes:
                row = measure(name, n, Path(tmp))
                rows.append(row)
                print(
                    f"[overhead] {name} n={n}: {_cell(row.get('first'))} first, "
                    f"{_cell(row.get('cached'))} cached",
                    file=sys.stderr,
                    flush=True,
                )
    return {"redun": getattr(redun, "__version__", "?"), "python": sys.executable, "rows": rows}


def _cell(phase: dict | None) -> str:
    if not phase:
        return "-"
    if phase["status"] != "ok":
        return phase["status"].split(":")[0]
    return f"{phase['us_per_job']:.0f} us/job"


def run_child(python: Path, args: argparse.Namespace) -> dict | str:
    """Run this script under another interpreter; its results, or why it failed."""
    cmd = [
        str(python),
        str(Path(__file__).resolve()),
        "--emit-json",
        "--sizes",
        ",".join(map(str, args.sizes)),
        "--workloads",
        ",".join(args.workloads),
    ]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=None, text=True)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    return f"exit {proc.returncode}"


def print_table(results: dict[str, dict | str]) -> None:
    names = list(results)
    header = ["workload", "n"] + [f"{i} {p}" for i in names for p in ("first", "cached")]
    rows = [header]
    keys: list[tuple[str, int]] = []
    for res in results.values():
        if isinstance(res, dict):
            keys += [(r["workload"], r["n"]) for r in res["rows"]]
    for name, n in dict.fromkeys(keys):
        row = [name, str(n)]
        for impl in names:
            res = results[impl]
            match = (
                [r for r in res["rows"] if (r["workload"], r["n"]) == (name, n)]
                if isinstance(res, dict)
                else []
            )
            for phase in ("first", "cached"):
                row.append(_cell(match[0].get(phase)) if match else "failed")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for number, row in enumerate(rows):
        print(
            "  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])])
        )
        if number == 0:
            print("  ".join("-" * w for w in widths))
    for impl, res in results.items():
        detail = f"redun {res['redun']} ({res['python']})" if isinstance(res, dict) else res
        print(f"{impl}: {detail}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.both:
        results: dict[str, dict | str] = {}
        for name, get in (("ours", venvs.ours), ("ref", venvs.reference)):
            try:
                impl = get()
            except venvs.VenvError as error:
                results[name] = f"unavailable: {error}"
                continue
            venvs.log(f"overhead: measuring {name} with {impl.python}")
            results[name] = run_child(impl.python, args)
        print_table(results)
        return 0 if all(isinstance(r, dict) for r in results.values()) else 1
    results_here = measure_all(args)
    if args.emit_json:
        print(RESULT_PREFIX + json.dumps(results_here))
    else:
        print_table({"this": results_here})
    return 0


if __name__ == "__main__":
    sys.exit(main())
