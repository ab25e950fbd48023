"""Fan-out: ``n`` independent trivial tasks, then one reducer over all results.

Written only against insitro/redun's public API so it runs on both
implementations.  Result: sum(i + 1 for i in range(n)) == n * (n + 1) // 2.
"""

from redun import task

redun_namespace = "bench.fanout"


@task()
def inc(x: int) -> int:
    return x + 1


@task()
def total(values: list[int]) -> int:
    return sum(values)


@task()
def main(n: int = 10) -> int:
    return total([inc(i) for i in range(n)])
