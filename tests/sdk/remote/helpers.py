"""Shared bits of the subprocess-executor tests: a workflow, a config, waiting, processes."""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

FLOW = textwrap.dedent(
    """
    import os
    import time

    from redun import catch_all, script, task

    redun_namespace = "subflow"


    @task(executor="remote")
    def square(x: int) -> tuple:
        print(f"squaring {x}")
        return (x * x, os.getpid(), os.getcwd())


    @task(executor="remote")
    def fail(x: int) -> int:
        print(f"failing {x} soon")
        raise ValueError(f"cannot take {x}")


    @task(executor="remote")
    def kind_of(value: object) -> str:
        return type(value).__name__


    @task(executor="remote")
    def wait_for(flag: str, marker: str) -> str:
        with open(marker, "a") as out:
            out.write(f"{os.getpid()}\\n")
        while not os.path.exists(flag):
            time.sleep(0.02)
        return "released"


    @task(executor="remote")
    def sleeper(tag: str) -> str:
        return script(f"echo started {tag}; sleep 31.{tag}", executor="remote")


    @task
    def fan(n: int) -> list:
        return [square(i)[0] for i in range(n)]


    @task
    def two_groups(n: int) -> list:
        return [square(i)[0] for i in range(n)] + [square.options(memory=2)(i + 100)[0] for i in range(n)]


    @task
    def cancelled_as_none(results: list) -> list:
        return [None if isinstance(result, Exception) else result for result in results]


    @task
    def waiters_spared(flag: str, marker: str, n: int = 3) -> list:
        calls = [wait_for(flag, marker + str(i)) for i in range(n)]
        return catch_all(calls, Exception, cancelled_as_none)
    """
)


def remote_section(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "type": "subprocess",
        "scratch": str(tmp_path / "scratch"),
        "code_root": str(tmp_path / "code"),
        "max_concurrency": "2",
        "poll_interval": "0.2",
        **extra,
    }


def wait_until(predicate: Callable[[], object], timeout: float = 60.0, what: str = "") -> object:
    """Poll ``predicate`` until it is true (returns its value) or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)


def pid_in(marker: Path, timeout: float = 60.0) -> int:
    """The pid a task wrote to ``marker``, once its whole line is there (the file exists
    from the moment the task opens it, before the write lands)."""

    def written() -> str:
        text = marker.read_text() if marker.exists() else ""
        return text if text.endswith("\n") else ""

    return int(str(wait_until(written, timeout, what=f"a pid in {marker.name}")).split()[0])


def processes_with(text: str) -> list[int]:
    """Pids of live processes whose command line contains ``text`` (zombies excluded)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as infile:
                cmdline = infile.read().replace(b"\0", b" ").decode("utf-8", "replace")
            with open(f"/proc/{name}/stat") as infile:
                state = infile.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(name))
    return found


def launcher_pids(state_dir: Path) -> list[int]:
    pids = []
    for pid_file in state_dir.glob("redun-*/pid"):
        try:
            pids.append(int(pid_file.read_text()))
        except ValueError:
            continue
    return pids


MIXED = textwrap.dedent(
    """
    import os
    import time

    from redun import script, task

    redun_namespace = "mixflow"


    def note(name: str) -> None:
        with open(os.environ["MIX_LOG"], "a") as out:
            out.write(name + "\\n")


    @task(executor="remote")
    def remote_square(x: int) -> int:
        note("remote_square")
        print(f"squared {x}")
        return x * x


    @task(executor="remote")
    def remote_neg(x: int) -> int:
        note("remote_neg")
        return -x


    @task(executor="processes")
    def proc_add(a: int, b: int) -> int:
        note("proc_add")
        return a + b


    @task
    def thread_sum(xs: list) -> int:
        note("thread_sum")
        return sum(xs)


    @task
    def main(n: int = 3) -> int:
        return thread_sum([proc_add(remote_square(i), remote_neg(i)) for i in range(n)])


    @task(executor="remote")
    def remote_fail(x: int) -> int:
        print(f"about to fail on {x}")
        raise ValueError(f"remote failure {x}")


    @task(executor="remote")
    def wait_for(flag: str, i: int = 0) -> str:
        note("wait_for")
        while not os.path.exists(flag):
            time.sleep(0.02)
        return "released"


    @task
    def waiting(flag: str) -> str:
        return wait_for(flag)


    @task
    def waiting_many(flag: str, n: int = 3) -> list:
        return [wait_for(flag, i) for i in range(n)]


    @task
    def sleepers(tag: str, n: int = 2) -> list:
        return [
            script(f"echo started {tag} {i}; sleep 31.{tag}", executor="remote")
            for i in range(n)
        ]
    """
)

REDUN_INI = """\
[backend]
db_uri = sqlite:///${config_dir}/redun.db

[executors.processes]
type = processes
max_workers = 2

[executors.remote]
type = subprocess
scratch = ${config_dir}/scratch
max_concurrency = 2
poll_interval = 0.2
echo = {echo}
"""


def mixed_project(directory: Path, *, echo: bool = True) -> Path:
    """A project with the mixed workflow and a .redun/redun.ini; returns MIX_LOG's path."""
    (directory / "flow.py").write_text(MIXED)
    (directory / ".redun").mkdir(exist_ok=True)
    ini = REDUN_INI.replace("{echo}", "true" if echo else "false")
    (directory / ".redun" / "redun.ini").write_text(ini)
    return directory / "runs.log"


def ran(log: Path) -> list[str]:
    """What ran since the log was last cleared, sorted."""
    return sorted(log.read_text().split()) if log.exists() else []
