"""Chain: an ``n``-deep chain of dependent calls built by a loop in ``main``.

Each ``inc`` waits for the previous one, so nothing can run in parallel and
the scheduler must resolve a nested expression ``n`` levels deep.  Result: n.
"""

from redun import task

redun_namespace = "bench.chain"


@task()
def inc(x: int) -> int:
    return x + 1


@task()
def main(n: int = 10) -> int:
    x = 0
    for _ in range(n):
        x = inc(x)
    return x
