"""The benchmark workloads: one workflow file each under ``bench/workloads/``.

The workflow files use only insitro/redun's public API, so the very same file
runs on both implementations. Each defines a task ``main(n: int)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

WORKLOAD_DIR = Path(__file__).resolve().parent.parent / "workloads"


@dataclass(frozen=True)
class Workload:
    name: str
    default_sizes: tuple[int, ...]
    jobs: Callable[[int], int]  # number of task calls for a given n
    expected: Callable[[int], int]  # the result ``main(n)`` must return
    summary: str

    @property
    def path(self) -> Path:
        return WORKLOAD_DIR / f"{self.name}.py"


def _triangle(n: int) -> int:
    return n * (n + 1) // 2


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in [
        Workload(
            "fanout",
            (10_000,),
            jobs=lambda n: n + 2,
            expected=_triangle,
            summary="n independent inc() calls, then one total() over them",
        ),
        Workload(
            "chain",
            # 100 is within the reference's recursion limit, so that row compares.
            (100, 10_000),
            jobs=lambda n: n + 1,
            expected=lambda n: n,
            summary="x = inc(x) n times in main(): an n-deep dependent chain",
        ),
        Workload(
            "recursive",
            (1_000,),
            jobs=lambda n: 4 * n - 1,
            expected=_triangle,
            summary="tree_sum(lo, hi) recursing on both halves; n leaves, ~4n jobs",
        ),
        Workload(
            "map",
            (2_000,),
            # main, total, the map_ helper jobs and one double() per element;
            # the helper count is an implementation detail, so count the
            # user-visible calls only.
            jobs=lambda n: n + 2,
            expected=lambda n: n * (n - 1),
            summary="redun.functools.map_(double, range(n)), then total()",
        ),
    ]
}

DEFAULT_WORKLOADS = ("fanout", "chain", "recursive", "map")
