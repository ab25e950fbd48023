"""A fan-out on AWS Batch, a local step around it.

cp examples/batch/redun.ini .redun/redun.ini      # and edit it
redun run examples/batch/workflow.py main --n 100
"""

from redun import task

redun_namespace = "batch_example"


@task(executor="batch", vcpus=1, memory=2, timeout=600, retries=2)
def count_words(text: str) -> int:
    print(f"counting {len(text)} characters")
    return len(text.split())


@task
def total(counts: list) -> int:
    return sum(counts)


@task
def main(n: int = 10) -> int:
    # n calls of one task with the same options: one AWS Batch array job of n children
    texts = [f"sample {i} " * (i + 1) for i in range(n)]
    return total([count_words(text) for text in texts])
