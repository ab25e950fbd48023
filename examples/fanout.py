"""A fan-out and a reduction: n independent jobs run in parallel, then one sums them.

    redun run fanout.py main --n 1000

Run it twice: the second run is answered from the cache.
"""

from redun import task

redun_namespace = "examples.fanout"


@task
def square(x: int) -> int:
    return x * x


@task
def total(values: list) -> int:
    return sum(values)


@task
def main(n: int = 100) -> int:
    return total([square(i) for i in range(n)])
