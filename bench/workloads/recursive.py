"""Recursive: a task that splits a range in two and recurses on each half.

``tree_sum(lo, hi)`` returns an expression built from two recursive calls, so
the job graph grows while it runs (a dynamic DAG, depth log2(n)).  For ``n``
leaves it runs about 4n jobs: 2n - 1 ``tree_sum``, n ``leaf`` and n - 1
``add``.  Result: sum(i + 1 for i in range(n)) == n * (n + 1) // 2.
"""

from redun import task

redun_namespace = "bench.recursive"


@task()
def leaf(i: int) -> int:
    return i + 1


@task()
def add(a: int, b: int) -> int:
    return a + b


@task()
def tree_sum(lo: int, hi: int) -> int:
    if hi - lo == 1:
        return leaf(lo)
    mid = (lo + hi) // 2
    return add(tree_sum(lo, mid), tree_sum(mid, hi))


@task()
def main(n: int = 10) -> int:
    return tree_sum(0, n)
