"""Turn run results into the side-by-side table, the failure notes and JSON."""

from __future__ import annotations

import json
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

from .runner import SKIPPED, RunResult
from .workloads import WORKLOADS

IMPLS = ("ours", "ref")
PHASES = ("first", "cached")


def _index(results: list[RunResult]) -> dict[tuple[str, int, str, str], RunResult]:
    return {(r.workload, r.n, r.impl, r.phase): r for r in results}


def _cell(result: RunResult | None) -> str:
    if result is None:
        return "-"
    if result.ok and result.seconds is not None:
        return f"{result.seconds:.2f}s"
    return result.status


def _ratio(ref: RunResult | None, ours: RunResult | None) -> str:
    if ref is None or ours is None or not (ref.ok and ours.ok):
        return "-"
    if not ours.seconds:
        return "-"
    return f"{ref.seconds / ours.seconds:.1f}x"


def _per_task(result: RunResult | None, jobs: int) -> str:
    if result is None or not result.ok or result.seconds is None:
        return "-"
    micros = result.seconds / max(jobs, 1) * 1e6
    return f"{micros / 1000:.2f}ms" if micros >= 1000 else f"{micros:.0f}us"


def table(results: list[RunResult]) -> str:
    """One row per (workload, n); columns for each implementation that ran."""
    if not results:
        return "(no run finished)"
    index = _index(results)
    impls = [i for i in IMPLS if any(r.impl == i for r in results)]
    both = len(impls) == 2
    header = ["workload", "n", "jobs"]
    header += [f"{i} {p}" for i in impls for p in PHASES]
    header += [f"ratio {p}" for p in PHASES] if both else []
    header += [f"{i}/task" for i in impls]
    rows = [header]
    keys = list(dict.fromkeys((r.workload, r.n) for r in results))
    for name, n in keys:
        jobs = WORKLOADS[name].jobs(n)
        get = {(i, p): index.get((name, n, i, p)) for i in IMPLS for p in PHASES}
        row = [name, str(n), str(jobs)]
        row += [_cell(get[i, p]) for i in impls for p in PHASES]
        row += [_ratio(get["ref", p], get["ours", p]) for p in PHASES] if both else []
        row += [_per_task(get[i, "first"], jobs) for i in impls]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for number, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(cells))
        if number == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


LEGEND = (
    "Times: wall clock of one `redun run` process, start-up included; "
    "'cached' re-runs on the first run's cache.\n"
    "ratio = ref / ours (higher: ours is faster). "
    "<impl>/task = first-run time / jobs, start-up included."
)


def problems(results: list[RunResult]) -> str:
    """What went wrong in each run that did not succeed, with the stderr tail."""
    out = []
    for r in results:
        if r.ok or r.status == SKIPPED:
            continue
        out.append(
            f"* {r.impl} {r.workload} n={r.n} {r.phase}: {r.status}"
            + (f" ({r.detail})" if r.detail and r.detail != r.status else "")
        )
        if r.command:
            out.append(f"    command: {r.command}")
        if r.logs:
            out.append(f"    logs: {r.logs}")
        for line in r.stderr_tail:
            out.append(f"    | {line}")
    return "\n".join(out)


def write_json(path: Path, results: list[RunResult], settings: dict) -> None:
    payload = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "machine": platform.machine(),
        },
        "settings": settings,
        "runs": [{**asdict(r), "jobs": WORKLOADS[r.workload].jobs(r.n)} for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
