"""Side-by-side benchmark: this project's redun against the released insitro/redun.

Each workload (bench/workloads/*.py, written only with insitro/redun's public
API) runs as `redun -c <tmp>/.redun run <workload>.py main --n N` in a fresh
temporary directory per implementation: once on an empty cache ("first") and
once more on that cache ("cached"). Wall-clock times include interpreter
start-up, with bytecode cached as on a user's machine: PYTHONDONTWRITEBYTECODE
is not passed on, and an untimed small run of each implementation comes first. The reference is installed into bench/.venv-ref on first use.

Progress goes to stderr; the table (and notes on any failed run) to stdout.
Exit status: 0 if every run of "ours" succeeded with the right result, 1 if
one did not (the reference may fail, e.g. with RecursionError on a deep
chain, without affecting the exit status), 2 on bad usage, 130 if interrupted
(Ctrl-C stops the running redun process and prints what finished).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from itertools import product
from pathlib import Path

from harness import report, venvs
from harness.runner import (
    OK,
    SKIPPED,
    UNAVAILABLE,
    WRONG,
    RunResult,
    not_run,
    run_workload,
)
from harness.workloads import DEFAULT_WORKLOADS, WORKLOADS, Workload

log = venvs.log


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    sizes = ", ".join(f"{w.name}={n}" for w in WORKLOADS.values() for n in w.default_sizes)
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=(
            "workloads:\n"
            + "\n".join(f"  {w.name:<10} {w.summary}" for w in WORKLOADS.values())
            + "\n\nexamples:\n"
            "  .venv/bin/python bench/run.py                       # everything, default sizes\n"
            "  .venv/bin/python bench/run.py --only ref --n 500     # quick check of the harness\n"
            "  .venv/bin/python bench/run.py --workloads fanout,chain --n chain=100000\n"
            "  .venv/bin/python bench/run.py --json bench/results/latest.json"
        ),
    )
    parser.add_argument(
        "--workloads",
        "-w",
        metavar="LIST",
        action="append",
        help=f"comma-separated workloads to run (default: {','.join(DEFAULT_WORKLOADS)})",
    )
    parser.add_argument(
        "--n",
        metavar="N|NAME=N",
        action="append",
        default=[],
        help=f"size for every selected workload, or NAME=N for one; repeat NAME=N to run "
        f"several sizes (defaults: {sizes})",
    )
    parser.add_argument(
        "--only", choices=("ours", "ref"), help="run one implementation only (default: both)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        metavar="SECONDS",
        help="limit per redun process; a run over it shows as 'timeout' (default: 900)",
    )
    parser.add_argument(
        "--no-warm-up",
        action="store_true",
        help="skip the untimed small run of each implementation before the timed ones "
        "(without it, the first timed run pays for compiling bytecode)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write all results here")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the temporary run directories (workflow copy, .redun/, stdout/stderr)",
    )
    parser.add_argument(
        "--ours-venv",
        type=Path,
        default=venvs.OURS_VENV,
        help="virtualenv of the implementation under test (default: %(default)s)",
    )
    parser.add_argument(
        "--ref-venv",
        type=Path,
        default=venvs.REF_VENV,
        help="virtualenv of the reference, created on first use (default: %(default)s)",
    )
    parser.add_argument(
        "--ref-version",
        default=venvs.REF_VERSION,
        help="reference redun release to install (default: %(default)s)",
    )
    parser.add_argument(
        "--python",
        default="python3",
        help="interpreter used to create the reference venv (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    args.selected = _parse_workloads(parser, args.workloads)
    args.sizes = _parse_sizes(parser, args.n, args.selected)
    return args


def _parse_workloads(parser: argparse.ArgumentParser, values: list[str] | None) -> list[Workload]:
    names = [n.strip() for v in (values or [",".join(DEFAULT_WORKLOADS)]) for n in v.split(",")]
    unknown = [n for n in names if n and n not in WORKLOADS]
    if unknown:
        parser.error(
            f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}"
        )
    return [WORKLOADS[n] for n in dict.fromkeys(n for n in names if n)]


def _parse_sizes(
    parser: argparse.ArgumentParser, values: list[str], selected: list[Workload]
) -> dict[str, list[int]]:
    """Sizes per workload: `N` sets every workload to N; `NAME=N` replaces that
    workload's defaults the first time and adds a further size after that."""
    sizes = {w.name: list(w.default_sizes) for w in selected}
    given: set[str] = set()
    for value in values:
        name, _, number = value.rpartition("=")
        try:
            n = int(number.replace("_", ""))
        except ValueError:
            parser.error(f"--n {value}: expected N or NAME=N with an integer N")
        if n < 1:
            parser.error(f"--n {value}: N must be at least 1")
        if name and name not in WORKLOADS:
            parser.error(f"--n {value}: unknown workload {name!r}")
        for key in [name] if name else list(sizes):
            if key not in sizes:
                continue
            if key in given:
                sizes[key] = list(dict.fromkeys([*sizes[key], n]))
            else:
                sizes[key] = [n]
                given.add(key)
    return sizes


def load_impls(args: argparse.Namespace) -> dict[str, venvs.Impl | str]:
    """Each wanted implementation, or the reason it is unavailable."""
    impls: dict[str, venvs.Impl | str] = {}
    for name in ("ours", "ref"):
        if args.only and args.only != name:
            continue
        try:
            if name == "ours":
                impls[name] = venvs.ours(args.ours_venv)
            else:
                impls[name] = venvs.reference(args.ref_venv, args.ref_version, args.python)
        except venvs.VenvError as error:
            log(f"{name}: unavailable: {error}")
            impls[name] = str(error)
    return impls


def run_pair(
    impl: venvs.Impl, workload: Workload, n: int, root: Path, timeout: float
) -> list[RunResult]:
    """First run on an empty cache, then the cached re-run, in one fresh directory."""
    workdir = root / f"{workload.name}-{n}"
    workdir.mkdir(parents=True)
    shutil.copy2(workload.path, workdir / workload.path.name)
    results = []
    for phase in ("first", "cached"):
        label = f"{impl.name:<4} {workload.name:<10} n={n:<7} {phase:<6}"
        if phase == "cached" and results[0].status not in (OK, WRONG):
            results.append(
                not_run(impl.name, workload.name, n, phase, SKIPPED, "first run did not succeed")
            )
            continue
        log(f"{label} running ...")
        result = run_workload(impl, workload, n, workdir, phase, timeout)
        timing = f"{result.seconds:.2f}s" if result.seconds is not None else ""
        log(
            f"{label} {timing} {result.status}"
            + (f" ({result.detail})" if result.status != OK else "")
        )
        results.append(result)
    return results


def warm_up(impl: venvs.Impl, workload: Workload, root: Path, timeout: float) -> None:
    """One small untimed run, so the timed ones start as a user's do after their first.

    The first run of a fresh install compiles the bytecode of every module it
    imports (0.1 s of ours, more of the reference's) and reads them from disk cold.
    """
    workdir = root / "warm-up"
    workdir.mkdir(parents=True)
    shutil.copy2(workload.path, workdir / workload.path.name)
    log(f"{impl.name:<4} warm-up: {workload.name} n=2, untimed (bytecode, file cache) ...")
    result = run_workload(impl, workload, 2, workdir, "warm-up", timeout)
    if result.status != OK:
        log(f"{impl.name:<4} warm-up did not succeed ({result.status}): {result.detail}")
    shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    impls = load_impls(args)
    roots = {
        name: Path(tempfile.mkdtemp(prefix=f"redun-bench-{name}-"))
        for name, impl in impls.items()
        if isinstance(impl, venvs.Impl)
    }
    results: list[RunResult] = []
    interrupted = False
    try:
        if not args.no_warm_up and args.selected:
            for name, impl in impls.items():
                if isinstance(impl, venvs.Impl):
                    warm_up(impl, args.selected[0], roots[name], args.timeout)
        for workload in args.selected:
            for n, (name, impl) in product(args.sizes[workload.name], impls.items()):
                if isinstance(impl, str):
                    results += [
                        not_run(name, workload.name, n, phase, UNAVAILABLE, impl)
                        for phase in ("first", "cached")
                    ]
                else:
                    results += run_pair(impl, workload, n, roots[name], args.timeout)
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: reporting what finished")
    finally:
        for name, root in roots.items():
            if args.keep:
                log(f"{name}: run directories kept under {root}")
            else:
                shutil.rmtree(root, ignore_errors=True)
    if not args.keep:
        for r in results:
            r.logs = ""

    print(report.table(results))
    print()
    print(report.LEGEND)
    notes = report.problems(results)
    if notes:
        print("\nRuns that did not succeed:")
        print(notes)
    if args.json:
        settings = {
            "sizes": args.sizes,
            "timeout": args.timeout,
            "ref_version": args.ref_version,
            "impls": {k: str(v.venv) if isinstance(v, venvs.Impl) else v for k, v in impls.items()},
            "interrupted": interrupted,
        }
        report.write_json(args.json, results, settings)
        log(f"results written to {args.json}")
    if interrupted:
        return 130
    return 1 if any(r.impl == "ours" and not r.ok for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
