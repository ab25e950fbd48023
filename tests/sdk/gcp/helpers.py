"""Shared bits of the GCP Batch tests: a workflow, a project, the emulators' environment."""

from __future__ import annotations

import textwrap
from pathlib import Path

BUCKET = "redun-batch"
SCRATCH = f"gs://{BUCKET}/scratch"

FLOW = textwrap.dedent(
    """
    import os
    import sys
    import time

    from redun import script, task

    redun_namespace = "gflow"


    def note(name: str) -> None:
        path = os.environ.get("MIX_LOG")
        if path:
            with open(path, "a") as out:
                out.write(name + "\\n")


    @task(executor="gcp", vcpus=2, memory=1.5, timeout=600, retries=3)
    def square(x: int) -> tuple:
        note("square")
        print(f"squaring {x}")
        return (x * x, os.getpid(), int(os.environ["BATCH_TASK_INDEX"]))


    @task(executor="gcp")
    def fail(x: int) -> int:
        print(f"failing {x} soon")
        raise ValueError(f"cannot take {x}")


    @task(executor="gcp")
    def wait_for(flag: str, marker: str) -> str:
        note("wait_for")
        with open(marker, "a") as out:
            out.write(f"{os.getpid()}\\n")
        while not os.path.exists(flag):
            time.sleep(0.02)
        return "released"


    @task(executor="gcp")
    def sleeper(tag: str, i: int = 0) -> str:
        return script(f"echo started {tag} {i}; sleep 31.{tag}", executor="gcp")


    @task
    def sleepers(tag: str, n: int = 2) -> list:
        return [sleeper(tag, i) for i in range(n)]


    @task(executor="gcp")
    def chatty(flag: str) -> str:
        print("first line", flush=True)
        print("a warning", file=sys.stderr, flush=True)
        while not os.path.exists(flag):
            time.sleep(0.02)
        print("last line", flush=True)
        return "said"


    @task(executor="gcp")
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
    """
)


def gcp_section(endpoint: str, code_root: Path | str, **extra: str) -> dict[str, str]:
    return {
        "type": "gcp_batch",
        "project": "test-project",
        "region": "us-central1",
        "image": "us-docker.pkg.dev/test-project/redun/worker:1",
        "gcs_scratch": SCRATCH,
        "endpoint": endpoint,
        "code_root": str(code_root),
        "poll_interval": "0.2",
        **extra,
    }


REDUN_INI = """\
[backend]
db_uri = sqlite:///${{config_dir}}/redun.db

[executors.processes]
type = processes
max_workers = 2

[executors.gcp]
type = gcp_batch
project = test-project
region = us-central1
image = us-docker.pkg.dev/test-project/redun/worker:1
gcs_scratch = {scratch}
endpoint = {endpoint}
poll_interval = 0.2
echo = false
"""


def gcp_project(directory: Path, endpoint: str) -> Path:
    """A project with the workflow as flow.py and a .redun/redun.ini; returns MIX_LOG's path."""
    (directory / "flow.py").write_text(FLOW)
    (directory / ".redun").mkdir(exist_ok=True)
    (directory / ".redun" / "redun.ini").write_text(
        REDUN_INI.format(scratch=SCRATCH, endpoint=endpoint)
    )
    return directory / "runs.log"


def assert_deleted_but_finished(fake) -> None:
    """Every Batch job of a cancelled run was deleted (and is gone), but those that had ended."""
    from tests.sdk.remote.helpers import wait_until

    assert fake.deleted, "no job was deleted"
    wait_until(
        lambda: not any(job.job_id in fake.deleted for job in list(fake.jobs.values())),
        what="deleted jobs to go",
    )
    for job_id in fake.created:
        if job_id not in fake.deleted:
            assert fake.job(job_id).state.name == "SUCCEEDED", job_id
