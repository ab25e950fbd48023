"""Recursion and control flow: tasks that return expressions build the DAG as it runs.

redun run recursive.py fib --n 20
redun run recursive.py collatz --n 27
"""

from redun import cond, task

redun_namespace = "examples.recursive"


@task
def add(a: int, b: int) -> int:
    return a + b


@task
def fib(n: int) -> int:
    # Each distinct call runs once per execution: fib(18) is shared by fib(19) and fib(20).
    if n < 2:
        return n
    return add(fib(n - 1), fib(n - 2))


@task
def is_even(n: int) -> bool:
    return n % 2 == 0


@task
def half(n: int) -> int:
    return n // 2


@task
def triple_plus_one(n: int) -> int:
    return 3 * n + 1


@task
def collatz(n: int, steps: int = 0) -> int:
    """Steps for n to reach 1; cond() evaluates only the branch it takes."""
    if n == 1:
        return steps
    return collatz(cond(is_even(n), half(n), triple_plus_one(n)), steps + 1)
