"""Shared bits of the AWS Batch tests: a workflow, an executor section, a project."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.moto_batch import QUEUE

BUCKET = "redun-aws-batch"
SCRATCH = f"s3://{BUCKET}/scratch"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/redun-worker:1"

FLOW = textwrap.dedent(
    """
    import os
    import sys
    import time

    from redun import catch_all, script, task

    redun_namespace = "aflow"


    def note(name: str) -> None:
        path = os.environ.get("MIX_LOG")
        if path:
            with open(path, "a") as out:
                out.write(name + "\\n")


    @task(executor="batch", vcpus=2, memory=1.5, gpus=0, timeout=600, retries=2)
    def square(x: int) -> tuple:
        note("square")
        print(f"squaring {x}")
        return (x * x, os.getpid(), os.environ.get("AWS_BATCH_JOB_ARRAY_INDEX"))


    @task(executor="batch")
    def fail(x: int) -> int:
        print(f"failing {x} soon")
        raise ValueError(f"cannot take {x}")


    @task(executor="batch")
    def wait_for(flag: str, marker: str) -> str:
        note("wait_for")
        with open(marker, "a") as out:
            out.write(f"{os.getpid()}\\n")
        print("waiting for the flag", flush=True)
        while not os.path.exists(flag):
            time.sleep(0.02)
        return "released"


    @task(executor="batch")
    def sleeper(tag: str, i: int = 0) -> str:
        return script(f"echo started {tag} {i}; sleep 31.{tag}", executor="batch")


    @task
    def sleepers(tag: str, n: int = 2) -> list:
        return [sleeper(tag, i) for i in range(n)]


    @task(executor="batch")
    def neg(x: int) -> int:
        note("neg")
        return -x


    @task(executor="processes")
    def add(a: int, b: int) -> int:
        note("add")
        return a + b


    @task
    def total(xs: list) -> int:
        note("total")
        return sum(xs)


    @task
    def mixed(n: int = 3) -> int:
        return total([add(square(i)[0], neg(i)) for i in range(n)])


    @task
    def fan(n: int) -> list:
        return [square(i)[0] for i in range(n)]


    @task
    def waiters(flag: str, marker: str, n: int = 3) -> list:
        return [wait_for.options(memory=1)(flag, marker + str(i)) for i in range(n)]


    @task
    def cancelled_as_none(results: list) -> list:
        return [None if isinstance(result, Exception) else result for result in results]


    @task
    def waiters_spared(flag: str, marker: str, n: int = 3) -> list:
        calls = [wait_for.options(memory=1)(flag, marker + str(i)) for i in range(n)]
        return catch_all(calls, Exception, cancelled_as_none)
    """
)


def aws_section(code_root: Path | str, **extra: str) -> dict[str, str]:
    return {
        "type": "aws_batch",
        "queue": QUEUE,
        "image": IMAGE,
        "s3_scratch": SCRATCH,
        "region": "us-east-1",
        "role": "arn:aws:iam::123456789012:role/redun-job",
        "code_root": str(code_root),
        "poll_interval": "0.2",
        "log_interval": "0",
        **extra,
    }


REDUN_INI = """\
[backend]
db_uri = sqlite:///${{config_dir}}/redun.db

[executors.processes]
type = processes
max_workers = 2

[executors.batch]
type = aws_batch
queue = {queue}
image = {image}
s3_scratch = {scratch}
region = us-east-1
poll_interval = 0.2
log_interval = 0
echo = false
"""


def aws_project(directory: Path) -> Path:
    """A project with the workflow as flow.py and a .redun/redun.ini; returns MIX_LOG's path."""
    (directory / "flow.py").write_text(FLOW)
    (directory / ".redun").mkdir(exist_ok=True)
    (directory / ".redun" / "redun.ini").write_text(
        REDUN_INI.format(queue=QUEUE, image=IMAGE, scratch=SCRATCH)
    )
    return directory / "runs.log"
