"""Map: ``redun.functools.map_`` of a trivial task over ``range(n)``, then a sum.

Exercises the higher-order helpers: a task passed as a value to another task.
Result: sum(i * 2 for i in range(n)) == n * (n - 1).
"""

from redun import task
from redun.functools import map_

redun_namespace = "bench.map"


@task()
def double(x: int) -> int:
    return 2 * x


@task()
def total(values: list[int]) -> int:
    return sum(values)


@task()
def main(n: int = 10) -> int:
    return total(map_(double, list(range(n))))
